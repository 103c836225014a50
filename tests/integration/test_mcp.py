"""``/mcp`` driven by the MCP SDK's own client (Streamable HTTP), against the service and
the emulator: the tools listed and described, a picture leased and confirmed (the HTTP
API's history then shows it), previews, leases released and renewed, holds, lists and
searches, status; a channel's token kept to its channel, a missing or wrong token refused
before any MCP work, and refusals told with the HTTP API's codes."""

from __future__ import annotations

import json
import logging
import re
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from app.api.throttle import LIMIT
from emulator import Emulator, content_hash
from emulator.runner import ThreadedServer
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.pictures import picture

FEED_TOKEN = "feed-token-0001-0123456789abcdefghij"
OTHER_TOKEN = "other-token-0002-0123456789abcdefghij"
CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.feed]
library = "photos"
policy = "name"
api_token_env = "FEED_TOKEN"

[channels.other]
library = "photos"
api_token_env = "OTHER_TOKEN"
"""
PICTURES = 3
TOOLS = {
    "preview_picture", "lease_picture", "confirm_posted", "unpost_picture", "release_lease",
    "renew_lease",
    "lease_state", "hold_picture", "unhold_picture", "list_pictures", "find_pictures",
    "describe_picture", "channel_status", "channel_history", "list_channels",
}  # fmt: skip


@pytest.fixture
def photos(tmp_path: Path, emulator: Emulator, start_service: StartService) -> Service:
    for n in range(PICTURES):
        emulator.put_file(f"/Photos/p{n}.jpg", picture(n))
    emulator.put_file("/Photos/p1.txt", b"A caption.\n")
    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    environ = {"FEED_TOKEN": FEED_TOKEN, "OTHER_TOKEN": OTHER_TOKEN}
    return start_service(unposted_config=path, dropbox_folder=None, environ=environ)


@asynccontextmanager
async def connected(
    base_url: str, token: str | None, statuses: list[int] | None = None
) -> AsyncIterator[ClientSession]:
    """A session of the SDK's client; ``statuses`` collects the HTTP status of each reply."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def note(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async with (
        httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [note]}) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def drive(service: Service | str, token: str, scenario: Callable[[Tools], Awaitable[None]]) -> None:
    """Run ``scenario`` in a session of the SDK's client with ``token``."""
    base_url = service if isinstance(service, str) else service.base_url

    async def run() -> None:
        async with connected(base_url, token) as session:
            await scenario(Tools(session))

    anyio.run(run)


class Tools:
    """Calls a tool; ``ok`` wants its structured reply, ``refused`` its error's code."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def call(self, tool: str, /, **arguments: Any) -> CallToolResult:
        result = await self.session.call_tool(tool, arguments)
        assert isinstance(result, CallToolResult)
        return result

    async def ok(self, tool: str, /, **arguments: Any) -> dict[str, Any]:
        result = await self.call(tool, **arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content

    async def refused(self, tool: str, /, **arguments: Any) -> str:
        result = await self.call(tool, **arguments)
        assert result.is_error
        text = result.content[0]
        assert text.type == "text"
        body = json.loads(text.text)
        assert body == result.structured_content and body["message"]
        code: str = body["error"]
        return code


def test_every_tool_is_listed_described_and_typed(photos: Service) -> None:
    async def scenario(tools: Tools) -> None:
        listed = (await tools.session.list_tools()).tools
        assert {tool.name for tool in listed} == TOOLS
        for tool in listed:
            assert tool.description and len(tool.description) > 40, tool.name
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        lease = next(tool for tool in listed if tool.name == "lease_picture")
        assert lease.annotations is not None and lease.annotations.read_only_hint is False
        described = lease.input_schema["properties"]["lease_seconds"]
        assert described["description"] and described["anyOf"][0]["maximum"] == 86_400

    drive(photos, FEED_TOKEN, scenario)


def test_a_leased_picture_is_confirmed_and_the_api_history_shows_it(photos: Service) -> None:
    seen: dict[str, Any] = {}

    async def scenario(tools: Tools) -> None:
        offer = await tools.ok("lease_picture")
        assert offer["name"] == "p0.jpg" and offer["lease"]["id"]
        seen["link"] = offer["temporary_link"]
        receipt = await tools.ok(
            "confirm_posted", content_hash=offer["content_hash"], lease_id=offer["lease"]["id"]
        )
        assert receipt["content_hash"] == offer["content_hash"] and receipt["lease"] == "ended"
        history = await tools.ok("channel_history")
        assert [entry["content_hash"] for entry in history["items"]] == [offer["content_hash"]]
        assert (await tools.ok("lease_picture", link=False))["name"] == "p1.jpg"

    drive(photos, FEED_TOKEN, scenario)
    assert httpx.get(seen["link"], verify=TLS).content == picture(0)
    history = photos.client.get("/channels/feed/history").json()["items"]
    assert [entry["content_hash"] for entry in history] == [content_hash(picture(0))]
    assert photos.client.get("/channels/other/history").json()["items"] == []


def test_a_post_undone_by_mistake_is_offered_again(photos: Service) -> None:
    first = content_hash(picture(0))

    async def scenario(tools: Tools) -> None:
        assert await tools.refused("unpost_picture", content_hash=first) == "not_posted"
        await tools.ok("confirm_posted", content_hash=first)
        assert (await tools.ok("preview_picture"))["name"] == "p1.jpg"
        undone = await tools.ok("unpost_picture", content_hash=first)
        assert (undone["content_hash"], undone["channel"]) == (first, "feed")
        assert (undone["cycle"], undone["undone_by"]) == (1, "FEED_TOKEN")
        assert (await tools.ok("preview_picture"))["content_hash"] == first
        [entry] = (await tools.ok("channel_history"))["items"]
        assert (entry["content_hash"], entry["undone_by"]) == (first, "FEED_TOKEN")
        assert await tools.refused("unpost_picture", content_hash=first) == "not_posted"
        assert await tools.refused("unpost_picture", content_hash=first, channel="other") == (
            "forbidden"
        )

    drive(photos, FEED_TOKEN, scenario)


def test_a_preview_leases_nothing(photos: Service) -> None:
    async def scenario(tools: Tools) -> None:
        first = await tools.ok("preview_picture")
        assert first["lease"] is None and first["temporary_link"] is None
        assert (await tools.ok("preview_picture"))["content_hash"] == first["content_hash"]
        assert (await tools.ok("list_pictures", state="leased"))["items"] == []
        assert (await tools.ok("channel_status"))["available"] == PICTURES

    drive(photos, FEED_TOKEN, scenario)


def test_a_lease_is_renewed_then_released(photos: Service) -> None:
    async def scenario(tools: Tools) -> None:
        offer = await tools.ok("lease_picture", lease_seconds=60, link=False)
        lease = offer["lease"]["id"]
        renewed = await tools.ok("renew_lease", lease_id=lease, lease_seconds=3600)
        assert renewed["state"] == "active" and renewed["expires_at"] > offer["lease"]["expires_at"]
        assert (await tools.ok("channel_status"))["leased"] == 1
        assert await tools.ok("release_lease", lease_id=lease) == {
            "lease_id": lease,
            "released": True,
        }
        assert (await tools.ok("lease_state", lease_id=lease))["state"] == "released"
        assert (await tools.ok("channel_status"))["leased"] == 0
        assert await tools.refused("renew_lease", lease_id=lease) == "lease_expired"
        assert await tools.refused("release_lease", lease_id="no-such-lease") == "lease_not_found"

    drive(photos, FEED_TOKEN, scenario)


def test_a_held_picture_waits_until_unheld(photos: Service) -> None:
    held = content_hash(picture(0))

    async def scenario(tools: Tools) -> None:
        assert (await tools.ok("hold_picture", content_hash=held.upper()))["held"] is True
        listed = await tools.ok("list_pictures", state="held")
        assert [item["content_hash"] for item in listed["items"]] == [held]
        assert await tools.refused("lease_picture", name="p0.jpg") == "held"
        assert (await tools.ok("preview_picture"))["name"] == "p1.jpg"
        assert (await tools.ok("unhold_picture", content_hash=held))["held"] is False
        assert (await tools.ok("preview_picture"))["content_hash"] == held

    drive(photos, FEED_TOKEN, scenario)


def test_a_hold_with_an_end_says_when_it_ends(photos: Service) -> None:
    held = content_hash(picture(0))

    async def scenario(tools: Tools) -> None:
        until = "2099-12-24T00:00:00Z"
        reply = await tools.ok("hold_picture", content_hash=held, until=until)
        assert (reply["held"], reply["until"]) == (True, until)
        listed = await tools.ok("list_pictures", state="held")
        assert [item["held_until"] for item in listed["items"]] == [until]
        described = await tools.ok("describe_picture", content_hash=held)
        assert described["image"]["held_until"] == until
        for wrong in ("2020-01-01T00:00:00Z", "2099-12-24T00:00:00", "soon"):
            assert await tools.refused("hold_picture", content_hash=held, until=wrong) == (
                "invalid_request"
            )
        assert (await tools.ok("hold_picture", content_hash=held))["until"] is None
        assert (await tools.ok("unhold_picture", content_hash=held))["until"] is None

    drive(photos, FEED_TOKEN, scenario)


def test_pictures_are_listed_a_page_at_a_time_and_found(photos: Service) -> None:
    async def scenario(tools: Tools) -> None:
        first = await tools.ok("list_pictures", limit=2)
        assert [item["name"] for item in first["items"]] == ["p0.jpg", "p1.jpg"]
        rest = await tools.ok("list_pictures", limit=2, after=first["next"])
        assert [item["name"] for item in rest["items"]] == ["p2.jpg"] and rest["next"] is None
        prefixed = await tools.ok("list_pictures", name_prefix="P1")
        assert [item["name"] for item in prefixed["items"]] == ["p1.jpg"]
        found = await tools.ok("find_pictures", ref="p2.jpg")
        p2 = {"content_hash": content_hash(picture(2)), "path": "/Photos/p2.jpg"}
        assert found["matches"] == [p2]
        one = await tools.ok("describe_picture", content_hash=content_hash(picture(1)))
        assert one["sidecars"][0]["caption"] == "A caption."

    drive(photos, FEED_TOKEN, scenario)


def test_nothing_left_and_bad_arguments_are_tool_errors_with_the_contract_codes(
    photos: Service,
) -> None:
    async def scenario(tools: Tools) -> None:
        for _ in range(PICTURES):
            await tools.ok("lease_picture", link=False)
        assert await tools.refused("lease_picture") == "no_new_images"
        assert await tools.refused("preview_picture", name="nothing.jpg") == "not_found"
        assert await tools.refused("hold_picture", content_hash="not-a-hash") == "invalid_request"
        assert await tools.refused("list_pictures", limit=0) == "invalid_request"
        assert await tools.refused("lease_picture", lease_seconds=1.5) == "invalid_request"
        assert await tools.refused("no_such_tool") == "invalid_request"
        status = await tools.ok("channel_status")
        assert status["available"] == 0 and status["leased"] == PICTURES

    drive(photos, FEED_TOKEN, scenario)


def test_a_channel_token_reaches_its_channel_only(photos: Service) -> None:
    async def channel(tools: Tools) -> None:
        listed = await tools.ok("list_channels")
        assert listed == {"channels": [{"name": "feed", "library": "photos"}]}
        assert await tools.refused("lease_picture", channel="other") == "forbidden"
        assert await tools.refused("channel_status", channel="other") == "forbidden"
        assert await tools.refused("channel_history", channel="nowhere") == "forbidden"
        assert (await tools.ok("channel_status", channel="feed"))["leased"] == 0

    async def operator(tools: Tools) -> None:
        names = [entry["name"] for entry in (await tools.ok("list_channels"))["channels"]]
        assert names == ["feed", "other"]
        assert await tools.refused("channel_status") == "channel_required"
        assert await tools.refused("channel_status", channel="nowhere") == "not_found"
        assert (await tools.ok("lease_picture", channel="other", link=False))["lease"]

    drive(photos, FEED_TOKEN, channel)
    drive(photos, API_TOKEN, operator)
    leased = photos.client.get("/channels/other/images", params={"state": "leased"}).json()
    assert len(leased["items"]) == 1
    assert photos.client.get("/channels/feed/images", params={"state": "leased"}).json() == {
        "items": [],
        "next": None,
    }


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdefghijklmnop"])
def test_a_missing_or_wrong_token_is_refused_before_any_mcp_work(
    photos: Service, token: str | None
) -> None:
    headers = ACCEPT | ({"Authorization": f"Bearer {token}"} if token else {})
    for body in (INITIALIZE, {"not": "json-rpc"}):
        reply = httpx.post(f"{photos.base_url}/mcp", json=body, headers=headers, verify=TLS)
        assert reply.status_code == 401, reply.text
        assert reply.json()["error"] == "unauthorized"
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert "mcp-session-id" not in reply.headers

    async def refused() -> None:
        statuses: list[int] = []
        with pytest.raises(ExceptionGroup, match="unhandled errors"):
            async with connected(photos.base_url, token, statuses):
                pass
        assert statuses == [401]

    anyio.run(refused)


def test_a_right_token_gets_an_answer_over_plain_http(photos: Service) -> None:
    headers = ACCEPT | {"Authorization": f"Bearer {FEED_TOKEN}"}
    reply = httpx.post(f"{photos.base_url}/mcp", json=INITIALIZE, headers=headers, verify=TLS)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["serverInfo"]["name"] == "unposted"
    assert "mcp-session-id" not in reply.headers  # stateless: any replica answers the next
    for method in ("GET", "DELETE"):
        refused = httpx.request(method, f"{photos.base_url}/mcp", headers=headers, verify=TLS)
        assert refused.status_code == 405 and refused.json()["error"] == "method_not_allowed"
        assert refused.headers["Allow"] == "POST"
    too_large = {"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"x": "y" * 70_000}}
    refused = httpx.post(f"{photos.base_url}/mcp", json=too_large, headers=headers, verify=TLS)
    assert refused.status_code == 413 and refused.json()["error"] == "too_large"


def test_the_endpoint_starts_and_stops_with_the_app(
    photos: Service, caplog: pytest.LogCaptureFixture
) -> None:
    async def lease(tools: Tools) -> None:
        await tools.ok("lease_picture", link=False)

    drive(photos, FEED_TOKEN, lease)
    with caplog.at_level(logging.INFO):
        photos.server.stop()
    said = [record.getMessage() for record in caplog.records]
    assert said.index("StreamableHTTP session manager shutting down") < said.index(
        "unposted stopped"
    )
    again = ThreadedServer(photos.app).start()  # the same app's lifespan, once more
    try:

        async def still_leased(tools: Tools) -> None:
            assert (await tools.ok("channel_status"))["leased"] == 1

        drive(again.base_url, FEED_TOKEN, still_leased)
    finally:
        again.stop()


def _readme_section() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("\n## MCP")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_names_every_tool_and_its_example_runs(photos: Service) -> None:
    section = _readme_section()
    named = set(re.findall(r"`([a-z_]+)`", " ".join(re.findall(r"^\| (.*?) \|", section, re.M))))
    assert named == TOOLS
    example = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0]
    imports, body = example.split("\n\n", 1)
    assert "http://127.0.0.1:8000/mcp" in body  # the service's default address, here its own
    body = body.replace("http://127.0.0.1:8000", photos.base_url)
    namespace: dict[str, Any] = {}
    source = f"{imports}\n\nasync def example(token):\n{textwrap.indent(body, '    ')}"
    exec(f"{source}    return offer\n", namespace)
    offer = anyio.run(namespace["example"], FEED_TOKEN)
    assert offer["name"] == "p0.jpg" and offer["lease"]["id"]


def test_guessing_tokens_at_mcp_is_throttled_like_the_api(photos: Service) -> None:
    wrong = ACCEPT | {"Authorization": "Bearer wrong-token-0123456789abcdefghijklmnop"}
    statuses = [
        httpx.post(f"{photos.base_url}/mcp", json=INITIALIZE, headers=wrong, verify=TLS).status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses == [401] * LIMIT + [429]
    right = ACCEPT | {"Authorization": f"Bearer {FEED_TOKEN}"}
    assert (
        httpx.post(f"{photos.base_url}/mcp", json=INITIALIZE, headers=right, verify=TLS).status_code
        == 200
    )
