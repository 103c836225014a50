"""``POST /select`` is one declared route (``SelectRoute``) whose plain lane answers a
publisher's plain request ahead of FastAPI's handler, and declines the rest. With or
without the lane, every request is answered alike: the same statuses, errors and replies,
whatever the body, its media type, the token or the channel.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.requests import Request

from app.api.routes import select
from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import StartService

JSON = "application/json"
REQUESTS: list[tuple[str, bytes, str | None, str | None]] = [
    ("/select", b'{"dry_run": true, "name": "a.jpg"}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": true, "name": "A.JPG"}', "application/vnd.x+json", API_TOKEN),
    ("/channels/default/select", b'{"dry_run": true, "name": "b.jpg"}', JSON, API_TOKEN),
    ("/channels/nope/select", b'{"dry_run": true}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": true, "name": "missing.jpg"}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": "yes"}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": true, "colour": 1}', JSON, API_TOKEN),
    ("/select", b'{"lease_seconds": 0, "dry_run": true}', JSON, API_TOKEN),
    ("/select", b"[1, 2]", JSON, API_TOKEN),
    ("/select", b"{not json", JSON, API_TOKEN),
    ("/select", b'{"name": "\xff"}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": true}', "text/plain", API_TOKEN),
    ("/select", b'{"dry_run": true}', None, API_TOKEN),
    ("/select", b'{"dry_run": true, "dry_run": false}', JSON, API_TOKEN),
    ("/select", b'{"dry_run": true}', JSON, "wrong-token"),
    ("/select", b'{"dry_run": true}', JSON, None),
    ("/select", b"", None, API_TOKEN),
    ("/select", b"null", JSON, API_TOKEN),
    ("/select", b"{}", JSON, API_TOKEN),
    (
        "/select",
        b'{"dry_run": true, "name": "a.jpg"}',
        "application/json; charset=utf-8",
        API_TOKEN,
    ),
    ("/select", b'{"lease_seconds": 5.0, "dry_run": true}', JSON, API_TOKEN),
    ("/select", b'{"name": "nope.jpg"}', JSON, API_TOKEN),
    ("/select", b"[" * 100_000, JSON, API_TOKEN),
]
PLAIN = [(b'{"dry_run": true}', JSON), (b"", None), (b"null", JSON), (b"{}", JSON)]
DECLINED = [(b'{"dry_run": true}', "text/plain"), (b'{"dry_run": 1}', JSON), (b"{", JSON)]


async def _declined(request: Request) -> None:
    return None


def _ask(base_url: str, path: str, body: bytes, media: str | None, token: str | None) -> Any:
    headers = {"Content-Type": media} if media else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    reply = httpx.post(base_url + path, content=body, headers=headers, timeout=30, verify=TLS)
    document = reply.json()
    if reply.status_code == 200 and document["lease"]:
        # A leasing selection picks at random, and its lease is new: compare the shape.
        return reply.status_code, sorted(document), sorted(document["lease"])
    return reply.status_code, document


@pytest.mark.parametrize(("path", "body", "media", "token"), REQUESTS)
def test_the_plain_lane_answers_as_fastapi_does(
    emulator: Emulator,
    start_service: StartService,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    body: bytes,
    media: str | None,
    token: str | None,
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    emulator.put_file("/Photos/b.txt", b"caption")
    service = start_service()
    with_the_lane = _ask(service.base_url, path, body, media, token)
    monkeypatch.setattr(select, "_plain", _declined)  # FastAPI's handler answers everything
    assert _ask(service.base_url, path, body, media, token) == with_the_lane


def test_the_lane_takes_plain_requests_only(
    emulator: Emulator, start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    taken: list[bool] = []
    lane = select._plain

    async def watched(request: Request) -> object:
        plain = await lane(request)
        taken.append(plain is not None)
        return plain

    monkeypatch.setattr(select, "_plain", watched)
    for body, media in PLAIN + DECLINED:
        _ask(service.base_url, "/select", body, media, API_TOKEN)
    _ask(service.base_url, "/select", b"{}", JSON, "wrong-token")
    assert taken == [True] * len(PLAIN) + [False] * (len(DECLINED) + 1)
