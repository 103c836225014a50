"""The HTTP face of the emulator: Dropbox API v2 routes on one Starlette app.

``create_app(*accounts)`` serves the api, content and notify hosts' routes under their
Dropbox paths (``/2/files/list_folder`` ...), ``/oauth2/token``, and ``/temp/<token>`` for
temporary links. Handlers parse arguments (:mod:`emulator.args`), run the account work in
the thread pool, and shape Dropbox's replies; errors become Dropbox's wire forms in one
set of exception handlers. Each request first goes to its account (:mod:`emulator.routing`),
then through that account's faults and counters (:mod:`emulator.middleware`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulator import args, content_host
from emulator.auth import OAuthError
from emulator.control import Emulator
from emulator.errors import AccountError, AuthFailure, BadInput, LookupFailure, nested
from emulator.model import JsonDict, normalize
from emulator.routing import AccountRouter, account_of

logger = logging.getLogger(__name__)

LONGPOLL_STEP = 0.05


@dataclass(frozen=True)
class Call:
    """One RPC call: the emulator, its JSON arguments, and the base URL it came to."""

    emu: Emulator
    arguments: JsonDict
    base_url: str


Handler = Callable[[Call], JsonDict]


def create_app(*accounts: Emulator) -> AccountRouter:
    """The ASGI app serving ``accounts`` (one Dropbox app's); wrap nothing else around it."""
    routes = [Route(f"/2/{name}", _rpc(name, handler), methods=["POST"]) for name, handler in RPC]
    routes += [
        Route("/2/files/list_folder/longpoll", _longpoll, methods=["POST"]),
        Route("/oauth2/token", _token, methods=["POST"]),
        *content_host.ROUTES,
    ]
    app = Starlette(routes=routes, exception_handlers=_EXCEPTION_HANDLERS)
    return AccountRouter(app, accounts)


def _rpc(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        emu = account_of(request)
        emu.tokens.check_bearer(request.headers.get("authorization"))
        call = Call(emu, args.parse_json(await request.body()), str(request.base_url))
        return JSONResponse(await run_in_threadpool(handler, call))

    endpoint.__name__ = name.replace("/", "_")
    return endpoint


# --- RPC handlers (run in the thread pool) ------------------------------------------


def _list_folder(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    listing = args.listing(arguments)
    with nested("path"):
        args.check_well_formed(listing[0])
        page = emu.lister.list_folder(*listing)
    return _page_json(page.entries, page.cursor, page.has_more)


def _continue(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    cursor = args.string(arguments, "cursor")
    if emu.faults.take_reset():
        raise AccountError("reset")
    with nested("path"):
        page = emu.lister.continue_(cursor)
    return _page_json(page.entries, page.cursor, page.has_more)


def _latest_cursor(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    listing = args.listing(arguments)
    with nested("path"):
        args.check_well_formed(listing[0])
        return {"cursor": emu.lister.start(*listing).encode()}


def _get_metadata(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    path = args.read_path(arguments)
    with nested("path"):
        args.check_well_formed(path)
        node = emu.account.get(path)
        if node is not None:
            return node.to_json()
        tombstone = emu.account.tombstone(path)
        if tombstone is not None and args.flag(arguments, "include_deleted"):
            return tombstone.to_json()
        raise LookupFailure("not_found")


def _temporary_link(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    path = args.read_path(arguments)
    with nested("path"):
        args.check_well_formed(path)
        meta, token = emu.temporary_link(path)
    return {"metadata": meta.to_json(), "link": f"{call.base_url}temp/{token}"}


def _move(call: Call) -> JsonDict:
    emu, arguments = call.emu, call.arguments
    from_path, to_path = args.string(arguments, "from_path"), args.string(arguments, "to_path")
    for name, value in (("from_path", from_path), ("to_path", to_path)):
        args.check_write_path(name, value)
    with nested("from_lookup"):
        args.check_well_formed(from_path)
    with nested("to"):  # a WriteError, which has malformed_path too
        args.check_well_formed(to_path)
        normalize(to_path)
    with nested("from_lookup"):
        moved = emu.move(from_path, to_path, args.flag(arguments, "autorename"))
    return {"metadata": moved.to_json()}


def _current_account(call: Call) -> JsonDict:
    return {
        "account_id": call.emu.account_id,
        "name": {
            "given_name": "Emu",
            "surname": "Lator",
            "familiar_name": "Emu",
            "display_name": "Emu Lator",
            "abbreviated_name": "EL",
        },
        "email": "emulator@example.invalid",
        "email_verified": True,
        "disabled": False,
        "country": "US",
        "locale": "en",
        "referral_link": "https://db.tt/emulator",
        "is_paired": False,
        "account_type": {".tag": "basic"},
        "root_info": {
            ".tag": "user",
            "root_namespace_id": "1000000001",
            "home_namespace_id": "1000000001",
        },
    }


RPC: list[tuple[str, Handler]] = [
    ("files/list_folder", _list_folder),
    ("files/list_folder/continue", _continue),
    ("files/list_folder/get_latest_cursor", _latest_cursor),
    ("files/get_metadata", _get_metadata),
    ("files/get_temporary_link", _temporary_link),
    ("files/move_v2", _move),
    ("users/get_current_account", _current_account),
]


def _page_json(entries: list[Any], cursor: str, has_more: bool) -> JsonDict:
    return {"entries": [e.to_json() for e in entries], "cursor": cursor, "has_more": has_more}


# --- routes with their own shapes ---------------------------------------------------


async def _longpoll(request: Request) -> Response:
    """No Authorization; answers as soon as the cursor's scope changes, else at timeout."""
    emu = account_of(request)
    arguments = args.parse_json(await request.body())
    cursor, timeout = args.string(arguments, "cursor"), args.longpoll_timeout(arguments)
    deadline = time.monotonic() + timeout
    changed = False
    while not changed and time.monotonic() < deadline and not emu.closing.is_set():
        try:
            changed, advanced = await run_in_threadpool(emu.lister.has_changes, cursor)
        except LookupFailure:
            changed = True  # the folder is gone: continue will say so
            break
        cursor = advanced.encode()
        if not changed:
            await asyncio.sleep(LONGPOLL_STEP)
    reply: JsonDict = {"changes": changed}
    if emu.longpoll_backoff is not None:
        reply["backoff"] = emu.longpoll_backoff
    return JSONResponse(reply)


async def _token(request: Request) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    form.update(request.query_params)
    try:
        grant = account_of(request).tokens.grant(form, request.headers.get("authorization"))
    except OAuthError as exc:
        body = {"error": exc.code, "error_description": exc.description}
        return JSONResponse(body, status_code=400)
    return JSONResponse(grant.to_json())


# --- errors -------------------------------------------------------------------------


async def _account_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccountError)
    return JSONResponse(exc.body(), status_code=409)


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthFailure)
    return JSONResponse(exc.body(), status_code=401)


async def _bad_input(request: Request, exc: Exception) -> Response:
    route = request.url.path.removeprefix("/2/")
    text = f'Error in call to API function "{route}": {exc}'
    return PlainTextResponse(text, status_code=400)


_EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    AccountError: _account_error,
    AuthFailure: _auth_error,
    BadInput: _bad_input,
}
