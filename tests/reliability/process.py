"""The service as a real process that tests can SIGKILL, restart and inspect.

``ServiceProcess(emulator, url, state_dir, **env)`` runs ``python -m app serve`` with
the emulator's credentials (forked from a process that has imported the service:
``tests.reliability.forkserver``); ``env`` overrides any variable (``None`` unsets it). With
``log=PATH`` the process's stderr (JSON log lines) is appended to ``PATH``, so a test
can read the events it logged (``events("library_relisted")``); without, it is dropped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from emulator import Emulator
from tests.conftest import API_TOKEN
from tests.reliability.forkserver import Forked, forkserver
from tests.waiting import wait_until

# One context for every client of a test: making one (the CA bundle read) costs more
# than a request, and these clients speak plain HTTP to 127.0.0.1 anyway.
TLS = ssl.create_default_context()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on ``port`` (from Linux's
    ``/proc``; elsewhere, taken on trust). A port ``free_port`` found free may be another's
    by the time the service binds it: the other then answers in its place."""
    if not Path("/proc/net/tcp").exists():
        return True
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd") if Path(f"/proc/{pid}/fd").exists() else []:
        try:
            held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    for local, _, state, inode in tcp_sockets():
        if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
            return f"socket:[{inode}]" in held
    return False


LISTEN, ESTABLISHED = "0A", "01"  # a socket's state in Linux's table


def tcp_sockets() -> Iterator[tuple[str, str, str, str]]:
    """This machine's TCP sockets from Linux's ``/proc/net/tcp`` and ``tcp6`` (none
    elsewhere): local and remote address (hex ``address:port``), state, inode."""
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if table.exists():
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                yield fields[1], fields[2], fields[3], fields[9]


def nothing_awaits_fingerprint(status: httpx.Response) -> bool:
    """From a ``/status`` reply: nothing listed waits for its fingerprint (a ``skip``
    channel holds it back, and a selection would find nothing yet), in the default
    channel's figures or any library's (a configuration may have no default channel)."""
    if status.status_code != 200:
        return True
    body = status.json()
    libraries = body.get("libraries", {}).values()
    return all(part.get("awaiting_fingerprint", 0) == 0 for part in (body, *libraries))


def service_environment(
    emulator: Emulator, emulator_url: str, state_dir: Path, **env: str | None
) -> dict[str, str]:
    """The environment of ``python -m app`` against ``emulator``; ``None`` unsets a variable."""
    ours = ("DROPBOX_", "API_", "SYNC_", "LEASE_", "SELECT_", "UNPOSTED_", "ARCHIVE_")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    environment.update(
        DROPBOX_BASE_URL=emulator_url,
        DROPBOX_ACCESS_TOKEN=emulator.access_token,
        DROPBOX_APP_SECRET=emulator.app_secret,
        DROPBOX_FOLDER="/Photos",
        API_TOKEN=API_TOKEN,
        STATE_DIR=str(state_dir),
        LOG_LEVEL="WARNING",
    )
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


class ServiceProcess:
    """``python -m app serve`` against an emulator, with its own state directory."""

    def __init__(
        self,
        emulator: Emulator,
        emulator_url: str,
        state_dir: Path,
        log: Path | None = None,
        **env: str | None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # Where its stderr goes: the log asked for, else a file beside its state, so that
        # a service that dies says why.
        self._stderr = log if log is not None else state_dir / "service-stderr.log"
        self._env = service_environment(emulator, emulator_url, state_dir, **env)
        self._process: Forked | None = None
        self._started = False  # once started, the port is the clients' and stays
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=10,
            verify=TLS,
        )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, wait_ready: bool = True) -> ServiceProcess:
        """Start the service, and wait until it answers (and, by default, is ready). Its
        first start moves to another port if the one picked was taken meanwhile; a start
        again keeps its port, which its clients know."""
        for _ in range(3):
            if self._launched():
                break
            if self._started:
                raise AssertionError(f"port {self.port} was taken while the service was down")
            self._move(free_port())
        else:
            raise AssertionError("every port picked for the service was taken before it bound")
        self._started = True
        if wait_ready:
            wait_until(self.ready, 120, 0.05)
            wait_until(self.fingerprinted, 120, 0.05)
        return self

    def _launched(self) -> bool:
        """Launched and answering on its port; False if another process took the port."""
        self._stderr.parent.mkdir(parents=True, exist_ok=True)
        said_before = self._stderr.stat().st_size if self._stderr.exists() else 0
        command = ["serve", "--port", str(self.port)]
        with self._stderr.open("ab") as stderr:
            self._process = forkserver().start(command, self._env, stderr=stderr.fileno())
        try:
            wait_until(self._answers, timeout=60, interval=0.05)
        except AssertionError:
            with self._stderr.open("rb") as said:
                said.seek(said_before)
                if b"Address already in use" in said.read():
                    return False
            raise
        return True

    def _move(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.client.base_url = httpx.URL(self.base_url)

    def ready(self) -> bool:
        reply = self._polled("/readyz")
        return reply is not None and reply.status_code == 200

    def fingerprinted(self) -> bool:
        reply = self._polled("/status")
        return reply is not None and nothing_awaits_fingerprint(reply)

    def _polled(self, path: str) -> httpx.Response | None:
        """One poll of a wait: a reply slower than the client's timeout is "not yet" (the
        wait has a budget of its own; these tests do not time the service's replies)."""
        try:
            return self.client.get(path)
        except httpx.TimeoutException:
            return None

    def _answers(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            said = self._stderr.read_text(errors="replace")[-2000:] if self._stderr.exists() else ""
            raise AssertionError(f"service died (exit {self._process.returncode}): {said}")
        try:
            answered = self.client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False  # nobody listens there yet
        # Only then the table of sockets, which may be long on a busy machine: the answer
        # counts only if it is the service's own, not another's that took the port first.
        return answered and listening(self._process.pid, self.port)

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of ``event`` ``name`` written so far (``log`` must be set)."""
        assert self.log is not None, "start the service with log=PATH to read its events"
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == name:
                found.append(record)
        return found

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
