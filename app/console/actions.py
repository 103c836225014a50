"""What a person can do from the console: hold an image out of selection (until released,
or until a date and time in UTC, when it comes back by itself) and let it go, mark it
posted (once confirmed) and undo that, split it from a wrong group of near-duplicates,
release a lease, re-list a library.

Every action is a form ``POST`` carrying the session's CSRF value (checked in constant
time) on a ``SameSite=Strict`` session, then a redirect back to the page it came from
(``next``, a path on this site only) saying what was done. The actions call the same
services as the API, with the same rules: a channel's token acts on its channel only,
and only the operator may re-list a library.

Marking posted asks first: its form carries ``confirm=posted`` only from the confirming
step of the picture's page (a disclosure that opens without a script); a form without it
is sent to that step, and nothing is recorded. The notice that follows a post offers
"Undo" (``undo=HASH`` in the address it returns to, ``app.console.pages``), a form of
its own that undoes the post in the name of the token signed in with.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.api.deps import ConfigDep, PicturesDep, PostedDep, SelectionDep, WorkersDep
from app.api.params import ContentHash
from app.console.forms import local_path, read_form
from app.console.pages import NOTICE_KEYS, ConsoleRoute, see_other
from app.console.viewer import ChannelName, Forbidden, Viewer, ViewerDep, check_csrf
from app.errors import InvalidInput, UnknownName
from app.services.holds import read_until

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
LeaseId = Annotated[str, Path(min_length=1, max_length=256)]
_IMAGE = "/console/channels/{channel}/images/{content_hash}"


@router.post(_IMAGE + "/hold")
async def hold(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash,
    pictures: PicturesDep,
) -> Response:  # fmt: skip
    form = await _form(request, who)
    until = _until(form.get("until"))
    await pictures.hold(channel, content_hash, until)
    return see_other(
        _saying(local_path(form.get("next")), "held" if until is None else "held-until")
    )


@router.post(_IMAGE + "/unhold")
async def unhold(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash,
    pictures: PicturesDep,
) -> Response:  # fmt: skip
    back = await _checked(request, who)
    await pictures.unhold(channel, content_hash)
    return see_other(_saying(back, "released"))


@router.post(_IMAGE + "/posted")
async def posted(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash,
    selection: SelectionDep,
) -> Response:  # fmt: skip
    form = await _form(request, who)
    back = local_path(form.get("next"))
    if form.get("confirm") != "posted":  # not confirmed: to the step that asks first
        asking = _IMAGE.format(channel=channel, content_hash=content_hash)
        return see_other(asking + "?" + urlencode({"confirm": "posted"}))
    await selection.posted(channel, content_hash)
    return see_other(_saying(back, "posted", undo=content_hash))


@router.post(_IMAGE + "/unpost")
async def unpost(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash,
    posted: PostedDep,
) -> Response:  # fmt: skip
    back = await _checked(request, who)
    await posted.unpost(channel, content_hash, who.caller.name)
    return see_other(_saying(back, "unposted"))


@router.post(_IMAGE + "/split")
async def split(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash,
    pictures: PicturesDep,
) -> Response:  # fmt: skip
    back = await _checked(request, who)
    done = await pictures.split(channel, content_hash)
    return see_other(_saying(back, "split" if done else "alone"))


@router.post("/console/channels/{channel}/leases/{lease_id}/release")
async def release(
    request: Request, who: ViewerDep, channel: ChannelName, lease_id: LeaseId,
    selection: SelectionDep,
) -> Response:  # fmt: skip
    back = await _checked(request, who)
    await selection.release(channel, lease_id)
    return see_other(_saying(back, "lease-released"))


@router.post("/console/libraries/{library}/resync")
async def resync(
    request: Request, who: ViewerDep, library: str, config: ConfigDep, workers: WorkersDep
) -> Response:
    back = await _checked(request, who)
    if not who.operator:
        raise Forbidden("Only the operator's token may re-list a library.")
    if library not in config.libraries:
        raise UnknownName(f"There is no library {library!r}.")
    workers[library].request_relist()
    return see_other(_saying(back, "resync"))


async def _checked(request: Request, who: Viewer) -> str:
    """The form's CSRF value checked; where to go back to."""
    return local_path((await _form(request, who)).get("next"))


async def _form(request: Request, who: Viewer) -> dict[str, str]:
    """The form, its CSRF value checked."""
    form = await read_form(request)
    check_csrf(who, form.get("csrf"))
    return form


def _until(text: str | None) -> float | None:
    """The hold form's end: empty for a hold until released; a date and time as the
    browser's field sends it (no zone) is UTC, as the console shows every time."""
    if text is None or not text.strip():
        return None
    try:
        return read_until(text, naive_in_utc=True)
    except ValueError as exc:
        raise InvalidInput(f"until: {exc}") from None


def _saying(path: str, done: str, **more: str) -> str:
    """``path`` with ``done=`` (and ``more``) set, for the page to say what happened."""
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in NOTICE_KEYS]
    query += [("done", done), *more.items()]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))
