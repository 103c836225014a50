"""Commands for a channel's images and leases, as the HTTP API offers them: ``posted``,
``release``, ``renew``, ``hold``, ``unhold``, ``images``, ``history``, and ``resync``.

Like the other commands (``app.cli``), each acts on the state directly, through the
same domain code as the API, on the channel named by ``--channel`` (default: the
default or only one); ``resync`` lists a library's folder again from Dropbox, as
``sync`` catches it up. ``images`` and ``history`` print a table (``--json``: the
API's reply), and say on stderr how to ask for the next page. This module is the
output layer of these commands: ``app.cli`` registers them and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from app.cli_state import LocalState
from app.errors import InvalidInput
from app.lanes import Lanes
from app.metrics import Metrics
from app.services.pictures import history_json, page_json
from app.services.selection import SelectionService, lease_json
from app.sync.catch_up import CatchUp
from state.changes import FileKinds
from state.store import MAX_PAGE, HistoryPage, ImagePage, ImageQuery

T = TypeVar("T")
Run = Callable[[argparse.Namespace, LocalState], int]
COMMANDS: dict[str, Run] = {}
HOLDING = frozenset({"resync"})
"""Commands that need the state directory to themselves: a re-list moves the cursor."""
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def _command(name: str) -> Callable[[Run], Run]:
    def register(function: Run) -> Run:
        COMMANDS[name] = function
        return function

    return register


def _with_selection(
    local: LocalState, call: Callable[[SelectionService], Coroutine[Any, Any, T]]
) -> T:
    lanes = Lanes()
    try:
        service = SelectionService(
            local.config, local.store, lanes, Metrics(), local.dropbox,
            archive_folder=local.settings.archive_folder,
        )  # fmt: skip
        return asyncio.run(call(service))
    finally:
        lanes.close()


def _print(document: object) -> None:
    print(json.dumps(document, indent=2))


@_command("posted")
def posted(args: argparse.Namespace, local: LocalState) -> int:
    channel = local.channel(args.channel)
    receipt = _with_selection(local, lambda service: service.posted(
        channel, args.content_hash, args.lease_id, args.sha256, args.archive,
        operator=True))  # fmt: skip
    _print(receipt.as_json())
    return 0


@_command("release")
def release(args: argparse.Namespace, local: LocalState) -> int:
    channel = local.channel(args.channel)

    async def release_then_show(service: SelectionService) -> dict[str, str]:
        await service.release(channel, args.lease_id)
        return lease_json(await service.lease(channel, args.lease_id))

    _print(_with_selection(local, release_then_show))
    return 0


@_command("renew")
def renew(args: argparse.Namespace, local: LocalState) -> int:
    channel = local.channel(args.channel)
    info = _with_selection(
        local, lambda service: service.renew(channel, args.lease_id, args.lease_seconds)
    )
    _print(lease_json(info))
    return 0


@_command("hold")
def hold(args: argparse.Namespace, local: LocalState) -> int:
    held_at = local.store.hold(local.channel(args.channel), args.content_hash)
    _print({"content_hash": args.content_hash, "held": True, "held_at": held_at})
    return 0


@_command("unhold")
def unhold(args: argparse.Namespace, local: LocalState) -> int:
    if not local.store.unhold(local.channel(args.channel), args.content_hash):
        print("unposted: there was no hold on it; nothing changed", file=sys.stderr)
    _print({"content_hash": args.content_hash, "held": False, "held_at": None})
    return 0


@_command("resync")
def resync(args: argparse.Namespace, local: LocalState) -> int:
    """A full re-list of the library (of ``--channel``, or ``--library``; default: every one)."""
    kinds = FileKinds.of(local.settings.image_extensions, local.settings.sidecar_extensions)
    for name in _libraries(args, local):
        local.store.begin_listing(name)
        catch_up = CatchUp(
            local.config.libraries[name].spec, kinds, local.store, local.dropbox(name)
        )
        print(f"{name}: listed again: {catch_up.run().line()}")
    return 0


def _libraries(args: argparse.Namespace, local: LocalState) -> list[str]:
    if args.library is not None and args.channel is not None:
        raise InvalidInput("name a library or a channel, not both")
    if args.channel is not None:
        return [local.config.channels[local.channel(args.channel)].library]
    if args.library is not None and args.library not in local.config.libraries:
        raise InvalidInput(f"no library {args.library!r} in the configuration")
    return [args.library] if args.library else list(local.config.libraries)


@_command("images")
def images(args: argparse.Namespace, local: LocalState) -> int:
    query = ImageQuery(args.state, args.name, args.after, args.limit)
    page = local.store.images(local.channel(args.channel), query)
    if args.json:
        _print(page_json(page))
    else:
        _table(["STATE", "COPIES", "CONTENT HASH", "NAME", "PATH"], _image_rows(page))
    _more(page.next)
    return 0


@_command("history")
def history(args: argparse.Namespace, local: LocalState) -> int:
    page = local.store.history(local.channel(args.channel), args.after, args.limit)
    if args.json:
        _print(history_json(page))
    else:
        _table(["POSTED AT", "CYCLE", "CONTENT HASH", "NAME"], _history_rows(page))
    _more(page.next)
    return 0


def _image_rows(page: ImagePage) -> list[list[str]]:
    return [
        [item.state + (" (held)" if item.held_at and item.state != "held" else ""),
         str(item.duplicate_count + 1), item.image.content_hash[:12], item.image.name,
         item.image.path]
        for item in page.items
    ]  # fmt: skip


def _history_rows(page: HistoryPage) -> list[list[str]]:
    return [
        [entry.posted_at, str(entry.cycle), entry.content_hash[:12],
         entry.image.image.name if entry.image else "(no longer in the folder)"]
        for entry in page.items
    ]  # fmt: skip


def _table(header: list[str], rows: Sequence[list[str]]) -> None:
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _more(following: str | None) -> None:
    if following is not None:
        print(f"more: add --after {following}", file=sys.stderr)


def add_parsers(commands: Any) -> None:
    """The commands' arguments, on ``app.cli``'s subparsers."""
    post = commands.add_parser("posted", help="record an image as posted, as POST /posted")
    post.add_argument("content_hash", type=content_hash, metavar="CONTENT_HASH")
    post.add_argument("--lease-id", help="the lease it was selected with")
    post.add_argument("--sha256", type=content_hash, help="its whole-file SHA-256, if known")
    post.add_argument("--archive", action="store_true", help="move it to ARCHIVE_FOLDER")
    free = commands.add_parser("release", help="give a lease back: the image is available")
    free.add_argument("lease_id", metavar="LEASE_ID")
    more = commands.add_parser("renew", help="more time on a running lease")
    more.add_argument("lease_id", metavar="LEASE_ID")
    more.add_argument("--lease-seconds", type=_seconds, help="from now (default: the channel's)")
    keep = commands.add_parser("hold", help="keep an image out of selection (no file moves)")
    keep.add_argument("content_hash", type=content_hash, metavar="CONTENT_HASH")
    let = commands.add_parser("unhold", help="let a held image be selected again")
    let.add_argument("content_hash", type=content_hash, metavar="CONTENT_HASH")
    again = commands.add_parser("resync", help="list a library's folder again from Dropbox")
    again.add_argument("--library", help="this library only (default: every one)")
    shown = commands.add_parser("images", help="a page of a channel's images, as a table")
    shown.add_argument("--state", default="available",
                       choices=("available", "leased", "held", "posted"))  # fmt: skip
    shown.add_argument("--name", help="names starting with this (case-insensitive)")
    past = commands.add_parser("history", help="what the channel posted, newest first")
    for each in (shown, past):
        each.add_argument("--after", help="the page after this one (printed as 'more:')")
        each.add_argument("--limit", type=_page_size, default=60, help="per page (default 60)")
        each.add_argument("--json", action="store_true", help="the API's JSON instead")
    for each in (post, free, more, keep, let, again, shown, past):
        each.add_argument("--channel", help="the channel (default: the default or only one)")


def content_hash(text: str) -> str:
    if not _HEX.fullmatch(text):
        raise argparse.ArgumentTypeError("must be 64 hexadecimal digits")
    return text.lower()


def _seconds(text: str) -> int:
    return _bounded(text, 1, 86_400)


def _page_size(text: str) -> int:
    return _bounded(text, 1, MAX_PAGE)


def _bounded(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {low} to {high}")
    return value
