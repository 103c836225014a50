"""``POST /posted``, and the posted state in the publisher's format: export and import.

The import body is read raw, then parsed strictly. It may be up to ``IMPORT_LIMIT_BYTES``
(64 MiB): about a million 64-hex digests (67 bytes each with quotes and comma), far
beyond any publisher's history; a larger body is refused with 413 unread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from app.api.body import accepts_body
from app.api.deps import Authorized, ServicesDep
from app.services.legacy_import import LegacyImport
from app.services.selection import SelectionService, export_json

router = APIRouter(tags=["posted"], dependencies=[Authorized])

IMPORT_LIMIT_BYTES = 64 * 1024 * 1024

HexDigest = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)
]


class PostedBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    content_hash: HexDigest
    lease_id: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    sha256: HexDigest | None = None
    archive: bool = False


@router.post("/posted")
def posted(body: PostedBody, services: ServicesDep) -> dict[str, Any]:
    service = SelectionService.from_services(services)
    reply = service.posted(body.content_hash, body.lease_id, body.sha256, body.archive)
    return reply.as_json()


@router.get("/posted/export")
def export(services: ServicesDep) -> dict[str, list[str]]:
    return export_json(SelectionService.from_services(services).export())


# The body is read raw (size-limited, then parsed strictly), so it is documented here.
_DIGESTS = {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}
_LEGACY_STATE = {
    "anyOf": [
        _DIGESTS,
        {
            "type": "object",
            "required": ["hashes"],
            "additionalProperties": False,
            "properties": {"hashes": _DIGESTS, "dropbox_content_hashes": _DIGESTS},
        },
    ]
}
_IMPORT_BODY = {"required": True, "content": {"application/json": {"schema": _LEGACY_STATE}}}


@router.post("/posted/import", openapi_extra={"requestBody": _IMPORT_BODY})
@accepts_body(IMPORT_LIMIT_BYTES)
async def import_posted(request: Request, services: ServicesDep) -> dict[str, int]:
    raw = await request.body()
    report = await run_in_threadpool(LegacyImport.from_services(services).run, raw)
    return report.as_json()
