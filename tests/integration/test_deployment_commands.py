"""The commands the deployment files run, run for real (no Docker engine needed).

The compose demo profile's emulator command, its healthcheck and the service environment,
the Dockerfile's ``CMD`` and its ``HEALTHCHECK`` probe are taken from the files themselves; only the
ports, the sample directory and the host names a container network would resolve are
swapped for local ones. Each runs as its own process, as in the containers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.conftest import TLS
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


DEMO_TOKEN = "demo-api-token-for-the-emulator-only"  # compose's default for ${DEMO_API_TOKEN}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _dockerfile(instruction: str) -> str:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.split(None, 1) for line in text.splitlines() if line.startswith(instruction)]
    return lines[-1][1]


def _localized(words: list[str], replacements: dict[str, str]) -> list[str]:
    return [replacements.get(word, word) for word in words]


def _clean_environment() -> dict[str, str]:
    """This machine's environment without any unposted setting, as in a fresh container."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "API_"))}


def _emulator_command(samples: Path, emulator_port: int, service_url: str) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    local = {
        "/samples": str(samples),
        "0.0.0.0": "127.0.0.1",
        "8765": str(emulator_port),
        "http://unposted-demo:8000/webhook": f"{service_url}/webhook",
    }
    command = _localized(compose["emulator"]["command"], local)
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def _service_environment(emulator_port: int, state: Path) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    environment = {k: str(v) for k, v in compose["unposted-demo"]["environment"].items()}
    environment["DROPBOX_BASE_URL"] = f"http://127.0.0.1:{emulator_port}"
    environment["STATE_DIR"] = str(state)
    environment["API_TOKEN"] = DEMO_TOKEN
    return _clean_environment() | environment


def _image_command(service_port: int) -> list[str]:
    command = json.loads(_dockerfile("CMD"))
    command = _localized(command, {"0.0.0.0": "127.0.0.1", "8000": str(service_port)})
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def _healthcheck_passes(service_port: int) -> bool:
    probe = _dockerfile("HEALTHCHECK").split(" CMD ", 1)[1]
    command = json.loads(probe.replace("127.0.0.1:8000", f"127.0.0.1:{service_port}"))
    done = subprocess.run([sys.executable, *command[1:]], stderr=subprocess.DEVNULL)
    return done.returncode == 0


def _emulator_healthcheck_passes(emulator_port: int) -> bool:
    """The compose emulator's own healthcheck, its port made the test's."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    test = compose["emulator"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    probe = [word.replace(", 8765)", f", {emulator_port})") for word in test[2:]]
    return subprocess.run([sys.executable, *probe], stderr=subprocess.DEVNULL).returncode == 0


def test_compose_demo_wiring_and_image_commands_work(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    samples = tmp_path / "samples"
    (samples / "Photos").mkdir(parents=True)
    (samples / "Photos" / "first.jpg").write_bytes(b"first image")
    emulator_port, service_port = _free_port(), _free_port()
    service_url = f"http://127.0.0.1:{service_port}"
    emulator = _emulator_command(samples, emulator_port, service_url)
    assert not _emulator_healthcheck_passes(emulator_port), "nothing listens yet"
    processes.append(subprocess.Popen(emulator, cwd=tmp_path, env=_clean_environment()))
    wait_until(lambda: _emulator_healthcheck_passes(emulator_port), 60, interval=0.2)
    environment = _service_environment(emulator_port, tmp_path / "state")
    serve = _image_command(service_port)
    with (tmp_path / "service.log").open("w") as log:  # the child keeps its own copy
        processes.append(subprocess.Popen(serve, cwd=tmp_path, env=environment, stderr=log))

    wait_until(lambda: _healthcheck_passes(service_port), 60, interval=0.2)
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    with httpx.Client(
        base_url=service_url, headers=headers, verify=TLS
    ) as client:  # closed if it fails
        wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        preview = {"dry_run": True}  # offered once fingerprinted (a ``skip`` channel waits)
        wait_until(lambda: client.post("/select", json=preview).status_code == 200, 30)
        assert client.post("/select", json=preview).json()["name"] == "first.jpg"
        (samples / "Photos" / "second.jpg").write_bytes(b"second image")
        second = {"dry_run": True, "name": "second.jpg"}
        wait_until(lambda: client.post("/select", json=second).status_code == 200, 10)

    # docker stop sends SIGTERM; uvicorn shuts down gracefully, then re-raises the signal.
    for process in reversed(processes):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    records = [json.loads(line) for line in (tmp_path / "service.log").read_text().splitlines()]
    events = [record.get("event") for record in records]
    assert events.count("catch_up_complete") >= 2 and events[-1] != "service_start"
    assert "service_stop" in events
    # the process is the service alone: once started, its heap is frozen out of collection
    settled = records[events.index("heap_settled")]
    assert events.index("heap_settled") < events.index("service_start")
    assert settled["frozen"] > 100_000, settled
