"""The SDK's side of ``/mcp``: the ``MCPServer`` holding the tools (``app.mcp.tools``) and,
for each run of the app, its stateless JSON session manager.

Importing this module imports the ``mcp`` SDK and building the server makes every tool's
schema: the endpoint (``app.mcp.endpoint``) does both only when ``/mcp`` is first asked.

The SDK's DNS-rebinding check (allowed ``Host`` values) is off: a page a browser loads
cannot supply the bearer token every request needs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from app.api.access import Caller
from app.mcp.calls import CALLER, answered, coded
from app.mcp.tools import TOOLS

PATH = "/mcp"
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


def session_manager(server: MCPServer) -> StreamableHTTPSessionManager:
    """A new manager for ``server``: a manager runs once, so each run of the app gets its own."""
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager


async def handle(
    manager: StreamableHTTPSessionManager, who: Caller, scope: Scope, receive: Receive, send: Send
) -> None:
    """One request, the caller left in its scope for the tools (``app.mcp.calls``)."""
    await manager.handle_request({**scope, CALLER: who}, receive, send)
