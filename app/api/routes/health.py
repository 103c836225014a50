"""``/healthz`` (the process runs) and ``/readyz`` (the catalog can be trusted)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(services: ServicesDep) -> JSONResponse | dict[str, str]:
    reason = services.unready_reason()
    if reason is not None:
        return JSONResponse({"error": "not_ready", "message": reason}, status_code=503)
    return {"status": "ready"}
