"""``/mcp`` costs nothing until it is asked: the app is made and serves without the MCP
SDK loaded, and the first requests, arriving together, share one build of its server."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest

import app.mcp.server
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import StartService
from tests.integration.test_mcp import INITIALIZE

HEADERS = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {API_TOKEN}"}


def test_making_the_app_loads_no_mcp_sdk() -> None:
    code = "import sys, app.main; print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_first_requests_at_once_share_one_build(
    start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    real = app.mcp.server.build_server

    def counted() -> Any:
        built.append(server := real())
        return server

    monkeypatch.setattr(app.mcp.server, "build_server", counted)
    service = start_service()
    assert service.client.get("/healthz").status_code == 200
    assert built == []  # serving, and nothing built yet
    replies: list[httpx.Response] = []
    gate = threading.Barrier(4)

    def ask() -> None:
        gate.wait()
        replies.append(
            httpx.post(f"{service.base_url}/mcp", json=INITIALIZE, headers=HEADERS, verify=TLS)
        )

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reply.status_code for reply in replies] == [200] * 4
    assert all(reply.json()["result"]["serverInfo"]["name"] == "unposted" for reply in replies)
    assert len(built) == 1
