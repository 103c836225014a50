"""``POST /select`` (an image, leased), ``POST /release``, and a lease's own routes.

Mounted twice: at the root, acting on the default channel, and under
``/channels/{channel}``. Bodies are strict: unknown fields, strings for booleans and
floats for integers are refused with 422 before anything runs. An empty body means
every default.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.api.deps import Authorized, ChannelDep, SelectionDep
from app.api.replies import LeaseInfoReply, RenewReply, SelectReply
from app.services.selection import SelectOptions, lease_json

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


SELECT_BODY: TypeAdapter[SelectBody | None] = TypeAdapter(SelectBody | None)
"""The body's type as FastAPI validates it (``app.api.hot`` reads it the same way)."""


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lease_id: LeaseId


class RenewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lease_seconds: LeaseSeconds = None
    link: bool = False


@router.post("/select", responses={200: {"model": SelectReply, "description": "an image"}})
async def select(
    channel: ChannelDep, service: SelectionDep, body: Annotated[SelectBody | None, Body()] = None
) -> JSONResponse:
    options = SelectOptions(**(body or SelectBody()).model_dump())
    offer = await service.select(channel, options)
    return JSONResponse(offer.as_json())


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
