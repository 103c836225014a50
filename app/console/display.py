"""How the console shows pictures: thumbnails cropped to squares (the default) or whole.

The choice is a form (``POST /console/thumbnails``, with the session's CSRF value, as
every console form) that sets a cookie for a year and goes back to the page it came
from; every page reads it (``app.console.pages.render``) and marks its body, and the
style sheet does the rest. A display preference only: it reaches no data.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from app.console.forms import local_path, read_form
from app.console.pages import THUMBNAILS_COOKIE, ConsoleRoute, see_other
from app.console.viewer import ViewerDep, check_csrf

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
SHAPES = ("square", "whole")
YEAR = 365 * 86_400


@router.post("/console/thumbnails")
async def thumbnails(request: Request, who: ViewerDep) -> Response:
    form = await read_form(request)
    check_csrf(who, form.get("csrf"))
    shape = form.get("shape", "")
    if shape not in SHAPES:
        raise HTTPException(422, "shape: thumbnails are shown as 'square' or 'whole'.")
    response = see_other(local_path(form.get("next")))
    response.set_cookie(
        THUMBNAILS_COOKIE, shape, max_age=YEAR, path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response
