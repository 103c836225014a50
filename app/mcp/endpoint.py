"""``/mcp``: the service's tools for agents, over MCP's Streamable HTTP transport.

The SDK's server (``app.mcp.server``) is imported and built only when ``/mcp`` is first
asked, on a worker thread, so that neither ``create_app`` nor the event loop waits for it;
a request arriving meanwhile waits for that one build. Each run of the app's lifespan
(``McpEndpoint.serving``) starts its own session manager the first time it is wanted and
stops it before the store closes. In front of it, each request passes the HTTP API's own
checks before any MCP work: the bearer token is identified as every route identifies it
(``app.api.deps.identify``: 401 for none or a wrong one, counted against the address,
429 once it guessed too often), and the body is read under the API's limits
(``app.api.body_guard``), refusals answered in the API's JSON. The caller identified is
left in the request's scope for the tools (``app.mcp.calls``).

The transport is stateless and answers JSON: each request stands alone, so any replica
can answer it and no session outlives a restart; the token, not a session, says who
asks. With no session and nothing sent unasked, only ``POST`` is served: ``GET`` (a
stream of the server's own messages) and ``DELETE`` (a session's end) answer 405.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from app.api.deps import identify
from app.errors import NotReady

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger(__name__)

PATH = "/mcp"
METHODS = ["GET", "POST", "DELETE"]  # the transport's; all but POST refused after the token
_POST_ONLY = "POST JSON-RPC messages here: this endpoint keeps no stream and no session"
_NOT_READY = "the MCP endpoint is starting or stopping; try again shortly"


class _Run:
    """One run of the lifespan: its session manager, started when first wanted."""

    def __init__(self) -> None:
        self.wanted = asyncio.Event()
        self.ready = asyncio.Event()  # set once the manager runs, or never will
        self.stopping = asyncio.Event()
        self.manager: StreamableHTTPSessionManager | None = None


class McpEndpoint:
    """The ASGI endpoint of ``/mcp``; ``serving()`` runs it inside the app's lifespan."""

    def __init__(self) -> None:
        self._server: MCPServer | None = None  # built once, kept for every run
        self._building = threading.Lock()
        self._run: _Run | None = None

    def route(self) -> Route:
        return Route(PATH, self, methods=METHODS, include_in_schema=False)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve MCP requests until the block ends; then in-flight calls are cancelled."""
        run = _Run()
        task = asyncio.create_task(self._serve(run))
        self._run = run
        try:
            yield
        finally:
            self._run = None
            run.stopping.set()
            run.wanted.set()  # wakes a run never wanted, to end at once
            await task

    async def _serve(self, run: _Run) -> None:
        try:
            await run.wanted.wait()
            if run.stopping.is_set():
                return
            server = await asyncio.to_thread(self._built)
            from app.mcp.server import session_manager

            manager = session_manager(server)
            async with manager.run():
                run.manager = manager
                run.ready.set()
                await run.stopping.wait()
                run.manager = None
        except Exception:
            log.exception("the MCP endpoint could not start")
        finally:
            run.ready.set()

    def _built(self) -> MCPServer:
        """The SDK's server, built by the first caller; a worker thread's work."""
        with self._building:
            if self._server is None:
                from app.mcp.server import build_server

                self._server = build_server()
            return self._server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        who = identify(request)
        if request.method != "POST":  # GET would open a stream nothing is ever sent on
            raise HTTPException(405, _POST_ONLY, headers={"Allow": "POST"})
        run = self._run
        if run is None:
            raise NotReady(_NOT_READY)
        body = await request.body()
        run.wanted.set()
        await run.ready.wait()
        if run.manager is None:
            raise NotReady(_NOT_READY)
        from app.mcp.server import handle

        await handle(run.manager, who, scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the body already read, then the server's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
