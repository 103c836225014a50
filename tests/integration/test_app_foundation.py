"""The app starts for real: health, readiness, JSON errors, the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import TLS, MakeSettings


def test_health_and_readiness_before_any_catch_up(make_settings: MakeSettings) -> None:
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"] == "not_ready"
        assert "first catch-up" in ready.json()["message"]


def test_every_error_is_json(make_settings: MakeSettings) -> None:
    with TestClient(create_app(make_settings())) as client:
        missing = client.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json() == {"error": "not_found", "message": "Not Found"}
        wrong_method = client.post("/healthz")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"] == "method_not_allowed"


def test_state_dir_is_created(make_settings: MakeSettings, tmp_path: Path) -> None:
    settings = make_settings(state_dir=tmp_path / "deep" / "state")
    with TestClient(create_app(settings)):
        assert settings.database_path.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {
        key: value for key, value in os.environ.items() if not key.startswith(("DROPBOX_", "API_"))
    }
    keep.update({"STATE_DIR": str(tmp_path / "state"), "LOG_FORMAT": "console"}, **extra)
    return keep


def test_cli_help_lists_the_commands(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_cli_env(tmp_path),
        check=True,
    )
    assert "serve" in result.stdout


def test_cli_refuses_bad_config_in_one_line(tmp_path: Path) -> None:
    env = _cli_env(tmp_path, DROPBOX_FOLDER="/Photos", SELECT_POLICY="whenever")
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("unposted: configuration: SELECT_POLICY:")


def test_serve_answers_healthz(tmp_path: Path) -> None:
    port = _free_port()
    env = _cli_env(
        tmp_path,
        DROPBOX_FOLDER="/Photos",
        DROPBOX_ACCESS_TOKEN="token",
        DROPBOX_APP_SECRET="secret",
        API_TOKEN="api-token-0123456789abcdefghijklmn",
        DROPBOX_BASE_URL=f"http://127.0.0.1:{_free_port()}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, verify=TLS)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.1)
        assert reply.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()
