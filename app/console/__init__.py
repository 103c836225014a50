"""The console: pages for people, served by the service itself at ``/``.

Sign in with a token (``signin``); see every library and channel it reaches
(``overview``), a channel's pictures as Dropbox thumbnails (``pictures``), square or
whole (``display``), with counts that follow changes as they happen (``live``), what it
posted (``history``) and how its webhook went (``deliveries``); hold, release, post and
re-list (``actions``); read the API's documents (``docs``). Pages are rendered on the
server from ``templates/`` with a little script (``static/``). Who may see what is the
API's rule: the operator's token everything, a channel's token that channel only.
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import Response

from app.console import (
    actions,
    deliveries,
    display,
    docs,
    groups,
    history,
    live,
    overview,
    pictures,
    rendered,
    signin,
)

CSS, SCRIPT, SVG = "text/css; charset=utf-8", "text/javascript; charset=utf-8", "image/svg+xml"
_STATIC = {
    "console.css": CSS,
    "console.js": SCRIPT,
    "placeholder.svg": SVG,
    "favicon.svg": SVG,
    "api-docs.js": SCRIPT,
    # Swagger UI and ReDoc, for /docs and /redoc (`make vendor-docs` updates them).
    "vendor/swagger-ui/swagger-ui.css": CSS,
    "vendor/swagger-ui/swagger-ui-bundle.js": SCRIPT,
    "vendor/redoc/redoc.standalone.js": SCRIPT,
}
static = APIRouter(include_in_schema=False)


@static.get("/console/static/{name:path}")
async def static_file(name: str) -> Response:
    if name not in _STATIC:
        raise HTTPException(404, "no such file")
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(_read(name), media_type=_STATIC[name], headers=headers)


@functools.cache
def _read(name: str) -> bytes:
    return (Path(__file__).parent / "static" / name).read_bytes()


def install_console(app: FastAPI) -> None:
    routers = (signin, overview, pictures, rendered, history, deliveries, groups, actions, live,
               display)  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    app.include_router(docs.pages)
    app.include_router(docs.document)
    app.include_router(static)
