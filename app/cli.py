"""``python -m app COMMAND``: the command line, and its output layer.

Each command is a small function that reads settings, calls the same domain code as
the HTTP API, and prints its result. Errors become a one-line reason and a non-zero
exit code in exactly one place, ``main``.

The state directory, per command: ``serve``, ``sync`` and ``demo`` hold it for their
whole run (``StateDir.hold``), since two services would both write the database and two
catch-ups would fight over the cursor. The short commands only check it: they are meant
to run beside a service (a backup with ``export-posted``, a ``select`` by hand), each is
a few transactions, and SQLite orders those with the service's own; if the database
stays locked past the store's wait, they stop with one line and change nothing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from app.dropbox.client import DropboxClient
from app.errors import ConfigError, InvalidInput, UnpostedError
from app.log import setup_logging
from app.main import create_app
from app.metrics import Metrics
from app.services.legacy_import import LegacyImport
from app.services.selection import SelectionService, SelectOptions, export_json
from app.settings import Settings, load_settings
from app.state_dir import StateDir, StateDirError
from app.sync.catch_up import CatchUp, CatchUpSummary
from app.threaded_server import listen, serve_in_foreground
from state.sqlite import SqliteStore

Command = Callable[[argparse.Namespace], int]
_STARTUP_FAILURE = 3  # uvicorn's exit code when the app's startup fails
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        _COMMANDS[name] = function
        return function

    return register


def _settings() -> Settings:
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    return settings


@command("serve")
def serve(args: argparse.Namespace) -> int:
    settings = _settings()
    settings.check_serve()
    with StateDir(settings.state_dir).hold("serve"):
        SqliteStore(settings.database_path).close()  # refuse a torn or newer database up front
        listener = listen(args.host, args.port)  # a port in use: one line, nothing started
        started = serve_in_foreground(create_app(settings), listener)
    return 0 if started else _STARTUP_FAILURE


@command("sync")
def sync(args: argparse.Namespace) -> int:
    settings = _settings()
    settings.check_dropbox_credentials()
    with StateDir(settings.state_dir).hold("sync"):
        store = SqliteStore(settings.database_path)
        dropbox = DropboxClient(settings)
        try:
            summary = CatchUp(settings, store, dropbox).run(progress=_ProgressLine())
        finally:
            dropbox.close()
            store.close()
    print(f"caught up: {summary.line()}")
    return 0


class _ProgressLine:
    """Prints how a long catch-up is going, at most every two seconds."""

    def __init__(self, every: float = 2.0) -> None:
        self._every, self._next = every, time.monotonic() + every

    def __call__(self, summary: CatchUpSummary) -> None:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self._every
            print(f"catching up: {summary.line()}", file=sys.stderr, flush=True)


@command("status")
def status(args: argparse.Namespace) -> int:
    settings = _settings()
    StateDir(settings.state_dir).check()
    store = SqliteStore(settings.database_path)
    try:
        counts, state = store.status(), store.sync_state()
    finally:
        store.close()
    report = asdict(counts) | {"ready": state.ready_at is not None, "listing": state.listing}
    print(json.dumps(report, indent=2))
    return 0


@command("demo")
def demo(args: argparse.Namespace) -> int:
    try:
        from app.demo import run_demo  # needs Pillow, the `demo` extra; nothing else does
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the demo needs {exc.name}: pip install -e '.[demo]'") from exc
    return run_demo(args.data, args.port, args.log_format)


@command("select")
def select(args: argparse.Namespace) -> int:
    settings = _settings()
    StateDir(settings.state_dir).check()
    store = SqliteStore(settings.database_path)
    try:
        service = SelectionService(settings, store, Metrics())
        offer = service.select(SelectOptions(dry_run=args.dry_run, name=args.name))
    finally:
        store.close()
    print(json.dumps(offer.as_json(), indent=2))
    return 0


@command("import-legacy")
def import_legacy(args: argparse.Namespace) -> int:
    settings = _settings()
    StateDir(settings.state_dir).check()
    raw = _read(args.file)
    store = SqliteStore(settings.database_path)
    dropbox = _dropbox_if_configured(settings)
    try:
        report = LegacyImport(store, Metrics(), dropbox).run(raw)
    finally:
        if dropbox is not None:
            dropbox.close()
        store.close()
    print(json.dumps(report.as_json()))
    return 0


@command("export-posted")
def export_posted(args: argparse.Namespace) -> int:
    settings = _settings()
    StateDir(settings.state_dir).check()
    store = SqliteStore(settings.database_path)
    try:
        document = export_json(store.export_posted())
    finally:
        store.close()
    _write_json(document, args.file)
    return 0


@command("reset-posted")
def reset_posted(args: argparse.Namespace) -> int:
    if not args.yes:
        raise InvalidInput("reset-posted forgets every posted image; add --yes to confirm")
    settings = _settings()
    StateDir(settings.state_dir).check()
    store = SqliteStore(settings.database_path)
    try:
        cleared = SelectionService(settings, store, Metrics()).reset_posted()
    finally:
        store.close()
    print(json.dumps(export_json(cleared), indent=2))
    return 0


def _dropbox_if_configured(settings: Settings) -> DropboxClient | None:
    """A Dropbox client when credentials are set; an import needs one only for big images."""
    try:
        settings.check_dropbox_credentials()
    except ConfigError:
        return None
    return DropboxClient(settings)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc


def _write_json(document: object, path: Path | None) -> None:
    """To ``path`` through a temporary file and a rename (never half written), or stdout."""
    text = json.dumps(document, indent=2) + "\n"
    if path is None:
        print(text, end="")
        return
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"posted state written to {path}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="unposted: a never-posted image from a Dropbox folder, in O(1).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("serve", help="run the HTTP service")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    commands.add_parser("sync", help="catch up with Dropbox once, then exit")
    commands.add_parser("status", help="print the catalog's counts")
    demo = commands.add_parser("demo", help="the emulator over sample images, and the service")
    demo.add_argument("--port", type=int, default=8000, help="service port (0 picks a free one)")
    demo.add_argument("--data", type=Path, default=Path("demo-data"), help="samples and state")
    demo.add_argument("--log-format", choices=("console", "json"), default="console")
    pick = commands.add_parser("select", help="select a never-posted image and lease it")
    pick.add_argument("--dry-run", action="store_true", help="preview: change nothing")
    pick.add_argument("--name", help="select this file (a name, or a path under the folder)")
    legacy = commands.add_parser("import-legacy", help="import a legacy posted.json")
    legacy.add_argument("file", type=Path, metavar="FILE")
    export = commands.add_parser("export-posted", help="write the posted state as posted.json")
    export.add_argument("file", type=Path, nargs="?", metavar="FILE", help="default: stdout")
    reset = commands.add_parser("reset-posted", help="forget every posted image")
    reset.add_argument("--yes", action="store_true", help="confirm: the state is cleared")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"unposted: configuration: {exc}", file=sys.stderr)
        return 2
    except StateDirError as exc:
        print(f"unposted: {exc}", file=sys.stderr)
        return 2
    except UnpostedError as exc:
        print(f"unposted: {exc}", file=sys.stderr)
        return 1
    except sqlite3.OperationalError as exc:
        print(f"unposted: {_database_problem(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"unposted: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _database_problem(exc: sqlite3.OperationalError) -> str:
    if (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        # Another process (a catch-up, an import) kept its write transaction open for
        # longer than the store waits; nothing of this command was written.
        return "the database is busy: another process held it locked too long; try again"
    return f"the database cannot be used: {exc}"


if __name__ == "__main__":
    sys.exit(main())
