"""Who is looking: the person signed in to the console, and the channel they may look at.

``ConsoleAccess`` is built once per app from the configured tokens: the session codec and
whom each token's fingerprint identifies. ``viewer`` reads the session cookie, looks
its holder up among the tokens configured now, and asks the store whether the session
is still open (signing out, on any replica, closes it); no session, one whose token is
no longer configured, or one signed out, is a trip to the sign-in page. ``channel`` is
the ``{channel}`` of a console address, refused (403) when the viewer's token does not
reach it, before it is even looked up, so that a refusal never says whether another
channel exists.
``check_csrf`` guards every form that changes something.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.api.access import Caller, Tokens
from app.configuration.file import Config
from app.console.session import COOKIE, Session, Sessions
from app.services.sessions import SessionRecords


class SignInRequired(Exception):
    """No session: sign in, then come back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.next = next_path


class Forbidden(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)

    def __str__(self) -> str:
        return str(self.detail)


@dataclass(frozen=True)
class ConsoleAccess:
    sessions: Sessions
    tokens: Tokens
    holders: dict[str, Caller]

    @classmethod
    def build(cls, sessions: Sessions, tokens: Tokens) -> ConsoleAccess:
        return cls(sessions, tokens, tokens.by_fingerprint(sessions.fingerprint))


@dataclass(frozen=True)
class Viewer:
    caller: Caller
    session: Session

    @property
    def operator(self) -> bool:
        return self.caller.operator


def access_of(request: Request) -> ConsoleAccess:
    access: ConsoleAccess = request.app.state.console
    return access


def records_of(request: Request) -> SessionRecords:
    """The store's records of open sessions (``app.services.sessions``)."""
    records: SessionRecords = request.app.state.session_records
    return records


def current_session(request: Request) -> Session | None:
    return access_of(request).sessions.read(request.cookies.get(COOKIE))


async def signed_in(request: Request) -> Viewer | None:
    """Who the request's session belongs to, if it is signed in and still open."""
    session = current_session(request)
    caller = access_of(request).holders.get(session.holder) if session else None
    if session is None or caller is None or not session.id:
        return None
    if not await records_of(request).is_open(session.record):
        return None
    return Viewer(caller, session)


async def viewer(request: Request) -> Viewer:
    found = await signed_in(request)
    if found is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    request.state.viewer = found  # for an error page to show who is signed in
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def channel(request: Request, who: ViewerDep) -> str:
    name = str(request.path_params["channel"])
    if not who.caller.may(name):
        raise Forbidden("Your token does not reach this channel.")
    config: Config = request.app.state.config
    if name not in config.channels:
        raise HTTPException(404, f"There is no channel {name!r}.")
    return name


ChannelName = Annotated[str, Depends(channel)]


def check_csrf(who: Viewer, offered: str | None) -> None:
    """Refuse a form without this session's CSRF value (compared in constant time)."""
    if offered is None or not who.session.csrf_matches(offered):
        raise Forbidden("This form has expired or did not come from this console; try again.")
