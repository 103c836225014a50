"""The commands a running service can answer, and their output: ``status``, ``select``,
``posted``, ``unpost``, ``release``, ``renew``, ``hold``, ``unhold``, ``images``, ``history``,
``resync``, ``export-posted``, ``import-legacy`` and ``reset-posted``.

Each is written once against ``app.cli.asking.Operations``: ``app.cli`` hands it
the state directory's (``LocalOperations``) or a service's over HTTP
(``RemoteOperations``). Where a content hash is taken, a unique prefix of at least 8
hexadecimal digits, a file name or a path does as well.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from app.cli import views
from app.cli.asking import Operations, content_hash
from app.cli.output import Output
from app.errors import InvalidInput
from app.services.holds import read_until
from state.store import MAX_PAGE, ImageFilter, ImageQuery

Command = Callable[[argparse.Namespace, Operations, Output], int]
COMMANDS: dict[str, Command] = {}
HOLDING = frozenset({"resync"})
"""Locally, commands that need the state directory to themselves: a re-list moves the cursor."""


def _command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        COMMANDS[name] = function
        return function

    return register


@_command("status")
def status(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.status(), views.status)
    return 0


@_command("select")
def select(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    from app.services.selection import SelectOptions  # the service's code: not for the others

    options = SelectOptions(args.dry_run, args.name, args.link, args.lease_seconds)
    out.result(ops.select(options), views.selection)
    return 0


@_command("posted")
def posted(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    chosen = content_hash(ops, args.content_hash)
    out.result(ops.posted(chosen, args.lease_id, args.sha256, args.archive), views.pairs)
    return 0


@_command("unpost")
def unpost(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.unpost(content_hash(ops, args.content_hash)), views.pairs)
    return 0


@_command("release")
def release(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.release(args.lease_id), views.pairs)
    return 0


@_command("renew")
def renew(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.renew(args.lease_id, args.lease_seconds), views.pairs)
    return 0


@_command("hold")
def hold(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.hold(content_hash(ops, args.content_hash), args.until), views.pairs)
    return 0


@_command("unhold")
def unhold(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    out.result(ops.unhold(content_hash(ops, args.content_hash)), views.pairs)
    return 0


@_command("images")
def images(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    page = ops.images(ImageQuery(args.state, args.name, args.after, args.limit))
    out.table(page, views.images)
    _more(page["next"])
    return 0


@_command("history")
def history(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    page = ops.history(args.after, args.limit)
    out.table(page, views.history)
    _more(page["next"])
    return 0


@_command("resync")
def resync(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    """A full re-list of the library (of ``--channel``, or ``--library``; default: every one)."""
    if args.library is not None and args.channel is not None:
        raise InvalidInput("name a library or a channel, not both")
    done = ops.resync(args.library, args.channel)
    out.table({"listed": done}, lambda document: document["listed"])  # lines, as sync's
    return 0


@_command("export-posted")
def export_posted(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    views.write_json(ops.export_posted(), args.file, out)
    return 0


@_command("import-legacy")
def import_legacy(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    raw = views.read(args.file)
    out.result(ops.import_legacy(raw), views.pairs)
    return 0


@_command("reset-posted")
def reset_posted(args: argparse.Namespace, ops: Operations, out: Output) -> int:
    if not args.yes:
        raise InvalidInput("reset-posted forgets every posted image; add --yes to confirm")
    out.result(ops.reset_posted())  # the cleared state, to import back: JSON always
    return 0


def _more(following: str | None) -> None:
    if following is not None:
        Output.notice(f"more: add --after {following}")


def add_parsers(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    """The commands' arguments, on ``app.cli``'s subparsers; ``common``: --url, --json..."""

    def add(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, help=summary, description=description, parents=common
        )
        parser.add_argument("--channel", help="the channel (default: the default or only one)")
        return parser

    add("status", "the catalog's counts, per library and channel",
        "Counts of every library and channel: images, available, leased, posted, the last"
        " catch-up. On a terminal a summary; --json (or a pipe) the full report.")  # fmt: skip
    pick = add(
        "select",
        "select a never-posted image and lease it",
        "Select an image never posted in the channel, leased to you (as POST /select).",
    )
    pick.add_argument("--dry-run", action="store_true", help="preview: change nothing")
    pick.add_argument("--name", help="select this file (a name, or a path under the folder)")
    pick.add_argument("--link", action="store_true", help="add a Dropbox temporary link")
    pick.add_argument("--lease-seconds", type=_positive, help="hold it this long")
    post = add(
        "posted",
        "record an image as posted, as POST /posted",
        "Record an image as posted (idempotent): it is never selected again.",
    )
    post.add_argument("content_hash", metavar="IMAGE", help=views.IMAGE_HELP)
    post.add_argument("--lease-id", help="the lease it was selected with")
    post.add_argument("--sha256", type=_sha256, help="its whole-file SHA-256, if known")
    post.add_argument("--archive", action="store_true", help="move it to ARCHIVE_FOLDER")
    undo = add(
        "unpost",
        "undo a post: the image may be selected again",
        "Undo the post of the channel's current cycle, as DELETE /posted/HASH: the image"
        " may be selected again (unless held); the history keeps the post, marked undone.",
    )
    undo.add_argument("content_hash", metavar="IMAGE", help=views.IMAGE_HELP)
    free = add(
        "release",
        "give a lease back: the image is available",
        "End a lease without posting: the image returns to the pool at once.",
    )
    free.add_argument("lease_id", metavar="LEASE_ID")
    more = add(
        "renew",
        "more time on a running lease",
        "Extend a running lease from now, by --lease-seconds or the channel's lease.",
    )
    more.add_argument("lease_id", metavar="LEASE_ID")
    more.add_argument("--lease-seconds", type=_seconds, help="from now (default: the channel's)")
    keep = add(
        "hold",
        "keep an image out of selection (no file moves)",
        "Keep an image out of the channel's selection until unhold, or until --until when"
        " the service lets it back by itself; no file moves. Holding again sets the end.",
    )
    keep.add_argument("content_hash", metavar="IMAGE", help=views.IMAGE_HELP)
    keep.add_argument(
        "--until", type=_time, metavar="DATE",
        help="when the hold ends: ISO 8601 with a zone (2026-12-24T00:00:00Z)",
    )  # fmt: skip
    let = add(
        "unhold",
        "let a held image be selected again",
        "Release a hold: the image can be selected again.",
    )
    let.add_argument("content_hash", metavar="IMAGE", help=views.IMAGE_HELP)
    again = add(
        "resync",
        "list a library's folder again from Dropbox",
        "List a library's folder again from Dropbox (posted state is kept), with"
        " progress. Over HTTP: POST /admin/resync, followed through /status.",
    )
    again.add_argument("--library", help="this library only (default: every one)")
    shown = add(
        "images",
        "a page of a channel's images, as a table",
        "A page of the channel's images in one state, as a table; the hashes shown"
        " are prefixes that hold, unhold and posted accept.",
    )
    shown.add_argument("--state", default="available",
                       choices=get_args(ImageFilter))  # fmt: skip
    shown.add_argument("--name", help="names starting with this (case-insensitive)")
    past = add(
        "history",
        "what the channel posted, newest first",
        "Every post of the channel, newest first, a page at a time.",
    )
    for each in (shown, past):
        each.add_argument("--after", help="the page after this one (printed as 'more:')")
        each.add_argument("--limit", type=_page_size, default=60, help="per page (default 60)")
    export = add(
        "export-posted",
        "write the posted state as posted.json",
        "Write the channel's posted state in the legacy posted.json form.",
    )
    export.add_argument("file", type=Path, nargs="?", metavar="FILE", help="default: stdout")
    legacy = add(
        "import-legacy",
        "import a legacy posted.json",
        "Import a legacy posted.json (a list of SHA-256 digests, or an export).",
    )
    legacy.add_argument("file", type=Path, metavar="FILE")
    reset = add(
        "reset-posted",
        "forget every posted image",
        "Forget every posted image of the channel; prints the cleared state.",
    )
    reset.add_argument("--yes", action="store_true", help="confirm: the state is cleared")


def _sha256(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise argparse.ArgumentTypeError("must be 64 hexadecimal digits")
    return text.lower()


def _time(text: str) -> str:
    """A time a hold may end at, as given (the store says whether it is in the future)."""
    try:
        read_until(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    return _bounded(text, 1, 2**31)


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
