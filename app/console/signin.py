"""Signing in to the console with a token, and out again.

The sign-in page gives the browser a session with no holder yet, only a CSRF value, so
that the sign-in form too is refused unless it came from this page. A token that
identifies someone (compared in constant time, ``app.api.access``) gets a new session,
and so a new CSRF value, naming the token by its fingerprint; the token itself is kept
nowhere. The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
site's page sends it) and ``Secure`` when the page came over https: uvicorn sets the
scheme from ``X-Forwarded-Proto`` only for proxies it trusts (``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.console.forms import local_path, read_form
from app.console.pages import ConsoleRoute, render, see_other
from app.console.session import COOKIE, LIFETIME, Session
from app.console.viewer import ViewerDep, access_of, check_csrf, current_session

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/console/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    session = current_session(request)
    if session is not None and session.holder in access_of(request).holders:
        return see_other(local_path(next))  # signed in already
    if session is None:
        session, cookie = access_of(request).sessions.issue()
    else:
        cookie = None
    page = render(request, "sign_in.html", None, next=local_path(next), form_csrf=session.csrf)
    if cookie is not None:
        _set_cookie(request, page, cookie)
    return page


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    session = current_session(request)
    target = local_path(form.get("next"))
    if session is None or not session.csrf_matches(form.get("csrf", "")):
        return _again(request, target, "Your sign-in page had expired; please try again.")
    access = access_of(request)
    token = form.get("token", "").strip()
    if access.tokens.caller(token) is None:
        return _again(request, target, "That token is not one this service knows.", session)
    _, cookie = access.sessions.issue(access.sessions.fingerprint(token))
    response = see_other(target)
    _set_cookie(request, response, cookie)
    return response


@router.post("/console/sign-out")
async def sign_out(request: Request, who: ViewerDep) -> Response:
    check_csrf(who, (await read_form(request)).get("csrf"))
    response = see_other("/console/sign-in")
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True,
                           samesite="strict")  # fmt: skip
    return response


def _again(request: Request, target: str, problem: str, session: Session | None = None) -> Response:
    """The sign-in page again, with what went wrong (and a fresh session if it had none)."""
    cookie = None
    if session is None:
        session, cookie = access_of(request).sessions.issue()
    page = render(request, "sign_in.html", None, 401, next=target, problem=problem,
                  form_csrf=session.csrf)  # fmt: skip
    if cookie is not None:
        _set_cookie(request, page, cookie)
    return page


def _set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=LIFETIME, path="/", secure=_secure(request),
        httponly=True, samesite="strict",
    )  # fmt: skip


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"
