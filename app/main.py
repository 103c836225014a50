"""``create_app(settings)``: the one factory used by uvicorn, the CLI and the tests.

Nothing is built at import time. The lifespan opens the store and starts the
background work; routes reach them through the aliases in ``app.api.deps``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.api.body import BODY_TIMEOUT_SECONDS
from app.api.body_guard import BodyGuard
from app.api.deps import Authorized
from app.api.errors import ERROR_RESPONSES, install_error_handlers
from app.api.routes import admin, health, posted, resync, select, status, webhook
from app.dropbox.client import RetryPolicy
from app.runtime import Services
from app.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    retry: RetryPolicy | None = None,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
) -> FastAPI:
    """The app; ``retry`` lets tests shorten Dropbox backoffs, ``body_timeout`` the wait
    for a slow request body."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, retry)
        app.state.services = services
        await services.start()
        log.info("unposted started", extra={"event": "service_start"})
        try:
            yield
        finally:
            await services.stop()
            log.info("unposted stopped", extra={"event": "service_stop"})

    app = FastAPI(
        title="unposted",
        summary="A never-posted image from a Dropbox folder, in O(1).",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Every endpoint but /webhook, /healthz and /readyz needs the token (SPEC): the
        # HTML docs cannot send one, so they are off; the schema is served below, guarded.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(BodyGuard, timeout=body_timeout)
    app.include_router(health.router)
    app.include_router(status.router)
    app.include_router(webhook.router)
    app.include_router(resync.router)
    app.include_router(select.router)
    app.include_router(posted.router)
    app.include_router(admin.router)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Authorized])
    def openapi_document() -> dict[str, Any]:
        return app.openapi()

    return app
