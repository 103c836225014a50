"""Several accounts behind one server: which account a request belongs to.

Each :class:`~emulator.control.Emulator` is one Dropbox account of one app. A request is
routed to the account that issued its bearer token; ``oauth2/token`` to the account that
owns the refresh token in its form; ``list_folder/longpoll``, which carries no
``Authorization``, to the account whose journal its cursor indexes; a temporary link to
the account that made it. A request that names no account (no or unknown token, a cursor
that doesn't decode or isn't ours) goes to the first account, whose answer is then the
401, 400 or ``reset`` it deserves. With one account nothing is parsed: every request is
that account's, exactly as before several were possible.

The chosen account is put in the ASGI scope under ``"emulator"`` and the request handed to
that account's own faults-and-counters layer, so faults and counters stay per account.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.control import Emulator
from emulator.errors import BadInput
from emulator.listing import Cursor
from emulator.middleware import FaultsAndCounters

SCOPE_KEY = "emulator"
_REMEMBERED_TOKENS = 100_000


def account_of(request: Request) -> Emulator:
    """The account a request was routed to."""
    emu: Emulator = request.scope[SCOPE_KEY]
    return emu


def check_one_app(accounts: Sequence[Emulator]) -> None:
    """Refuse accounts that could not all belong to one Dropbox app, or that clash."""
    if not accounts:
        raise ValueError("an EmulatorServer needs at least one Emulator")
    if not all(isinstance(emu, Emulator) for emu in accounts):
        raise TypeError("accounts must be Emulators; pass host= and port= by name")
    first = accounts[0]
    for emu in accounts[1:]:
        if (emu.app_key, emu.app_secret) != (first.app_key, first.app_secret):
            raise ValueError(
                "all accounts of one server belong to one Dropbox app: "
                f"{emu.account_id} has app key {emu.app_key!r} (or a different secret), "
                f"{first.account_id} has {first.app_key!r}"
            )
    for what in ("account_id", "user_id", "access_token", "refresh_token"):
        values = [getattr(emu, what) for emu in accounts]
        if len(set(values)) != len(values):
            raise ValueError(f"two accounts share a {what}; give each its own")


class AccountRouter:
    """The outermost ASGI layer: picks the account, then runs its faults and counters."""

    def __init__(self, app: ASGIApp, accounts: Sequence[Emulator]) -> None:
        check_one_app(accounts)
        self.accounts = list(accounts)
        self._layers = {id(emu): FaultsAndCounters(app, emu) for emu in self.accounts}
        self._by_token: dict[str, Emulator] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        emu = self.accounts[0]
        if scope["type"] == "http" and len(self.accounts) > 1:
            emu, receive = await self._choose(scope, receive)
        scope[SCOPE_KEY] = emu
        await self._layers[id(emu)](scope, receive, send)

    async def _choose(self, scope: Scope, receive: Receive) -> tuple[Emulator, Receive]:
        path: str = scope["path"]
        if path == "/oauth2/token":
            body, receive = await _buffered(receive)
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            form.update(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            return self._owner(lambda e: e.refresh_token == form.get("refresh_token")), receive
        if path == "/2/files/list_folder/longpoll":
            body, receive = await _buffered(receive)
            journal = _journal_of(body)
            return self._owner(lambda e: e.account.journal_id == journal), receive
        if path.startswith("/temp/"):
            token = path.removeprefix("/temp/")
            return self._owner(lambda e: e.resolve_link(token) is not None), receive
        return self._owner_of_token(_bearer(scope)), receive

    def _owner_of_token(self, bearer: str) -> Emulator:
        """The account that issued ``bearer``, remembered by token and checked again at each
        request (a thousand accounts asked one by one cost the server more than the call)."""
        known = self._by_token.get(bearer)
        if known is not None and known.tokens.owns(bearer):
            return known
        emu = self._owner(lambda e: e.tokens.owns(bearer))
        if emu.tokens.owns(bearer):
            if len(self._by_token) >= _REMEMBERED_TOKENS:
                self._by_token.clear()
            self._by_token[bearer] = emu
        return emu

    def _owner(self, owns: Callable[[Emulator], bool]) -> Emulator:
        return next((emu for emu in self.accounts if owns(emu)), self.accounts[0])


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text.removeprefix("Bearer ").strip()
    return ""


def _journal_of(body: bytes) -> str | None:
    """The journal id in a longpoll body's cursor, or None if there is none to read."""
    try:
        cursor = json.loads(body).get("cursor")
        return Cursor.decode(cursor).journal if isinstance(cursor, str) else None
    except (ValueError, AttributeError, BadInput):
        return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and a ``receive`` that hands it over again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
