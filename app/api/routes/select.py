"""``POST /select`` (an image, leased), ``POST /release``, and a lease's own routes.

Mounted twice: at the root, acting on the default channel, and under
``/channels/{channel}``. Bodies are strict: unknown fields, strings for booleans and
floats for integers are refused with 422 before anything runs. An empty body means
every default.

``POST /select`` is the one request publishers make all day, and FastAPI's request handler
(solving the dependencies, reading and validating the body through its own layers) costs
about as much as the selection itself. Its route (``SelectRoute``) is declared like any
other, so the declaration is the OpenAPI document and FastAPI's handler answers whatever
is not plain; in front of that handler, a short lane answers the plain request, the one a
publisher sends: a known token and no body, or a JSON body (``application/json``) that
the body model accepts. The lane resolves the same dependencies by the same functions
(``bearer``, ``channel_for``) and calls the same endpoint; it declines everything else
before anything runs, so FastAPI answers it in its own words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.api.access import Caller
from app.api.deps import Authorized, ChannelDep, SelectionDep, bearer, channel_for
from app.api.replies import LeaseInfoReply, RenewReply
from app.api.routes.rendered import rendered_reply
from app.services.selection import SelectOptions, SelectReply, lease_json

router = APIRouter(tags=["selection"], dependencies=[Authorized])

MAX_LEASE_SECONDS = 86_400
LeaseSeconds = Annotated[int | None, Field(ge=1, le=MAX_LEASE_SECONDS)]
LeaseId = Annotated[str, Field(min_length=1, max_length=256)]


class SelectBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dry_run: bool = False
    name: Annotated[str | None, Field(min_length=1, max_length=1024)] = None
    link: bool = False
    lease_seconds: LeaseSeconds = None
    render: bool = False


SELECT_BODY: TypeAdapter[SelectBody | None] = TypeAdapter(SelectBody | None)
"""The body's type as FastAPI validates it (the plain lane validates it the same way)."""


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lease_id: LeaseId


class RenewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lease_seconds: LeaseSeconds = None
    link: bool = False


class SelectRoute(APIRoute):
    """FastAPI's route, with the plain lane in front of its handler (see the module's text)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()

        async def handler(request: Request) -> Response:
            plain = await _plain(request)
            if plain is None:
                return await answer(request)
            who, body = plain
            return await select(
                request, channel_for(request, who), request.app.state.selection, body
            )

        return handler


async def _plain(request: Request) -> tuple[Caller, SelectBody | None] | None:
    """The caller and body of a plain request; None for anything FastAPI should answer."""
    who = bearer(request)[1]
    if who is None:
        return None
    raw = await request.body()
    if not raw:
        return who, None
    if request.headers.get("content-type") != "application/json":
        return None
    try:  # as FastAPI reads it: json.loads, then the body's type
        return who, SELECT_BODY.validate_python(json.loads(raw), from_attributes=True)
    except (ValueError, RecursionError, ValidationError):
        return None


async def select(
    request: Request,
    channel: ChannelDep,
    service: SelectionDep,
    body: Annotated[SelectBody | None, Body()] = None,
) -> Response:
    options = SelectOptions(**body.model_dump(exclude={"render"})) if body else SelectOptions()
    offer = await service.select(channel, options)
    if body is None or not body.render:
        return JSONResponse(offer.as_json())
    return JSONResponse(
        offer.as_json() | {"rendered": await rendered_reply(request, channel, offer)}
    )


router.add_api_route(
    "/select",
    select,
    methods=["POST"],
    response_model=None,
    responses={200: {"model": SelectReply, "description": "an image"}},
    route_class_override=SelectRoute,
)


@router.post("/release", status_code=204)
async def release(body: ReleaseBody, channel: ChannelDep, service: SelectionDep) -> Response:
    await service.release(channel, body.lease_id)
    return Response(status_code=204)


@router.get("/leases/{lease_id}", response_model=LeaseInfoReply)
async def lease(lease_id: LeaseId, channel: ChannelDep, service: SelectionDep) -> dict[str, str]:
    """Whether the lease is still the caller's: ``state`` active, expired, released or posted."""
    return lease_json(await service.lease(channel, lease_id))


@router.post("/leases/{lease_id}/renew", response_model=RenewReply)
async def renew(
    lease_id: LeaseId,
    channel: ChannelDep,
    service: SelectionDep,
    body: Annotated[RenewBody | None, Body()] = None,
) -> dict[str, str | None]:
    """Extend a running lease by ``lease_seconds`` from now (default: the channel's); with
    ``link``, a fresh temporary link too (Dropbox's last four hours, a lease may run longer)."""
    asked = body or RenewBody()
    info = await service.renew(channel, lease_id, asked.lease_seconds)
    link = await service.lease_link(channel, info) if asked.link else None
    return {**lease_json(info), "temporary_link": link}
