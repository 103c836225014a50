"""How a refused tool call is told: the service's errors and the SDK's own refusals, each
as a tool error whose text and structured content are the HTTP API's error body. And the
SDK's server, made, leaves the process's logging as it found it."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from starlette.exceptions import HTTPException

from app.errors import LeaseExpired, NoNewImages, StoreBusy, UnpostedError
from app.mcp.calls import coded, refusal
from app.mcp.server import build_server


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (NoNewImages("No new images to post"), {"error": "no_new_images"}),
        (LeaseExpired("it ran out"), {"error": "lease_expired"}),
        (StoreBusy("held"), {"error": "busy", "retry_after": 1}),
        (HTTPException(403, "this token does not reach that channel"), {"error": "forbidden"}),
    ],
)
def test_an_error_is_told_with_its_contract_code(error: Exception, body: dict[str, Any]) -> None:
    assert isinstance(error, UnpostedError | HTTPException)
    told = refusal(error)
    assert told.is_error and told.structured_content is not None
    assert told.structured_content == body | {"message": told.structured_content["message"]}
    text = told.content[0]
    assert text.type == "text" and json.loads(text.text) == told.structured_content


def sdk_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (
            sdk_error("Error executing tool hold: 1 validation error for holdArguments"),
            "invalid_request",
        ),
        (sdk_error("Unknown tool: nope"), "invalid_request"),
        (sdk_error("Error executing tool hold"), "internal"),  # a crash: logged, told bare
    ],
)
def test_the_sdks_own_refusals_get_a_code(wire: dict[str, Any], code: str) -> None:
    ctx: Any = SimpleNamespace(method="tools/call", params={"name": "hold"})

    async def answer(_: Any) -> dict[str, Any]:
        return wire

    told = anyio.run(coded, ctx, answer)
    assert isinstance(told, dict) and told["isError"] is True
    assert told["structuredContent"] == {"error": code, "message": wire["content"][0]["text"]}
    assert json.loads(told["content"][0]["text"]) == told["structuredContent"]


@pytest.mark.parametrize(
    "wire",
    [
        {"content": [], "structuredContent": {"a": 1}},  # an answer
        sdk_error("x") | {"structuredContent": {"error": "held", "message": "x"}},  # ours
    ],
)
def test_answers_and_our_refusals_pass_unchanged(wire: dict[str, Any]) -> None:
    ctx: Any = SimpleNamespace(method="tools/call", params={"name": "hold"})

    async def answer(_: Any) -> dict[str, Any]:
        return wire

    assert anyio.run(coded, ctx, answer) == wire


def test_making_the_server_leaves_logging_to_the_entry_point() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = []  # as in a script that set up no logging
    try:
        build_server()
        assert root.handlers == [] and root.level == level
    finally:
        root.handlers[:] = handlers
