"""Signing in to the console with a token, and out again (here, or everywhere).

The sign-in page gives the browser a session with no holder yet, only a CSRF value, so
that the sign-in form too is refused unless it came from this page. A token that
identifies someone (``app.api.access``) gets a new session, and so a new CSRF value,
naming the token by its fingerprint and recorded in the store; the token itself is
kept nowhere. A wrong token counts against the address it came from, and an address
that guessed too often is answered 429 (``app.api.throttle``); a right one always signs
in. Signing out deletes the session's record, so the cookie, and any copy of it, stops
working at once on every replica; the operator may sign everyone out.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's
page sends it) and ``Secure`` when the page came over https: uvicorn sets the scheme
from ``X-Forwarded-Proto`` only for proxies it trusts (``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.throttle import Throttle, TooManyAttempts
from app.console.forms import local_path, read_form
from app.console.pages import ConsoleRoute, render, see_other
from app.console.session import COOKIE, LIFETIME, Session
from app.console.viewer import (
    Forbidden,
    ViewerDep,
    access_of,
    check_csrf,
    current_session,
    records_of,
    signed_in,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/console/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await signed_in(request) is not None:
        return see_other(local_path(next))
    session = current_session(request)
    if session is None or session.id:
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
        return _refused(request, target, session)
    signed, cookie = access.sessions.issue(access.sessions.fingerprint(token))
    await records_of(request).open(signed.record, signed.holder, signed.expires_at)
    response = see_other(target)
    _set_cookie(request, response, cookie)
    return response


@router.post("/console/sign-out")
async def sign_out(request: Request, who: ViewerDep) -> Response:
    check_csrf(who, (await read_form(request)).get("csrf"))
    await records_of(request).end(who.session.record)
    return _signed_out(request)


@router.post("/console/sign-out-everywhere")
async def sign_out_everywhere(request: Request, who: ViewerDep) -> Response:
    """The operator ends every console session, on every replica, their own included."""
    check_csrf(who, (await read_form(request)).get("csrf"))
    if not who.operator:
        raise Forbidden("Only the operator's token may sign everyone out.")
    await records_of(request).end_every()
    return _signed_out(request)


def _refused(request: Request, target: str, session: Session) -> Response:
    """A wrong token: counted against its address, or 429 if that address guessed too often."""
    throttle: Throttle = request.app.state.throttle
    try:
        throttle.count_failure(request)
    except TooManyAttempts as exc:
        problem = f"Too many wrong tokens from your address: try again in {exc.retry_after} s."
        page = _again(request, target, problem, session, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return _again(request, target, "That token is not one this service knows.", session)


def _again(
    request: Request, target: str, problem: str, session: Session | None = None, status: int = 401
) -> Response:
    """The sign-in page again, with what went wrong (and a fresh session if it had none)."""
    cookie = None
    if session is None:
        session, cookie = access_of(request).sessions.issue()
    page = render(request, "sign_in.html", None, status, next=target, problem=problem,
                  form_csrf=session.csrf)  # fmt: skip
    if cookie is not None:
        _set_cookie(request, page, cookie)
    return page


def _signed_out(request: Request) -> Response:
    response = see_other("/console/sign-in")
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True,
                           samesite="strict")  # fmt: skip
    return response


def _set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=LIFETIME, path="/", secure=_secure(request),
        httponly=True, samesite="strict",
    )  # fmt: skip


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"
