"""What the commands print: for people on a terminal, stable JSON for scripts.

``--json`` prints the API's reply (the same shape locally and over HTTP) as JSON on
stdout. Without it, a command prints for people when stdout is a terminal (aligned
key-value lines, tables, ``status`` as a summary), and JSON when piped, as before;
``images`` and ``history`` print tables unless ``--json``. Notices and progress go to
stderr, so stdout holds only the result. A ``Progress`` bar appears on a terminal's
stderr once a sync or re-list has run for a second; elsewhere a line every two seconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

Render = Callable[[Any], list[str]]
HASH_SHOWN = 16
"""Hex digits of a content hash in tables: a prefix ``hold`` and ``posted`` accept."""


class Output:
    def __init__(self, as_json: bool, stdout: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.as_json = as_json
        self.for_people = not as_json and self.stdout.isatty()

    def result(self, document: Any, render: Render | None = None) -> None:
        """The command's result: ``render``'s lines for people, else JSON."""
        if self.for_people and render is not None:
            self.lines(render(document))
        else:
            self.lines([json.dumps(document, indent=2)])

    def table(self, document: Any, render: Render) -> None:
        """A table unless ``--json``, whatever stdout is."""
        if self.as_json:
            self.lines([json.dumps(document, indent=2)])
        else:
            self.lines(render(document))

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            print(line, file=self.stdout)

    @staticmethod
    def notice(text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def pairs(document: Mapping[str, Any]) -> list[str]:
    """``key: value`` lines, aligned; nested values on one line each."""
    width = max((len(key) for key in document), default=0)
    return [f"{key.replace('_', ' ') + ':':<{width + 2}}{_cell(value)}"
            for key, value in document.items()]  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_cell(each)}" for key, each in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(_cell(each) for each in value) or "-"
    return str(value)


def short(content_hash: str) -> str:
    return content_hash[:HASH_SHOWN]


class Progress:
    """How a sync or a re-list is going, on stderr: ``update(entries, pages, expected)``,
    or the instance itself as a catch-up's ``progress`` callback.

    On a terminal, a bar redrawn in place once the work has run ``after`` seconds (a
    bar of ``expected`` entries when known, a moving block otherwise); elsewhere a line
    every ``every`` seconds. ``done()`` clears the bar.
    """

    WIDTH = 30

    def __init__(
        self, label: str, expected: int | None = None, after: float = 1.0, every: float = 2.0
    ) -> None:
        self._label, self._tty, self._expected = label, sys.stderr.isatty(), expected
        self._started = time.monotonic()
        self._next = self._started + (after if self._tty else every)
        self._every = 0.1 if self._tty else every
        self._drawn = False

    def __call__(self, summary: Any) -> None:
        """A catch-up's progress callback: its summary so far (entries, pages)."""
        self.update(summary.entries, summary.pages)

    def update(self, entries: int, pages: int, expected: int | None = None) -> None:
        expected = expected or self._expected
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every
        counts = f"{entries:,} entries, {pages:,} pages, {now - self._started:.0f} s"
        if not self._tty:
            Output.notice(f"{self._label}: {counts}")
            return
        sys.stderr.write(f"\r{self._label} [{self._bar(entries, expected, now)}] {counts}\x1b[K")
        sys.stderr.flush()
        self._drawn = True

    def _bar(self, entries: int, expected: int | None, now: float) -> str:
        if expected:
            filled = min(self.WIDTH - 1, self.WIDTH * entries // expected)
            return "#" * filled + "." * (self.WIDTH - filled)
        at = int((now - self._started) * 8) % self.WIDTH
        return "." * at + "###"[: self.WIDTH - at] + "." * max(0, self.WIDTH - at - 3)

    def done(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
