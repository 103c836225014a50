"""``python -m app COMMAND``: the command line, and its output layer.

Each command is a small function that reads settings, calls the same domain code as
the HTTP API, and prints its result. Errors become a one-line reason and a non-zero
exit code in exactly one place, ``main``.

The state directory, per command: ``serve``, ``sync`` and ``demo`` hold it for their
whole run (``StateDir.hold``), since two services would both write the database and two
catch-ups would fight over the cursor; so does ``migrate-store``, which reads it whole.
With ``DATABASE_URL`` nothing is held: replicas share the database, and take turns at
each library's catch-up in it. The short commands only check it: they are meant
to run beside a service (a backup with ``export-posted``, a ``select`` by hand), each is
a few transactions, and SQLite orders those with the service's own; if the database
stays locked past the store's wait, they stop with one line and change nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path

from app import cli_publishing
from app.cli_state import LocalState, command_settings
from app.errors import ConfigError, InvalidInput, UnpostedError
from app.lanes import Lanes
from app.main import create_app
from app.metrics import Metrics
from app.services.posted_state import LegacyImport, export_json, reset_posted
from app.services.selection import SelectionService, SelectOptions
from app.settings import Settings
from app.state_dir import StateDir, StateDirError
from app.sync.catch_up import CatchUp, CatchUpSummary
from app.threaded_server import listen, serve_in_foreground
from state import open_store
from state.changes import FileKinds

Command = Callable[[argparse.Namespace], int]
_STARTUP_FAILURE = 3  # uvicorn's exit code when the app's startup fails
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        _COMMANDS[name] = function
        return function

    return register


@command("serve")
def serve(args: argparse.Namespace) -> int:
    settings = command_settings()
    settings.check_serve()
    with _held(settings, "serve"):
        app = create_app(settings)  # reads the configuration: a bad one stops us here
        # Refuse a torn or newer database, or one out of reach, before binding.
        open_store(settings.state_dir, settings.database).close()
        listener = listen(args.host, args.port)  # a port in use: one line, nothing started
        started = serve_in_foreground(app, listener)
    return 0 if started else _STARTUP_FAILURE


def _held(settings: Settings, command: str) -> AbstractContextManager[object]:
    """The state directory held for ``command``: SQLite's file is one process's. Replicas
    of one PostgreSQL database share nothing on disk, so nothing is held for them."""
    if settings.database is not None:
        return nullcontext()
    return StateDir(settings.state_dir).hold(command)


@command("sync")
def sync(args: argparse.Namespace) -> int:
    with LocalState(hold="sync") as local:
        kinds = FileKinds.of(local.settings.image_extensions, local.settings.sidecar_extensions)
        for name, library in local.config.libraries.items():
            with local.store.catch_up_turn(name) as mine:  # replicas may be running
                if not mine:
                    print(f"{name}: another process is catching it up now; left to it")
                    continue
                catch_up = CatchUp(library.spec, kinds, local.store, local.dropbox(name))
                summary = catch_up.run(progress=_ProgressLine())
            print(f"{name}: caught up: {summary.line()}")
            if line := local.fingerprint(name):
                print(f"{name}: {line}")
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
    with LocalState() as local:
        report = {
            "libraries": {name: asdict(local.store.library_status(name))
                          for name in local.config.libraries},
            "channels": {name: asdict(local.store.channel_status(name))
                         for name in local.config.channels},
        }  # fmt: skip
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
    with LocalState() as local:
        channel = local.channel(args.channel)
        lanes = Lanes()
        try:
            service = SelectionService(
                local.config, local.store, lanes, Metrics(), local.dropbox,
                archive_folder=local.settings.archive_folder,
            )  # fmt: skip
            options = SelectOptions(args.dry_run, args.name, args.link, args.lease_seconds)
            offer = asyncio.run(service.select(channel, options))
        finally:
            lanes.close()
    print(json.dumps(offer.as_json(), indent=2))
    return 0


@command("import-legacy")
def import_legacy(args: argparse.Namespace) -> int:
    raw = _read(args.file)
    with LocalState() as local:
        channel = local.channel(args.channel)
        legacy = LegacyImport(local.config, local.store, Metrics(), local.dropbox_if_configured)
        report = legacy.run(channel, raw)
    print(json.dumps(report.as_json()))
    return 0


@command("export-posted")
def export_posted(args: argparse.Namespace) -> int:
    with LocalState() as local:
        document = export_json(local.store.export_posted(local.channel(args.channel)))
    _write_json(document, args.file)
    return 0


@command("reset-posted")
def reset_posted_command(args: argparse.Namespace) -> int:
    if not args.yes:
        raise InvalidInput("reset-posted forgets every posted image; add --yes to confirm")
    with LocalState() as local:
        cleared = reset_posted(local.store, local.channel(args.channel))
    print(json.dumps(export_json(cleared), indent=2))
    return 0


@command("migrate-store")
def migrate_store(args: argparse.Namespace) -> int:
    from state.postgres.connection import where
    from state.postgres.from_sqlite import copy_from_sqlite

    settings = command_settings()
    with StateDir(settings.state_dir).hold("migrate-store"):  # no service writes it meanwhile
        moved = copy_from_sqlite(settings.database_path, args.to)
    print(json.dumps(moved.as_json()))
    print(
        f"state copied from {settings.database_path} to {where(args.to)}; set DATABASE_URL"
        " and start the service: the catalog is rebuilt by listing each folder",
        file=sys.stderr,
    )
    return 0


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
    pick.add_argument("--link", action="store_true", help="add a Dropbox temporary link")
    pick.add_argument("--lease-seconds", type=_positive, help="hold it this long")
    legacy = commands.add_parser("import-legacy", help="import a legacy posted.json")
    legacy.add_argument("file", type=Path, metavar="FILE")
    export = commands.add_parser("export-posted", help="write the posted state as posted.json")
    export.add_argument("file", type=Path, nargs="?", metavar="FILE", help="default: stdout")
    move = commands.add_parser(
        "migrate-store", help="copy the SQLite state in STATE_DIR into PostgreSQL"
    )
    move.add_argument("--to", required=True, type=_database_url, metavar="postgresql://...")
    reset = commands.add_parser("reset-posted", help="forget every posted image")
    reset.add_argument("--yes", action="store_true", help="confirm: the state is cleared")
    for each in (pick, legacy, export, reset):
        each.add_argument("--channel", help="the channel (default: the default or only one)")
    cli_publishing.add_parsers(commands)
    return parser


def _database_url(text: str) -> str:
    if not text.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError("must be a postgresql:// URL")
    return text


def _on_local_state(name: str, run: cli_publishing.Run) -> Command:
    """``resync`` holds the state directory, as ``sync`` does; the others only check it."""
    hold = name if name in cli_publishing.HOLDING else None

    def with_state(args: argparse.Namespace) -> int:
        with LocalState(hold=hold) as local:
            return run(args, local)

    return with_state


for _name, _run in cli_publishing.COMMANDS.items():
    _COMMANDS[_name] = _on_local_state(_name, _run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


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
