"""``create_app(settings)``: the one factory used by uvicorn, the CLI and the tests.

Nothing is built at import time. The configuration (libraries and channels) is read
when the app is made, so a bad one stops the service before it binds; the lifespan
opens the store, starts the background work, and hands routes their pieces
(``app.api.deps``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import heap
from app.api.access import Tokens
from app.api.body import BODY_TIMEOUT_SECONDS
from app.api.body_guard import BodyGuard
from app.api.deps import install
from app.api.errors import ERROR_RESPONSES, install_error_handlers
from app.api.routes import (
    admin,
    deliveries,
    health,
    history,
    images,
    posted,
    rendered,
    select,
    status,
    webhook,
)
from app.api.throttle import Throttle
from app.configuration.environment import Settings
from app.configuration.file import check_credentials, load_config
from app.console import install_console
from app.console.session import Sessions, session_key
from app.console.viewer import ConsoleAccess
from app.dropbox.client import RetryPolicy
from app.log import flush_logging
from app.mcp import McpEndpoint
from app.runtime import Runtime
from app.services.sessions import SessionRecords

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    retry: RetryPolicy | None = None,
    environ: Mapping[str, str] | None = None,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
    throttle: Throttle | None = None,
    clock: Callable[[], float] = time.time,
    whole_process: bool = False,
) -> FastAPI:
    """The app; ``retry`` lets tests shorten Dropbox backoffs, ``body_timeout`` the wait
    for a slow request body, ``throttle`` give guessing its own clock, ``clock`` seasons
    theirs; ``environ`` holds the variables a configuration file names (default: the
    process environment); ``whole_process``: the app is all its process runs (``serve``),
    whose heap is settled once it has started (``app.heap``)."""
    config = load_config(settings, os.environ if environ is None else environ)
    check_credentials(config, settings)
    tokens = Tokens(
        settings.api_token,
        {n: c.api_token for n, c in config.channels.items()},
        {n: c.api_token_env for n, c in config.channels.items()},
    )
    console = ConsoleAccess.build(Sessions(session_key(settings.api_token)), tokens)
    guessing = Throttle() if throttle is None else throttle
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, config, retry, clock)
        install(
            app, settings=settings, config=config, tokens=tokens, metrics=runtime.metrics,
            selection=runtime.selection, legacy=runtime.legacy, posted=runtime.posted,
            status=runtime.status, workers=runtime.workers, inboxes=runtime.inboxes,
            pictures=runtime.pictures, console=console, throttle=guessing,
            session_records=SessionRecords(runtime.store.sessions, runtime.lanes),
            renders=runtime.renders, webhooks=runtime.webhooks, rotation=runtime.rotation,
        )  # fmt: skip
        app.state.runtime = runtime  # for tests and benchmarks to observe; routes never use it
        await runtime.start()
        if whole_process:
            heap.settle()
        log.info("unposted started", extra={"event": "service_start"})
        try:
            async with mcp.serving():  # stops first: no tool call outlives the store
                yield
        finally:
            await runtime.stop()
            log.info("unposted stopped", extra={"event": "service_stop"})
            # uvicorn ends a process stopped by a signal with that signal: no exit hooks run.
            flush_logging()

    app = FastAPI(
        title="unposted",
        summary="A never-posted image from a Dropbox folder, in O(1).",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # The console serves /docs, /redoc and /openapi.json, behind the tokens (app.console.docs).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # The service's own metrics are Prometheus' (/metrics); OpenTelemetry's hooks would
        # cost every request a provider lookup for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    app.add_middleware(BodyGuard, timeout=body_timeout)
    for prefix in ("", "/channels/{channel}"):  # first: POST /select is matched all day
        app.include_router(select.router, prefix=prefix)
    app.include_router(webhook.router)  # then the bursts Dropbox sends
    app.include_router(health.router)
    app.include_router(status.operator_router)
    app.include_router(admin.resync_router)
    app.include_router(rendered.router)
    for prefix in ("", "/channels/{channel}"):  # the default channel, and each by name
        routers = (posted.router, status.router, admin.router, images.router, history.router,
                   deliveries.router)  # fmt: skip
        for router in routers:
            app.include_router(router, prefix=prefix)
    app.router.routes.append(mcp.route())

    install_console(app)
    return app
