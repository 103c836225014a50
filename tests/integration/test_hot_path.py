"""``POST /select`` is served ahead of FastAPI's router (``app.api.hot``); the route FastAPI
declares for it stays the document. Both must answer every request alike: the same
statuses, errors and replies, whatever the body, its media type, the token or the channel.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from emulator import Emulator
from tests.conftest import API_TOKEN
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
]


def _without_the_hot_path(app: FastAPI) -> FastAPI:
    """The same app, answering ``/select`` through FastAPI's declared route."""
    app.router.routes[:] = [
        route for route in app.router.routes
        if not (isinstance(route, Route) and route.endpoint.__module__ == "app.api.hot")
    ]  # fmt: skip
    return app


def _ask(base_url: str, path: str, body: bytes, media: str | None, token: str | None) -> Any:
    headers = {"Content-Type": media} if media else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    reply = httpx.post(base_url + path, content=body, headers=headers, timeout=30)
    document = reply.json()
    if reply.status_code == 200 and document["lease"]:
        # A leasing selection picks at random, and its lease is new: compare the shape.
        return reply.status_code, sorted(document), sorted(document["lease"])
    return reply.status_code, document


@pytest.mark.parametrize(("path", "body", "media", "token"), REQUESTS)
def test_the_hot_path_answers_as_the_declared_route(
    emulator: Emulator,
    start_service: StartService,
    path: str,
    body: bytes,
    media: str | None,
    token: str | None,
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    emulator.put_file("/Photos/b.txt", b"caption")
    service = start_service()
    hot = _ask(service.base_url, path, body, media, token)
    _without_the_hot_path(service.app)
    assert _ask(service.base_url, path, body, media, token) == hot
