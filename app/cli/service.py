"""The commands that run the service or work on its store as a whole: ``serve``, ``sync``,
``demo`` and ``migrate-store`` (their arguments: ``app.cli.service_args``). They act on
this machine only, whatever ``UNPOSTED_URL`` says.

A command checks what it can (settings, configuration, tokens, credentials, the state
directory, the database) before it imports the service, which takes most of a second: a
refusal is one line, at once.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from app.api.access import check_tokens
from app.cli.local import LocalState, command_settings
from app.cli.output import Output, Progress
from app.configuration.environment import Settings
from app.configuration.file import Config, check_credentials, load_config
from app.errors import ConfigError
from app.state_dir import StateDir
from state import open_store
from state.changes import FileKinds

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}
_STARTUP_FAILURE = 3  # uvicorn's exit code when the app's startup fails
_STOP_SECONDS = 5  # how long a stop waits for open requests (a console's event stream)


def _command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        COMMANDS[name] = function
        return function

    return register


@_command("serve")
def serve(args: argparse.Namespace) -> int:
    settings = command_settings()
    settings.check_serve()
    config = load_config(settings, os.environ)
    check_tokens(settings.api_token, {n: c.api_token for n, c in config.channels.items()})
    check_credentials(config, settings)
    with _held(settings, "serve"):
        _check_store(settings, config)
        from app.main import create_app  # the service, once the checks above have passed
        from emulator.runner import listen

        app = create_app(settings, whole_process=True)
        listener = listen(args.host, args.port)  # a port in use: one line, nothing started
        started = serve_in_foreground(app, listener)
    return 0 if started else _STARTUP_FAILURE


def _check_store(settings: Settings, config: Config) -> None:
    """Refuse a torn or newer database, or one out of reach; and a weight naming a folder
    that a library listed before does not hold."""
    from app.services.rotation import check_named_folders

    store = open_store(settings.state_dir, settings.database)
    try:
        check_named_folders(config, store.browsing)
    finally:
        store.close()


def serve_in_foreground(app: Any, listener: socket.socket) -> bool:
    """Serve until SIGINT or SIGTERM; False when the app never started (as uvicorn.run).
    A console page's event stream stays open: after five seconds a stop cancels it."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=_STOP_SECONDS)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it stopped for, once it has stopped
    finally:
        listener.close()
    return server.started


def _held(settings: Settings, command: str) -> AbstractContextManager[object]:
    """The state directory held for ``command``: SQLite's file is one process's. Replicas
    of one PostgreSQL database share nothing on disk, so nothing is held for them."""
    if settings.database is not None:
        return nullcontext()
    return StateDir(settings.state_dir).hold(command)


@_command("sync")
def sync(args: argparse.Namespace) -> int:
    with LocalState(hold="sync", log_level=args.log_level) as local:
        from app.sync.catch_up import CatchUp  # once the state directory is ours

        kinds = FileKinds.of(local.settings.image_extensions, local.settings.sidecar_extensions)
        for name, library in local.config.libraries.items():
            with local.store.catalog.catch_up_turn(name) as mine:  # replicas may be running
                if not mine:
                    print(f"{name}: another process is catching it up now; left to it")
                    continue
                catch_up = CatchUp(library.spec, kinds, local.store.catalog, local.dropbox(name))
                bar = Progress(f"{name}: catching up")
                try:
                    summary = catch_up.run(progress=bar)
                finally:
                    bar.done()
            print(f"{name}: caught up: {summary.line()}")
            if line := local.fingerprint(name):
                print(f"{name}: {line}")
    return 0


@_command("demo")
def demo(args: argparse.Namespace) -> int:
    # DATA/state (``app.demo.Demo.state_dir``) is held for the demo's whole run, before
    # the service and the emulator are imported: a second demo is refused at once.
    state = StateDir(args.data / "state", "the demo's state", instead="another --data")
    with state.hold("demo"):
        try:
            from app.demo import run_demo  # needs Pillow, the `demo` extra; nothing else does
        except ModuleNotFoundError as exc:
            raise ConfigError(f"the demo needs {exc.name}: pip install -e '.[demo]'") from exc
        return run_demo(args.data, args.port, args.log_format)


@_command("migrate-store")
def migrate_store(args: argparse.Namespace) -> int:
    from state.postgres.connection import where
    from state.postgres.from_sqlite import copy_from_sqlite

    settings = command_settings(args.log_level)
    with StateDir(settings.state_dir).hold("migrate-store"):  # no service writes it meanwhile
        moved = copy_from_sqlite(settings.database_path, args.to)
    print(json.dumps(moved.as_json()))
    Output.notice(
        f"state copied from {settings.database_path} to {where(args.to)}; set DATABASE_URL"
        " and start the service: the catalog is rebuilt by listing each folder"
    )
    return 0
