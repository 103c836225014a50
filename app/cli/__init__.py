"""``python -m app COMMAND``: the command line.

``app.cli.service`` runs the service (``serve``, ``sync``, ``demo``, ``migrate-store``);
``app.cli.channel`` has the commands a running service can answer, written once over
``app.cli.asking.Operations``. Each command imports what it uses when it runs: one
that goes over HTTP never imports the service, one that acts here never imports the HTTP
client, and only those that call Dropbox import its SDK. Errors become a one-line
reason on stderr and a non-zero exit code in exactly one place, ``main`` (the service's
errors by their row in ``app.errors.ANSWERS``). Log lines go to stderr, at WARNING and
above unless ``-v`` (INFO) or ``-vv`` (DEBUG); stdout holds only results.

Where a channel command (and ``deliveries``, ``replay-delivery``) acts: with
``UNPOSTED_URL`` and ``UNPOSTED_TOKEN`` set (or ``--url`` and ``--token``), over HTTP on
the service there (``app.cli.remote``, ``app.cli.deliveries``), never
touching a state directory, its lock or a configuration here; without them, on the
state directory here, as the service would.

The state directory, per command: ``serve``, ``sync`` and ``demo`` hold it for their
whole run (``StateDir.hold``), since two services would both write the database and two
catch-ups would fight over the cursor; so do ``migrate-store``, which reads it whole, and
a local ``resync``. With ``DATABASE_URL`` nothing is held: replicas share the database,
and take turns at each library's catch-up in it. The other local commands only check
it: they are meant to run beside a service (a backup with ``export-posted``, a
``select`` by hand), each is a few transactions, and SQLite orders those with the
service's own; if the database stays locked past the store's wait, they stop with one
line and change nothing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from app.cli import channel, deliveries, service_args
from app.cli.output import Output
from app.errors import ConfigError, UnpostedError, answer
from app.log import setup_logging

if TYPE_CHECKING:
    from app.cli.asking import Operations

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
_LEVELS = ("WARNING", "INFO", "DEBUG")


def _run_channel_command(name: str) -> Callable[[argparse.Namespace], int]:
    command = channel.COMMANDS[name]

    def run(args: argparse.Namespace) -> int:
        out = Output(args.json)
        with ExitStack() as stack:
            ops: Operations
            remote = _remote(args)
            if remote is not None:
                from app.cli.remote import RemoteOperations  # the HTTP client: only for these

                ops = RemoteOperations(*remote, channel=args.channel)
                stack.callback(ops.close)
            else:
                # The store and the services: imported only by the commands that use them,
                # the services once the state directory has been found usable.
                from app.cli.local import LocalState

                hold = name if name in channel.HOLDING else None
                local = stack.enter_context(LocalState(hold=hold, log_level=args.log_level))
                from app.cli.operations import LocalOperations

                ops = LocalOperations(local, args.channel)
            return command(args, ops, out)

    return run


def _remote(args: argparse.Namespace) -> tuple[str, str] | None:
    """The service's URL and token, when the command is to go over HTTP."""
    url = args.url or os.environ.get("UNPOSTED_URL") or None
    token = args.token or os.environ.get("UNPOSTED_TOKEN") or None
    if url is None and token is None:
        return None
    if url is None or token is None:
        missing = "UNPOSTED_URL (--url)" if url is None else "UNPOSTED_TOKEN (--token)"
        raise ConfigError(f"{missing} is not set: a service elsewhere needs both")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("UNPOSTED_URL must start with http:// or https://")
    setup_logging(args.log_level, "console")
    return url, token


def _run_service_command(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from app.cli.service import COMMANDS  # the whole service, for its own commands only

        return COMMANDS[name](args)

    return run


_COMMANDS.update({name: _run_service_command(name) for name in service_args.COMMANDS})


def _run_delivery_command(name: str) -> Callable[[argparse.Namespace], int]:
    command = deliveries.COMMANDS[name]

    def run(args: argparse.Namespace) -> int:
        return command(args, _remote(args))

    return run


_COMMANDS.update({name: _run_delivery_command(name) for name in deliveries.COMMANDS})
_COMMANDS.update({name: _run_channel_command(name) for name in channel.COMMANDS})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="unposted: a never-posted image from a Dropbox folder, in O(1).",
        epilog="Channel commands go over HTTP to UNPOSTED_URL with UNPOSTED_TOKEN when both"
        " are set; otherwise they act on the state directory here.",
    )
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", help="the service's URL (default: UNPOSTED_URL)")
    remote.add_argument("--token", help="its API token (default: UNPOSTED_TOKEN, safer)")
    remote.add_argument("--json", action="store_true", help="JSON on stdout, for scripts")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=0,
                         help="log INFO (-vv: DEBUG) to stderr; default WARNING")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    service_args.add_parsers(commands, [remote, verbose])
    channel.add_parsers(commands, [remote, verbose])
    deliveries.add_parsers(commands, [remote, verbose])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.log_level = _LEVELS[min(getattr(args, "verbose", 0), 2)]
    try:
        return _COMMANDS[args.command](args)
    except UnpostedError as exc:  # its exit code from app.errors.ANSWERS
        reason = f"configuration: {exc}" if isinstance(exc, ConfigError) else str(exc)
        return _fail(reason, answer(exc).exit_code)
    except sqlite3.OperationalError as exc:
        return _fail(_database_problem(exc), 1)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if (failure := _over_http(exc)) is None:
            raise
        return _fail(*failure)


def _fail(reason: str, code: int) -> int:
    print(f"unposted: {' '.join(reason.split())}", file=sys.stderr)
    return code


def _over_http(exc: Exception) -> tuple[str, int] | None:
    """The line and exit code for the service's answer over HTTP, None for anything else.
    Only a command that went over HTTP can have raised the client's errors: the client
    (httpx) is imported for those alone, here too."""
    from unposted_client import UnpostedClientError, UnreachableError

    if isinstance(exc, UnreachableError):
        return f"the service did not answer: {exc.message}", 1
    if isinstance(exc, UnpostedClientError):
        return f"{exc.message} ({exc.status} {exc.code})", 2 if exc.status == 401 else 1
    return None


def _database_problem(exc: sqlite3.OperationalError) -> str:
    if (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        # Another process (a catch-up, an import) kept its write transaction open for
        # longer than the store waits; nothing of this command was written.
        return "the database is busy: another process held it locked too long; try again"
    return f"the database cannot be used: {exc}"


if __name__ == "__main__":
    sys.exit(main())
