"""Rendering the console's pages, and turning whatever goes wrong into a page, not JSON.

``render`` fills a template and sets the headers every page carries: nothing cached, no
framing, scripts, styles and images from this origin only (``Content-Security-Policy``),
so even a file name made to look like markup can only ever be text (Jinja2 escapes every
value too). ``ConsoleRoute`` is the route class of every console route: an error raised
while answering (a refused token, a bad address, an unknown image, Dropbox down) becomes
a page with the same status an API client would get, and a missing session a redirect
to the sign-in page that comes back here afterwards.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.console.viewer import Forbidden, SignInRequired, Viewer
from app.errors import DropboxError, UnpostedError, answer

log = logging.getLogger(__name__)
THUMBNAILS_COOKIE = "unposted_thumbnails"  # "whole": pictures uncropped (``display``)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


NOTICES = {
    "held": "Held: it will not be selected in this channel until the hold is released.",
    "held-until": "Held: it comes back by itself when its hold ends (or when released).",
    "released": "The hold is released: it may be selected again.",
    "posted": "Marked posted in this channel.",
    "unposted": "The post is undone: the picture may be offered again in this channel"
    " (unless something else keeps it out, such as a hold).",
    "lease-released": "The lease is released: the picture is available again.",
    "resync": "A full re-list of the folder has started.",
    "split": "Split: it is no longer taken for the same picture as the others.",
    "alone": "It has no near-duplicate left to split from.",
    "replayed": "The event is pending again: it is sent with the same webhook-id.",
    "test-sent": "A webhook.test event is queued: it is sent after the channel's earlier events.",
}


NOTICE_KEYS = frozenset({"done", "undo", "confirm"})
"""What an address carries for one showing only: a notice, the post it may undo, a step
that asks to confirm; the page's own address (``here``, where its forms return) drops them."""
_HASH = re.compile(r"[0-9a-f]{64}")


@functools.cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=Path(__file__).parent / "templates")
    found.env.filters["when"] = when
    found.env.filters["filesize"] = filesize
    return found


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """The page, with what every page shows: who is signed in, their channels, a notice."""
    channels = request.app.state.config.channels
    context |= {
        "viewer": viewer,
        "csrf": viewer.session.csrf if viewer else "",
        "reachable": [name for name in channels if viewer and viewer.caller.may(name)],
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "here": _here(request),
        "whole": request.cookies.get(THUMBNAILS_COOKIE) == "whole",
        "confirming": request.query_params.get("confirm"),
    }
    context.setdefault("channel", None)
    context["undo"] = _undo(request, context["channel"])
    response = templates().TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    return response


def _here(request: Request) -> str:
    """This page's address, to come back to after a form (without its last notice)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in NOTICE_KEYS]
    query = urlencode(kept)
    return request.url.path + (f"?{query}" if query else "")


def _undo(request: Request, channel: str | None) -> str | None:
    """The post the notice offers to undo: just marked posted in this page's channel."""
    params = request.query_params
    wanted = params.get("undo", "")
    if channel is None or params.get("done") != "posted" or not _HASH.fullmatch(wanted):
        return None
    return wanted


def when(stamp: str | None) -> str:
    """``2026-11-24T21:23:24Z`` as ``2026-11-24 21:23 UTC``."""
    if not stamp:
        return ""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 else stamp


def filesize(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} bytes"


def see_other(location: str) -> RedirectResponse:
    """After a form: the browser asks for ``location`` with a GET (post, redirect, get)."""
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def sign_in_page_for(path: str) -> str:
    return "/console/sign-in?next=" + quote(path, safe="")


class ConsoleRoute(APIRoute):
    """A console route: errors become pages; no session, a trip to the sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as missing:
                return see_other(sign_in_page_for(missing.next))
            except (UnpostedError, HTTPException) as exc:
                return error_page(request, *_status_and_message(exc))
            except RequestValidationError as exc:
                return error_page(request, 422, _invalid(exc))

        return guarded


def error_page(request: Request, status: int, message: str) -> Response:
    viewer = getattr(request.state, "viewer", None)
    return render(request, "error.html", viewer, status, status_code=status, message=message)


def _status_and_message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Forbidden):
        return 403, str(exc)
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    found = answer(exc)
    if found.status is None:
        raise exc  # fatal: not a page, the server's 500
    if isinstance(exc, DropboxError) and found.status != 503:
        log.warning("console: dropbox error: %s", exc)
    return found.status, found.page or str(exc)


def _invalid(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "This address is not valid: " + "; ".join(problems)
