"""``GET /status`` (catalog and sync counts) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from app.api.deps import Authorized, ServicesDep
from app.metrics import CONTENT_TYPE

router = APIRouter(tags=["status"], dependencies=[Authorized])


@router.get("/status")
def status(services: ServicesDep) -> dict[str, Any]:
    counts = services.store.status()
    health = services.sync.health
    return {
        "images": counts.images,
        "unique_images": counts.unique_images,
        "available": counts.available,
        "leased": counts.leased,
        "posted": counts.posted,
        "without_content_hash": counts.without_content_hash,
        "last_sync_at": counts.last_sync_at,
        "syncing": health.running,
        "cursor": counts.cursor,
        "last_error": health.last_error,
    }


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)
