"""``python -m app`` started from a process that has already imported the service.

A ``python -m app serve`` spends most of its start importing FastAPI, the Dropbox SDK
and the service (about 0.5 of its 0.9 CPU-seconds to ready), and the suite starts
services by the hundred. So ``ServiceProcess`` asks a fork server instead: one process
per test process (``forkserver()``), which imports all that once, then forks a child for
each start. The child sets its environment, working directory, standard streams and
arguments as ``subprocess.Popen`` would, and runs ``python -m app``'s main as the
program it now is: it exits as any interpreter does (its threads joined, ``atexit``
run), and signals, exit codes and a SIGKILL are a real process's own.

Its parent is the fork server, which reaps it and writes its exit status on the
connection that asked for it: ``Forked`` reads it there, so that a test's handle
behaves as a ``Popen``'s (``poll``, ``wait``, ``returncode``, signals). The fork server
forks only while it runs no thread but its main one, and exits, killing what it
started, when the process that started it goes (its stdin closes).

Protocol, on a Unix socket: one JSON line asks (``argv`` after ``python -m app``,
``env``, ``cwd``, ``stderr``: a file appended to, or None for /dev/null); the server
answers ``{"pid": N}``, then ``{"returncode": R}`` once the child has exited (``-N``
for signal N, as Popen says it).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

# What ``serve`` imports on its way to answering (``app.cli.service``), imported once.
PRELOADED = (
    "app.cli",
    "app.cli.service",
    "app.main",
    "app.services.rotation",
    "app.sync.catch_up",
    "emulator.runner",
    "uvicorn",
)


# -- the server ---------------------------------------------------------------------------


def serve(path: str) -> dict[str, Any]:
    """Fork for every request on ``path`` until stdin closes; returns only in a child,
    with its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    woken_r, woken_w = os.pipe()
    os.set_blocking(woken_w, False)
    signal.set_wakeup_fd(woken_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd is the handler
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listener")
    selector.register(woken_r, selectors.EVENT_READ, "reap")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    print("ready", flush=True)
    asking: dict[int, socket.socket] = {}  # a child's pid -> the connection that asked
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                _kill_all(asking)
                os._exit(0)
            if key.data == "reap":
                os.read(woken_r, 4096)
                _reap(asking)
                continue
            connection, _ = listener.accept()
            request = _read_request(connection)
            assert threading.active_count() == 1, "the fork server must not run threads"
            pid = os.fork()
            if pid == 0:  # the child: nothing of the server's is kept
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                selector.close()
                for held in (listener, connection, *asking.values()):
                    held.close()
                os.close(woken_r)
                os.close(woken_w)
                return request
            asking[pid] = connection
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            _reap(asking)  # a child may have exited before it was in ``asking``


def _read_request(connection: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the request ended before its line did")
        data += chunk
    request: dict[str, Any] = json.loads(data)
    return request


def _reap(asking: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = asking.pop(pid, None)
        if connection is None:
            continue
        returncode = os.waitstatus_to_exitcode(status)
        try:
            connection.sendall(json.dumps({"returncode": returncode}).encode() + b"\n")
        except OSError:  # the test went away first
            pass
        connection.close()


def _kill_all(asking: dict[int, socket.socket]) -> None:
    for pid in asking:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _become(request: dict[str, Any]) -> None:
    """In the child: what ``Popen(["python", "-m", "app", *argv], ...)`` would have set."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    devnull = os.open(os.devnull, os.O_RDWR)
    stderr = devnull
    if request["stderr"] is not None:
        stderr = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(stderr, 2)
    for fd in {devnull, stderr}:
        os.close(fd)
    sys.argv = ["-m", *request["argv"]]


# -- the client ---------------------------------------------------------------------------


class Forked:
    """A child of the fork server, handled as a ``subprocess.Popen``."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._received = b""
        answer = self._answer(None)
        assert answer is not None
        self.pid: int = answer["pid"]
        self.returncode: int | None = None

    def _answer(self, timeout: float | None) -> dict[str, Any] | None:
        """The server's next line, waited for at most ``timeout`` seconds (None: as long as
        it takes, 0: not at all); None if it has not come."""
        self._connection.settimeout(timeout)
        try:
            while b"\n" not in self._received:
                chunk = self._connection.recv(4096)
                if not chunk:
                    raise ConnectionError("the fork server went away")
                self._received += chunk
        except (TimeoutError, BlockingIOError):
            return None
        line, self._received = self._received.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def poll(self) -> int | None:
        if self.returncode is None:
            self._finish(self._answer(0))
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._finish(self._answer(timeout))
        if self.returncode is None:
            raise subprocess.TimeoutExpired(["python", "-m", "app"], timeout or 0)
        return self.returncode

    def _finish(self, answer: dict[str, Any] | None) -> None:
        if answer is not None:
            self.returncode = int(answer["returncode"])
            self._connection.close()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:  # exited, not yet reaped and reported
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The fork server of this process: ``start`` runs ``python -m app *argv`` in a child."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="unposted-forkserver-")
        self._path = str(Path(self._directory.name) / "socket")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver", self._path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline() != b"ready\n":
            raise RuntimeError(f"the fork server did not start (exit {self._process.wait()})")

    def start(self, argv: list[str], env: dict[str, str], stderr: Path | None) -> Forked:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self._path)
        request = {"argv": argv, "env": env, "cwd": os.getcwd(), "stderr": stderr and str(stderr)}
        connection.sendall(json.dumps(request).encode() + b"\n")
        return Forked(connection)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._directory.cleanup()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def forkserver() -> ForkServer:
    """This process's fork server, started on first use and closed at its exit."""
    global _server
    with _server_lock:
        if _server is None:
            _server = ForkServer()
            atexit.register(_server.close)
        return _server


def main() -> None:
    for name in PRELOADED:
        __import__(name)
    request = serve(sys.argv[1])
    _become(request)
    runpy.run_module("app", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
