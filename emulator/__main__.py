"""``python -m emulator``: serve a directory as a Dropbox account until Ctrl-C.

This is the CLI's output layer: it prints the base URL and each account's tokens and id.
Each ``--account-root DIR`` adds another account of the same app, served on the same URL.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator.control import Emulator, account_id_for
from emulator.runner import EmulatorServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Serve DIR as a Dropbox API v2 account."
    )
    parser.add_argument("--root", required=True, help="directory mirrored as the account root")
    parser.add_argument(
        "--account-root",
        action="append",
        default=[],
        metavar="DIR",
        help="another account of the same app, mirroring DIR (repeatable)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--webhook", action="append", default=[], metavar="URL")
    parser.add_argument("--app-key", default="emu-app-key")
    parser.add_argument("--app-secret", default="emu-app-secret")
    parser.add_argument("--access-token", default=None, help="default: a random token")
    parser.add_argument("--refresh-token", default=None, help="default: a random token")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _accounts(options: argparse.Namespace) -> list[Emulator]:
    """The ``--root`` account (with the default id, as before), then one per account root,
    whose id is fixed by its directory so that it is the same on every run."""
    app = {"app_key": options.app_key, "app_secret": options.app_secret}
    first = Emulator(
        **app,
        access_token=options.access_token,
        refresh_token=options.refresh_token,
        root=options.root,
    )
    others = [
        Emulator(**app, account_id=account_id_for(str(Path(root).resolve())), root=root)
        for root in options.account_root
    ]
    return [first, *others]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        accounts = _accounts(options)
        server = EmulatorServer(*accounts, host=options.host, port=options.port)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"emulator: {exc}\n")
        return 2
    for url in options.webhook:
        server.register_webhook(url)
    _say(f"base_url={server.base_url}")
    for index, emu in enumerate(accounts):
        if index:
            _say(f"account_root={options.account_root[index - 1]}")
        _say(f"access_token={emu.access_token}")
        _say(f"refresh_token={emu.refresh_token}")
        _say(f"account_id={emu.account_id}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
