"""``/mcp``: the service's tools for agents, over MCP's Streamable HTTP transport.

The official SDK's ``MCPServer`` holds the tools (``app.mcp.tools``); its session manager
serves them while the app's lifespan runs (``McpEndpoint.serving``), stopped before the
store closes. In front of it, each request passes the HTTP API's own checks before any
MCP work: the bearer token is identified as every route identifies it
(``app.api.deps.identify``: 401 for none or a wrong one, counted against the address,
429 once it guessed too often), and the body is read under the API's limits
(``app.api.body_guard``), refusals answered in the API's JSON. The caller identified is
left in the request's scope for the tools (``app.mcp.calls``).

The transport is stateless and answers JSON: each request stands alone, so any replica
can answer it and no session outlives a restart; the token, not a session, says who
asks. With no session and nothing sent unasked, only ``POST`` is served: ``GET`` (a
stream of the server's own messages) and ``DELETE`` (a session's end) answer 405.

The SDK's DNS-rebinding check (allowed ``Host`` values) is off: a page a browser loads
cannot supply the bearer token every request needs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from mcp.server import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from app.api.deps import identify
from app.errors import NotReady
from app.mcp.calls import CALLER, answered, coded
from app.mcp.tools import TOOLS

log = logging.getLogger(__name__)

PATH = "/mcp"
METHODS = ["GET", "POST", "DELETE"]  # the transport's; all but POST refused after the token
_POST_ONLY = "POST JSON-RPC messages here: this endpoint keeps no stream and no session"
INSTRUCTIONS = """\
unposted hands out pictures from a Dropbox folder that a channel has never posted.
To publish one: lease_picture (it reserves a picture and gives a temporary link to
download it), post it, then confirm_posted with its content_hash and lease id. If you
do not post it, release_lease. preview_picture shows what would come next without
reserving it. A refused call is a tool error whose text is JSON {"error": code,
"message": text}, with the HTTP API's codes (no_new_images: nothing left to post).
"""


def build_server() -> MCPServer:
    with _logging_left_alone():
        server: MCPServer = MCPServer(
            name="unposted", instructions=INSTRUCTIONS, version="0.1.0", middleware=[coded]
        )
    for tool, hints in TOOLS:
        description = inspect.cleandoc(tool.__doc__ or "")
        server.add_tool(answered(tool), description=description, annotations=hints)
    return server


@contextmanager
def _logging_left_alone() -> Iterator[None]:
    """``MCPServer()`` calls ``logging.basicConfig``: where the root logger has no handler
    yet (a benchmark, a script), that would print every INFO line through a handler of its
    own. Logging is the entry point's to set up (``app.log``): give basicConfig a handler
    to find, so it does nothing."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)


class McpEndpoint:
    """The ASGI endpoint of ``/mcp``; ``serving()`` runs it inside the app's lifespan."""

    def __init__(self) -> None:
        self._server = build_server()
        self._manager: StreamableHTTPSessionManager | None = None

    def route(self) -> Route:
        return Route(PATH, self, methods=METHODS, include_in_schema=False)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve MCP requests until the block ends; then in-flight calls are cancelled.
        A manager runs once, so each lifespan gets its own."""
        self._server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self._server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        who = identify(request)
        if request.method != "POST":  # GET would open a stream nothing is ever sent on
            raise HTTPException(405, _POST_ONLY, headers={"Allow": "POST"})
        manager = self._manager
        if manager is None:
            raise NotReady("the MCP endpoint is starting or stopping; try again shortly")
        body = await request.body()
        await manager.handle_request({**scope, CALLER: who}, _replay(body, receive), send)


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
