"""``/healthz`` (the process runs) and ``/readyz`` (every library's catalog can be trusted).

``/healthz`` touches nothing: it answers while the event loop runs, whatever the store
or Dropbox are doing. ``/readyz`` asks the store, in the store lane; a store that cannot
answer is 503 ``busy``, like every other route.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import StatusDep
from app.api.replies import HealthReply

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthReply)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={200: {"model": HealthReply}})
async def readyz(status: StatusDep) -> JSONResponse | dict[str, str]:
    reasons = await status.unready_reasons()
    if reasons:
        if list(reasons) == ["default"]:
            message = reasons["default"]
        else:
            message = "; ".join(f"library {name}: {why}" for name, why in sorted(reasons.items()))
        return JSONResponse({"error": "not_ready", "message": message}, status_code=503)
    return {"status": "ready"}
