"""``POST /select`` (an image for a publisher, leased) and ``POST /release`` (give it back).

Bodies are strict: unknown fields, strings for booleans and floats for integers are
refused with 422 before anything runs. An empty body means every default. Handlers
are plain functions, so FastAPI runs them in its threadpool, never on the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import Authorized, ServicesDep
from app.selection import SelectionService, SelectOptions

router = APIRouter(tags=["selection"], dependencies=[Authorized])

MAX_LEASE_SECONDS = 86_400


class SelectBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dry_run: bool = False
    name: Annotated[str | None, Field(min_length=1, max_length=1024)] = None
    link: bool = False
    lease_seconds: Annotated[int | None, Field(ge=1, le=MAX_LEASE_SECONDS)] = None


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lease_id: Annotated[str, Field(min_length=1, max_length=256)]


@router.post("/select")
def select(
    services: ServicesDep, body: Annotated[SelectBody | None, Body()] = None
) -> dict[str, Any]:
    options = SelectOptions(**(body or SelectBody()).model_dump())
    return SelectionService.from_services(services).select(options).as_json()


@router.post("/release", status_code=204)
def release(body: ReleaseBody, services: ServicesDep) -> Response:
    SelectionService.from_services(services).release(body.lease_id)
    return Response(status_code=204)
