"""``setup_logging()``: JSON lines by default, readable console lines when asked.

Called from entry points only (the CLI). Modules log with
``logging.getLogger(__name__)`` and %-style arguments; structured fields travel in
``extra={"event": ..., ...}`` and become JSON keys.

Records are formatted and written by a thread of their own (a ``QueueListener``): the
event loop only hands each record over, so a publisher's request never waits for a JSON
encoder or for stderr. ``flush_logging()`` waits until every record handed over is out.

JSON lines are for machines: uvicorn's ``color_message`` (a copy of its message with
ANSI colour codes, meant for its own console formatter) is left out, and any escape
sequence that reaches a value is removed.
"""

from __future__ import annotations

import atexit
import logging
import queue
import re
import sys
from logging.handlers import QueueHandler, QueueListener
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

_CONSOLE = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_listener: QueueListener | None = None
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _HandOver(QueueHandler):
    """Queues the record as it is: formatting happens in the listener's thread.

    ``QueueHandler.prepare`` would format the message here, on the caller's thread; the
    records carry plain values (strings, numbers), so passing them on unformatted is safe.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info and not record.exc_text:
            # A traceback refers to live frames: render it now, while they exist.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        return record


def setup_logging(level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None) -> None:
    """Log at ``level`` in ``fmt`` to ``stream`` (default: stderr)."""
    global _listener
    if _listener is not None:
        _listener.stop()
    output = logging.StreamHandler(stream or sys.stderr)
    output.setFormatter(_formatter(fmt))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(records, output, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_HandOver(records)]
    root.setLevel(level)
    # uvicorn's own handlers would print a second, unstructured copy of each line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("dropbox").setLevel(logging.WARNING)


def flush_logging() -> None:
    """Write out every record handed over so far (the listener stops, then starts again)."""
    if _listener is not None:
        _listener.stop()
        _listener.start()


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return _PlainJson(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )
    return logging.Formatter(_CONSOLE)


class _PlainJson(JsonFormatter):
    """JSON lines without terminal colour codes in any text value."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: _ANSI.sub("", value) if isinstance(value, str) else value
            for key, value in log_data.items()
        }


@atexit.register
def _stop() -> None:
    if _listener is not None:
        _listener.stop()
