"""``python -m app`` started from a process that has already imported the service.

A ``python -m app serve`` spends most of its start importing FastAPI, the Dropbox SDK
and the service (about 0.5 of its 0.9 CPU-seconds to ready), a command such as
``python -m app select`` most of its 0.3, and the suite runs them by the hundred. So
``ServiceProcess`` and the tests of commands ask a fork server instead: one process per
test process (``forkserver()``), which imports all that once, then forks a child for
each start (``start``; ``run`` for a command's output, as ``subprocess.run`` gives it).
The child sets its environment, working directory, standard streams and arguments as
``subprocess.Popen`` would, and runs ``python -m app``'s main as the program it now is:
it exits as any interpreter does (its threads joined, ``atexit`` run), and signals,
exit codes and a SIGKILL are a real process's own. Tests about how the interpreter
starts (``test_startup_messages.py``, ``test_cli_imports.py``) start it themselves.

Its parent is the fork server, which reaps it and writes its exit status on the
connection that asked for it: ``Forked`` reads it there, so that a test's handle
behaves as a ``Popen``'s (``poll``, ``wait``, ``returncode``, signals). The fork server
forks only while it runs no thread but its main one, and exits, killing what it
started, when the process that started it goes (its stdin closes).

Protocol, on a Unix socket: one byte that carries the child's stdin, stdout and stderr
as descriptors (``socket.send_fds``), then one JSON line (``argv`` after
``python -m app``, ``env``, ``cwd``); the server answers ``{"pid": N}``, then
``{"returncode": R}`` once the child has exited (``-N`` for signal N, as Popen says).
"""

from __future__ import annotations

import atexit
import gc
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
import time
from pathlib import Path
from typing import Any

# What ``serve`` imports on its way to answering (``app.cli.service``), imported once;
# then what a child imported later, each time (a profile of the suite's children): the
# stores, numpy for near-duplicates, uvicorn's protocols and loop, HTTP clients, HEIF.
PRELOADED = (
    "app.cli",
    "app.cli.remote",
    "app.cli.service",
    "app.main",
    "app.services.rotation",
    "app.sync.catch_up",
    "emulator.runner",
    "httpcore",
    "pillow_heif",
    "state.neighbours",
    "state.postgres",
    "state.sqlite",
    "uvicorn",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "uvloop",
)


# -- the server ---------------------------------------------------------------------------


def serve(path: str) -> None:
    """Fork for every request on ``path`` until stdin closes; returns only in a child,
    which has become what was asked for (``_become``)."""
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
            streams, request = _read_request(connection)
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
                _become(request, streams)
                return
            for fd in streams:  # the child's now
                os.close(fd)
            asking[pid] = connection
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            _reap(asking)  # a child may have exited before it was in ``asking``


def _read_request(connection: socket.socket) -> tuple[list[int], dict[str, Any]]:
    """The child's stdin, stdout and stderr (sent with the first byte), and its request."""
    _, streams, _, _ = socket.recv_fds(connection, 1, 3)
    if len(streams) != 3:
        raise ConnectionError(f"a request comes with 3 descriptors, not {len(streams)}")
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the request ended before its line did")
        data += chunk
    request: dict[str, Any] = json.loads(data)
    return streams, request


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


def _become(request: dict[str, Any], streams: list[int]) -> None:
    """In the child: what ``Popen(["python", "-m", "app", *argv], ...)`` would have set."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    for fd in set(streams) - {0, 1, 2}:
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


def _feed(fd: int, data: bytes) -> None:
    """Write ``data`` to a child's stdin, then close it (the child may not read it all)."""
    try:
        with open(fd, "wb") as pipe:
            pipe.write(data)
    except BrokenPipeError:
        pass


def _drain(fds: list[int], deadline: float) -> dict[int, bytes]:
    """Everything written to ``fds`` until each is closed, read side by side; each closed."""
    said = dict.fromkeys(fds, b"")
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        try:
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired([], 0)
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        said[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
        finally:
            for fd in fds:
                os.close(fd)
    return said


class ForkServer:
    """A fork server of this process: ``start`` runs ``python -m app *argv`` in a child.
    ``prefix``: a command that starts the server, and so every child, the way it would
    start a ``python -m app`` (``setpriv`` with fewer capabilities, say)."""

    def __init__(self, prefix: tuple[str, ...] = ()) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="unposted-forkserver-")
        self._path = str(Path(self._directory.name) / "socket")
        self._process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "tests.reliability.forkserver", self._path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline() != b"ready\n":
            raise RuntimeError(f"the fork server did not start (exit {self._process.wait()})")

    def start(
        self,
        argv: list[str],
        env: dict[str, str],
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        cwd: Path | None = None,
    ) -> Forked:
        """``python -m app *argv`` with ``env``, in ``cwd`` (None: this process's); each
        stream a descriptor (None: /dev/null), which the child gets a copy of."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self._path)
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            streams = [devnull if fd is None else fd for fd in (stdin, stdout, stderr)]
            socket.send_fds(connection, [b"\0"], streams)  # the descriptors, on one byte
        finally:
            os.close(devnull)
        request = {"argv": argv, "env": env, "cwd": str(cwd or os.getcwd())}
        connection.sendall(json.dumps(request).encode() + b"\n")
        return Forked(connection)

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        input: str | None = None,
        timeout: float = 120,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """As ``subprocess.run([python, -m, app, *argv], capture_output=True, text=True)``."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if input is not None else (None, None)
        try:
            child = self.start(argv, env, in_r, out_w, err_w, cwd)
        finally:
            for fd in (in_r, out_w, err_w):
                if fd is not None:
                    os.close(fd)
        feeding = None
        if in_w is not None:
            feeding = threading.Thread(target=_feed, args=(in_w, (input or "").encode()))
            feeding.start()
        try:
            said = _drain([out_r, err_r], time.monotonic() + timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise subprocess.TimeoutExpired(["python", "-m", "app", *argv], timeout) from None
        finally:
            if feeding is not None:
                feeding.join()
        returncode = child.wait(timeout)
        stdout, stderr = (said[fd].decode(errors="replace") for fd in (out_r, err_r))
        return subprocess.CompletedProcess(
            ["python", "-m", "app", *argv], returncode, stdout, stderr
        )

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._directory.cleanup()


_servers: dict[tuple[str, ...], ForkServer] = {}
_servers_lock = threading.Lock()


def forkserver(prefix: tuple[str, ...] = ()) -> ForkServer:
    """This process's fork server (behind ``prefix``), started on first use and closed at
    its exit."""
    with _servers_lock:
        if prefix not in _servers:
            _servers[prefix] = server = ForkServer(prefix)
            atexit.register(server.close)
        return _servers[prefix]


def main() -> None:
    for name in PRELOADED:
        __import__(name)
    # Out of the collector's sight: a child's collections would otherwise walk, and copy
    # page by page, the whole heap it shares with the server (``--help`` took 0.37 s of
    # CPU forked, 0.11 s started afresh, and 0.06 s forked with this).
    gc.freeze()
    serve(sys.argv[1])
    runpy.run_module("app", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
