"""The service as a real process that tests can SIGKILL, restart and inspect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from emulator import Emulator
from tests.conftest import API_TOKEN
from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``python -m app serve`` against an emulator, with its own state directory."""

    def __init__(self, emulator: Emulator, emulator_url: str, state_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        ours = ("DROPBOX_", "API_", "SYNC_", "LEASE_", "SELECT_")
        self._env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        self._env.update(
            DROPBOX_BASE_URL=emulator_url,
            DROPBOX_ACCESS_TOKEN=emulator.access_token,
            DROPBOX_APP_SECRET=emulator.app_secret,
            DROPBOX_FOLDER="/Photos",
            API_TOKEN=API_TOKEN,
            STATE_DIR=str(state_dir),
            LOG_LEVEL="WARNING",
            **env,
        )
        self._process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10
        )

    def start(self, wait_ready: bool = True) -> ServiceProcess:
        command = [sys.executable, "-m", "app", "serve", "--port", str(self.port)]
        self._process = subprocess.Popen(
            command, env=self._env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, timeout=60, interval=0.05)
        if wait_ready:
            wait_until(lambda: self.client.get("/readyz").status_code == 200, 120, 0.05)
        return self

    def _answers(self) -> bool:
        assert self._process is not None and self._process.poll() is None, "service died"
        try:
            return self.client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no flush, nothing graceful."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=60)

    def close(self) -> None:
        self.kill()
        self.client.close()
