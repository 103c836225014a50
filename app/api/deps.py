"""Dependency aliases that hand routes what the lifespan built, one line per handler.

The lifespan puts each piece on ``app.state`` under its own name (``install``); a
route asks for the pieces it uses and never for the whole runtime. ``ChannelDep``
resolves the channel a request acts on (the ``{channel}`` in its path, else a channel
token's own, or the default one for the operator) and checks that the caller's token
reaches it: a token that reaches other channels only gets 403, never 404 and never
another channel's data or name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.access import Caller, Tokens
from app.api.throttle import Throttle
from app.configuration.environment import Settings
from app.configuration.file import Config
from app.errors import ChannelRequired
from app.metrics import Metrics
from app.services.pictures import Pictures
from app.services.posted_state import LegacyImport, PostedHistory
from app.services.rotation import RotationKeeper
from app.services.selection import SelectionService
from app.services.status import StatusReports
from app.services.webhooks import Deliverer
from app.sync.worker import SyncWorker
from webhooks.inbox import Inboxes


def install(app: Any, **pieces: object) -> None:
    """Hand the lifespan's pieces to the routes (``app.state.<name>``)."""
    for name, piece in pieces.items():
        setattr(app.state, name, piece)


def _piece(name: str) -> Callable[[Request], Any]:
    async def get(request: Request) -> Any:  # async: no thread hop to read an attribute
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return get


SettingsDep = Annotated[Settings, Depends(_piece("settings"))]
ConfigDep = Annotated[Config, Depends(_piece("config"))]
MetricsDep = Annotated[Metrics, Depends(_piece("metrics"))]
SelectionDep = Annotated[SelectionService, Depends(_piece("selection"))]
LegacyDep = Annotated[LegacyImport, Depends(_piece("legacy"))]
PostedDep = Annotated[PostedHistory, Depends(_piece("posted"))]
StatusDep = Annotated[StatusReports, Depends(_piece("status"))]
WorkersDep = Annotated[dict[str, SyncWorker], Depends(_piece("workers"))]
InboxesDep = Annotated[Inboxes, Depends(_piece("inboxes"))]
PicturesDep = Annotated[Pictures, Depends(_piece("pictures"))]
WebhooksDep = Annotated[Deliverer, Depends(_piece("webhooks"))]
RotationDep = Annotated[RotationKeeper, Depends(_piece("rotation"))]

_bearer = HTTPBearer(auto_error=False)


def bearer(request: Request) -> tuple[str | None, Caller | None]:
    """The bearer token a request offers, read as FastAPI's ``HTTPBearer`` reads it (scheme
    ``Bearer``, any case), and whom it identifies (None for no token or a wrong one)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    offered = token.strip() if scheme.lower() == "bearer" else None
    tokens: Tokens = request.app.state.tokens
    return offered, tokens.caller(offered)


def identify(request: Request) -> Caller:
    """The caller a request's bearer token identifies; 401 for none or a wrong one.

    A wrong token counts against the client's address (``app.api.throttle``).
    """
    offered, found = bearer(request)
    if found is None:
        if offered:  # a guess: counted, or answered 429 if its address guessed too often
            throttle: Throttle = request.app.state.throttle
            throttle.count_failure(request)
        raise HTTPException(401, "missing or wrong bearer token")
    return found


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """``identify``, as a dependency: ``HTTPBearer`` puts the scheme in the OpenAPI document."""
    return identify(request)


CallerDep = Annotated[Caller, Depends(caller)]


async def require_operator(who: CallerDep) -> None:
    if not who.operator:
        raise HTTPException(403, "this route needs the operator's token (API_TOKEN)")


def channel_for(request: Request, who: Caller) -> str:
    """The channel a request acts on: ``{channel}`` in its path, else the caller's own."""
    config: Config = request.app.state.config
    name = request.path_params.get("channel")
    if name is None:
        name = _unprefixed(config, who)
    if not who.may(name):
        raise HTTPException(403, "this token does not reach that channel")
    if name not in config.channels:
        raise HTTPException(404, f"no channel {name!r}")
    return str(name)


def _unprefixed(config: Config, who: Caller) -> str:
    """A route without ``/channels/NAME``: a channel's token acts on its own channel; the
    operator's on ``default`` or the only one. Asked to choose, a token hears of the
    channels it reaches, never of others."""
    if who.operator:
        name = config.default_channel()
        reachable = sorted(config.channels)
    else:
        reachable = sorted(who.channels & config.channels.keys())
        name = reachable[0] if len(reachable) == 1 else None
    if name is None:
        names = ", ".join(reachable)
        raise ChannelRequired(f"this token reaches several channels ({names}): use /channels/NAME")
    return name


async def channel(request: Request, who: CallerDep) -> str:
    return channel_for(request, who)


Authorized = Depends(caller)
Operator = Depends(require_operator)
ChannelDep = Annotated[str, Depends(channel)]
