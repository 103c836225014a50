"""What a running ``serve`` writes for machines: ``/metrics`` and its JSON log lines.

The service runs as an operator starts it (``python -m app serve``, its own process,
the default JSON log on stderr), wired to the emulator. ``/metrics`` carries no
``_created`` series; the log lines, uvicorn's own among them, carry no ``color_message``
field and no terminal escape codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from emulator import Emulator, EmulatorServer
from tests.conftest import TLS
from tests.postgres import _free_port
from tests.waiting import wait_until

TOKEN = "operator-output-api-token-0123456789abcdef"


@pytest.fixture
def running(
    tmp_path: Path, emulator: Emulator, emulator_server: EmulatorServer
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes], Path]]:
    """``serve`` in a process of its own: a client, the process, the file of its stderr."""
    emulator.put_file("/Photos/first.jpg", b"first image")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "API_"))}
    environment.update(
        DROPBOX_FOLDER="/Photos",
        DROPBOX_BASE_URL=emulator_server.base_url,
        DROPBOX_ACCESS_TOKEN=emulator.access_token,
        DROPBOX_APP_SECRET=emulator.app_secret,
        API_TOKEN=TOKEN,
        STATE_DIR=str(tmp_path / "state"),
        NEAR_DUPLICATE_HASHING="false",
    )
    port, log = _free_port(), tmp_path / "service.log"
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as stderr:  # the child keeps its own copy
        process = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=stderr)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, verify=TLS)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    try:
        wait_until(lambda: _ready(client), 60, interval=0.2)
        yield client, process, log
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
            process.wait()


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_metrics_have_no_created_series(
    running: tuple[httpx.Client, subprocess.Popen[bytes], Path],
) -> None:
    client = running[0]
    assert client.post("/select", json={"dry_run": True}).status_code == 200
    text = client.get("/metrics").text
    samples = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert "unposted_selections_total" in samples and "unposted_catch_up_runs_total" in samples
    assert "unposted_selection_seconds_count" in samples
    assert not [line for line in text.splitlines() if "_created" in line]


def test_json_log_lines_carry_no_colour(
    running: tuple[httpx.Client, subprocess.Popen[bytes], Path],
) -> None:
    client, process, log = running
    assert client.get("/status").status_code == 200
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    uvicorn = [line for line in lines if line["logger"].startswith("uvicorn")]
    # uvicorn gives this line a coloured copy (``color_message``): it must be here, plain.
    assert any(line["message"].startswith("Started server process") for line in uvicorn)
    assert all("color_message" not in line for line in lines)
    assert "\x1b" not in text and "\\u001b" not in text
