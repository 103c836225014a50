"""``python -m app COMMAND``: the command line, and its output layer.

Each command is a small function that reads settings, calls the same domain code as
the HTTP API, and prints its result. Errors become a one-line reason and a non-zero
exit code in exactly one place, ``main``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import uvicorn

from app.errors import ConfigError, UnpostedError
from app.log import setup_logging
from app.main import create_app
from app.settings import Settings, load_settings

Command = Callable[[argparse.Namespace], int]
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
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="unposted: a never-posted image from a Dropbox folder, in O(1).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("serve", help="run the HTTP service")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"unposted: configuration: {exc}", file=sys.stderr)
        return 2
    except UnpostedError as exc:
        print(f"unposted: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
