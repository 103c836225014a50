"""The API's documents for people: ``/docs`` (Swagger UI), ``/redoc``, and ``/openapi.json``.

The document stays behind the tokens, as every endpoint does: ``/openapi.json`` answers
a bearer token, or the session of someone signed in to the console, whose browser then
fetches it for the two pages without ever holding a token in script. So ``/docs`` and
``/redoc`` ask a person to sign in first, like the rest of the console. Calls made from
Swagger UI's "Try it out" still need the bearer token, entered once under "Authorize"
(kept across reloads, ``persistAuthorization``): the API itself never accepts the
console's cookie, so no other site can make a browser call it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.throttle import Throttle
from app.console.pages import ConsoleRoute
from app.console.viewer import ViewerDep, access_of, signed_in

pages = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
document = APIRouter(include_in_schema=False)  # errors as JSON: API clients read it
_bearer = HTTPBearer(auto_error=False)
TITLE = "unposted API"


@pages.get("/docs")
async def swagger(who: ViewerDep) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title=TITLE,
        swagger_ui_parameters={"persistAuthorization": True},
    )  # fmt: skip


@pages.get("/redoc")
async def redoc(who: ViewerDep) -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title=TITLE)


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
