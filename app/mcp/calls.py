"""One tool call: who asks, on which channel, with which of the service's pieces, and how
a refusal is told.

The endpoint (``app.mcp.endpoint``) identifies the caller before any MCP work and leaves
it in the request's scope; a tool reads it back through its ``Context``, with the pieces
the lifespan handed the routes (``app.api.deps.install``). The channel is chosen as the
HTTP API chooses it (``app.api.deps.channel_for``): the one named, else the token's own,
or for the operator ``default`` or the only one.

A refusal is an MCP tool error (``isError``) whose text, and structured content, is the
HTTP API's error body: ``{"error": code, "message": text}``, the code from
``app.errors.ANSWERS`` (``no_new_images``, ``lease_expired``, ...) or, for the access
checks, the code the HTTP API answers with the same status (``forbidden``, ``not_found``).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.api.access import Caller
from app.api.deps import channel_for
from app.api.errors import _CODES as HTTP_CODES
from app.configuration.file import Config
from app.errors import ChannelRequired, UnpostedError, answer
from app.services.pictures import Pictures
from app.services.posted_state import PostedHistory
from app.services.selection import SelectionService
from app.services.status import StatusReports
from app.sync.worker import SyncWorker

log = logging.getLogger(__name__)

CALLER = "unposted.caller"
"""The scope key under which the endpoint leaves the caller it identified."""

R = TypeVar("R")


class Call:
    """What a tool needs of the request it answers."""

    def __init__(self, ctx: Context) -> None:
        request = ctx.request_context.request
        assert isinstance(request, Request)  # the HTTP transport's: /mcp is served over HTTP
        self._request = request
        self.who: Caller = self._request.scope[CALLER]

    def channel(self, name: str | None) -> str:
        """The channel the call acts on; refused as the HTTP API refuses it."""
        scope = {**self._request.scope, "path_params": {} if name is None else {"channel": name}}
        try:
            return channel_for(Request(scope), self.who)
        except ChannelRequired as exc:
            raise ChannelRequired(f"{exc}; here, name it in `channel`") from None

    def _piece(self, name: str) -> Any:
        return getattr(self._request.app.state, name)

    @property
    def config(self) -> Config:
        config: Config = self._piece("config")
        return config

    @property
    def selection(self) -> SelectionService:
        selection: SelectionService = self._piece("selection")
        return selection

    @property
    def posted(self) -> PostedHistory:
        posted: PostedHistory = self._piece("posted")
        return posted

    @property
    def pictures(self) -> Pictures:
        pictures: Pictures = self._piece("pictures")
        return pictures

    @property
    def status(self) -> StatusReports:
        status: StatusReports = self._piece("status")
        return status

    @property
    def workers(self) -> dict[str, SyncWorker]:
        workers: dict[str, SyncWorker] = self._piece("workers")
        return workers


def refusal(exc: UnpostedError | HTTPException) -> CallToolResult:
    """The tool error that tells ``exc`` as the HTTP API's error body tells it."""
    if isinstance(exc, UnpostedError):
        found = answer(exc)
        body: dict[str, Any] = {"error": found.code, "message": str(exc)}
        if found.retry_after is not None:  # the store cannot answer now: logged as the API logs it
            log.warning(
                "MCP tool answering %s: %s", found.code, exc, extra={"event": "unavailable"}
            )
            body["retry_after"] = found.retry_after
    else:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        body = {"error": code, "message": exc.detail if isinstance(exc.detail, str) else code}
    return _told(body)


def _told(body: dict[str, Any]) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )


async def coded(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """The SDK's own refusals of a tool call told as ours: arguments the tool's schema
    refuses, or an unknown tool, as ``invalid_request``; a crash (the SDK's bare
    ``Error executing tool NAME``, logged with its traceback) as ``internal``, as the
    HTTP API tells its 500. Ours carry their body already and pass unchanged.

    An ``MCPServer`` middleware (provisional in the SDK's 2.x: a test holds it)."""
    result = await call_next(ctx)  # the reply as it goes out: its wire form
    if ctx.method != "tools/call" or not isinstance(result, dict):
        return result
    if not result.get("isError") or result.get("structuredContent") is not None:
        return result
    said = " ".join(str(block.get("text", "")) for block in result.get("content", ()))
    name = (ctx.params or {}).get("name")
    code = "internal" if said == f"Error executing tool {name}" else "invalid_request"
    told = _told({"error": code, "message": said or code})
    return result | told.model_dump(
        by_alias=True, mode="json", include={"content", "structured_content"}
    )


def answered(tool: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R | CallToolResult]]:
    """``tool``, with the service's refusals told as tool errors carrying the contract's
    code. A fatal error (one that never answers a request, ``Answer.status`` None) is not
    a refusal: it goes on to the SDK, which logs it and answers a bare tool error."""

    @functools.wraps(tool)
    async def call(**arguments: Any) -> R | CallToolResult:  # the SDK passes them by name
        try:
            return await tool(**arguments)
        except UnpostedError as exc:
            if answer(exc).status is None:
                raise
            return refusal(exc)
        except HTTPException as exc:
            return refusal(exc)

    return call
