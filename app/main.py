"""``create_app(settings)``: the one factory used by uvicorn, the CLI and the tests.

Nothing is built at import time. The lifespan opens the store and starts the
background work; routes reach them through the aliases in ``app.deps``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.http_errors import install_error_handlers
from app.routes import health
from app.services import Services
from app.settings import Settings
from state.sqlite import SqliteStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqliteStore(settings.database_path)
        app.state.services = Services(settings=settings, store=store)
        log.info("unposted started", extra={"event": "service_start"})
        try:
            yield
        finally:
            store.close()
            log.info("unposted stopped", extra={"event": "service_stop"})

    app = FastAPI(
        title="unposted",
        summary="A never-posted image from a Dropbox folder, in O(1).",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    return app
