"""The arguments of the commands that run the service (``app.cli.service``).

They are parsed before anything of the service is imported: ``python -m app`` imports
the service only for these commands, so the others (over HTTP above all) start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

COMMANDS = ("serve", "sync", "demo", "migrate-store")


def add_parsers(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "serve", help="run the HTTP service",
        description="Run the HTTP service (API, webhook, console).",
    )  # fmt: skip
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    commands.add_parser(
        "sync", help="catch up with Dropbox once, then exit", parents=common[-1:],
        description="Catch every library up with Dropbox once, on the state directory here,"
        " then exit; a progress bar on a terminal once it runs past a second.",
    )  # fmt: skip
    demo = commands.add_parser(
        "demo", help="the emulator over sample images, and the service",
        description="Run the bundled Dropbox emulator over sample images, and the service"
        " against it: everything on this machine, no account needed.",
    )  # fmt: skip
    demo.add_argument("--port", type=int, default=8000, help="service port (0 picks a free one)")
    demo.add_argument("--data", type=Path, default=Path("demo-data"), help="samples and state")
    demo.add_argument("--log-format", choices=("console", "json"), default="console",
                      help="how log lines read (default console)")  # fmt: skip
    move = commands.add_parser(
        "migrate-store", help="copy the SQLite state in STATE_DIR into PostgreSQL",
        parents=common[-1:],
        description="Copy the posted state, leases and holds of the SQLite database in"
        " STATE_DIR into an empty PostgreSQL database.",
    )  # fmt: skip
    move.add_argument("--to", required=True, type=_database_url, metavar="postgresql://...")


def _database_url(text: str) -> str:
    from state.postgres.connection import url_problem  # psycopg: only when it is used

    problem = url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text
