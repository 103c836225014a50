"""``POST /admin/resync``: a full re-list of the folder, reconciled against the catalog."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import Authorized, ServicesDep

router = APIRouter(tags=["admin"], dependencies=[Authorized])


@router.post("/admin/resync", status_code=202)
async def resync(services: ServicesDep) -> dict[str, str]:
    services.sync.request_relist()
    return {"status": "accepted", "message": "a full re-list will run in the background"}
