"""The API's documents for people: ``/docs`` (Swagger UI), ``/redoc``, and ``/openapi.json``.

The document stays behind the tokens, as every endpoint does: ``/openapi.json`` answers
a bearer token, or the session of someone signed in to the console, whose browser then
fetches it for the two pages without ever holding a token in script. So ``/docs`` and
``/redoc`` ask a person to sign in first, like the rest of the console. Calls made from
Swagger UI's "Try it out" still need the bearer token, entered once under "Authorize"
(kept across reloads, ``persistAuthorization``): the API itself never accepts the
console's cookie, so no other site can make a browser call it.

Both pages work without internet: Swagger UI and ReDoc are the service's own files
(``static/vendor``, releases pinned in the Makefile, ``make vendor-docs``), started by
``static/api-docs.js`` with the options below, in the system's fonts, under the console's
headers. Nothing on them asks another host for anything (ReDoc's one remote address, of
Redocly's logo, is emptied when the files are updated), and their policy allows no other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.throttle import Throttle
from app.console.pages import HEADERS, ConsoleRoute, templates
from app.console.viewer import ViewerDep, access_of, signed_in

pages = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
document = APIRouter(include_in_schema=False)  # errors as JSON: API clients read it
_bearer = HTTPBearer(auto_error=False)
TITLE = "unposted API"
VENDOR = "/console/static/vendor"  # `make vendor-docs` puts the releases there
SYSTEM_FONTS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif'
# The console's policy, and data: images (both draw their icons so). ReDoc writes its own
# <style> elements (styled-components), and searches in a worker made from its own bundle.
POLICY = HEADERS["Content-Security-Policy"].replace("img-src 'self'", "img-src 'self' data:")
REDOC_POLICY = (
    POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; worker-src blob:"
)


@dataclass(frozen=True)
class DocsPage:
    """What a page loads, and the options its viewer starts with (``static/api-docs.js``)."""

    viewer: str
    bundle: str
    options: dict[str, Any]
    stylesheet: str | None = None
    policy: str = POLICY


SWAGGER_UI = DocsPage(
    viewer="swagger-ui",
    bundle=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
    stylesheet=f"{VENDOR}/swagger-ui/swagger-ui.css",
    options={
        "url": "/openapi.json", "layout": "BaseLayout", "deepLinking": True,
        "persistAuthorization": True,
        "validatorUrl": None,  # never a badge from validator.swagger.io, whatever the layout
    },
)  # fmt: skip
REDOC = DocsPage(
    viewer="redoc",
    bundle=f"{VENDOR}/redoc/redoc.standalone.js",
    options={  # the system's fonts: ReDoc's own (Montserrat, Roboto) are web fonts
        "specUrl": "/openapi.json",
        "theme": {"typography": {
            "fontFamily": SYSTEM_FONTS, "headings": {"fontFamily": SYSTEM_FONTS},
            "code": {"fontFamily": "ui-monospace, Menlo, Consolas, monospace"},
        }},
    },
    policy=REDOC_POLICY,
)  # fmt: skip


@pages.get("/docs")
async def swagger(request: Request, who: ViewerDep) -> Response:
    return _page(request, SWAGGER_UI)


@pages.get("/redoc")
async def redoc(request: Request, who: ViewerDep) -> Response:
    return _page(request, REDOC)


def _page(request: Request, page: DocsPage) -> Response:
    context = {"title": TITLE, "page": page}
    response = templates().TemplateResponse(request, "api_docs.html", context)
    response.headers.update(HEADERS | {"Content-Security-Policy": page.policy})
    return response


async def reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """A bearer token, or a console session, of anyone the service knows."""
    access = access_of(request)
    if credentials is not None and access.tokens.caller(credentials.credentials) is not None:
        return
    if await signed_in(request) is not None:
        return
    if credentials is not None and credentials.credentials:  # a guess: counted, or 429
        throttle: Throttle = request.app.state.throttle
        throttle.count_failure(request)
    raise HTTPException(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


@document.get("/openapi.json", dependencies=[Depends(reader)])
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
