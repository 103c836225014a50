"""One process per state directory, and every command's refusals in one line.

- A second ``serve``, a ``sync`` or a second ``demo`` on a state directory that a
  running process holds exits 2 with one line naming that process; the holder keeps
  serving. A SIGKILLed holder leaves nothing behind: its directory serves again at once.
- Short commands (``status``, ``select``, ``export-posted``, ``import-legacy``,
  ``reset-posted``) run beside a service: they succeed, the service answers no 500, and
  the database stays sound. When another process keeps the database locked past the
  store's wait, every command stops with one line, never a traceback.
- A port in use, and a ``STATE_DIR`` that is a file, cannot be created or is read-only:
  one line on stderr and a non-zero exit from every command, each a real subprocess.

Read-only directories are read-only for an ordinary user; as root (which writes through
any mode) the command runs without the capabilities that let root ignore file modes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from emulator import Emulator, EmulatorServer
from state.sqlite import SqliteStore
from tests.conftest import API_TOKEN, TLS
from tests.reliability.forkserver import forkserver
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess, free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = [sys.executable, "-m", "app"]
SHORT_COMMANDS = [
    ["status"],
    ["select", "--dry-run"],
    ["select"],
    ["export-posted"],
    ["import-legacy", "{posted_json}"],
    ["reset-posted", "--yes"],
]
EVERY_COMMAND = [["serve", "--port", "0"], ["sync"], *SHORT_COMMANDS]


def environment(
    state: Path, dropbox_url: str = "http://127.0.0.1:9", **extra: str
) -> dict[str, str]:
    ours = ("DROPBOX_", "API_", "SYNC_", "LEASE_", "SELECT_", "STATE_", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        DROPBOX_BASE_URL=dropbox_url,
        DROPBOX_ACCESS_TOKEN="test-access-token",
        DROPBOX_APP_SECRET="test-app-secret",
        DROPBOX_FOLDER="/Photos",
        API_TOKEN=API_TOKEN,
        STATE_DIR=str(state),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


@dataclass
class Outcome:
    command: list[str]
    returncode: int
    stderr: str

    def refused_in_one_line(self, *fragments: str) -> bool:
        return (
            self.returncode != 0
            and self.stderr.count("\n") == 1
            and self.stderr.startswith("unposted: ")
            and all(fragment in self.stderr for fragment in fragments)
        )


def run(command: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
    """``command``: ``[*APP, ...]``, behind ``unprivileged``'s prefix or not, run by the
    fork server started behind that prefix."""
    at = command.index(APP[0])
    assert command[at : at + len(APP)] == APP, command
    done = forkserver(tuple(command[:at])).run(
        command[at + len(APP) :], dict(os.environ) if env is None else env, None, timeout, ROOT
    )
    return Outcome(command, done.returncode, done.stderr)


def run_until_exit_or_serving(command: list[str], env: dict[str, str], url: str) -> Outcome:
    """Start ``command`` (``[*APP, ...]``); if it comes up and answers ``url``, stop it: it
    was not refused."""
    assert command[: len(APP)] == APP, command
    said, saying = os.pipe()
    try:
        process = forkserver().start(command[len(APP) :], env, stderr=saying, cwd=ROOT)
    finally:
        os.close(saying)
    with open(said, encoding="utf-8", errors="replace") as stderr:
        try:
            wait_until(lambda: process.poll() is not None or answers(url), 60, 0.05)
            serving = process.poll() is None
        finally:
            if process.poll() is None:
                process.kill()
            returncode = process.wait(30)
        assert not serving, f"{command[3:]} came up beside the running holder"
        return Outcome(command, returncode, stderr.read())


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=TLS).status_code == 200
    except httpx.TransportError:
        return False


def posted_json(tmp_path: Path) -> Path:
    path = tmp_path / "posted.json"
    path.write_text(json.dumps({"hashes": ["ab" * 32]}))
    return path


def with_file(command: list[str], tmp_path: Path) -> list[str]:
    return [part.format(posted_json=posted_json(tmp_path)) for part in command]


def holder_line(state: Path, pid: int, command: str, name: str = "STATE_DIR") -> str:
    return (
        f"unposted: {name} {state} is in use by process {pid} (python -m app {command}); "
        f"stop it first or use another {name}\n"
    )


# -- one holder per directory ------------------------------------------------------------
@pytest.fixture
def held(
    emulator: Emulator, emulator_server: EmulatorServer, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, Path]]:
    emulator.bulk_generate("/Photos", 5)
    state = tmp_path / "state"
    service = ServiceProcess(emulator, emulator_server.base_url, state).start()
    yield service, state
    service.close()


class Holder(NamedTuple):
    service: ServiceProcess
    state: Path
    emulator: Emulator
    dropbox_url: str


@pytest.fixture(scope="module")
def beside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    """A service that keeps running for the module: the tests given it only run commands
    beside it, and each checks what it changes itself (one that kills it has ``held``)."""
    emulator = Emulator()
    emulator.create_folder("/Photos")
    emulator.bulk_generate("/Photos", 5)
    state = tmp_path_factory.mktemp("beside") / "state"
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, state).start()
        try:
            yield Holder(service, state, emulator, server.base_url)
        finally:
            service.close()


def service_pid(service: ServiceProcess) -> int:
    assert service._process is not None
    return service._process.pid


def test_a_second_serve_and_a_sync_are_refused_naming_the_holder(beside: Holder) -> None:
    service, state, emulator, dropbox_url = beside
    env = environment(state, dropbox_url, DROPBOX_ACCESS_TOKEN=emulator.access_token)
    status_before = service.client.get("/status").json()
    port = free_port()
    second = run_until_exit_or_serving(
        [*APP, "serve", "--port", str(port)], env, f"http://127.0.0.1:{port}/healthz"
    )
    sync = run([*APP, "sync"], env)
    expected = holder_line(state, service_pid(service), "serve")
    assert (second.returncode, second.stderr) == (2, expected)
    assert (sync.returncode, sync.stderr) == (2, expected)
    assert service.client.get("/readyz").status_code == 200
    assert service.client.get("/status").json() == status_before


def test_a_sigkilled_holder_leaves_its_state_dir_free_at_once(
    held: tuple[ServiceProcess, Path], emulator: Emulator, emulator_server: EmulatorServer
) -> None:
    service, state = held
    lease = service.client.post("/select", json={}).json()["lease"]
    service.kill()
    again = ServiceProcess(emulator, emulator_server.base_url, state).start()
    try:
        holder = json.loads((state / "unposted.lock").read_text())
        assert holder == {"pid": service_pid(again), "command": "python -m app serve"}
        assert again.client.get("/status").json()["leased"] == 1  # the same database
        assert again.client.post("/release", json={"lease_id": lease["id"]}).status_code == 204
    finally:
        again.close()


def test_a_second_demo_and_a_serve_on_its_state_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    out = tmp_path / "demo.out"
    with out.open("w") as stdout:
        first = forkserver().start(
            ["demo", "--port", "0", "--data", str(data)], dict(os.environ), None,
            stdout.fileno(), None, ROOT,
        )  # fmt: skip
    try:
        wait_until(lambda: "Ctrl-C stops" in out.read_text() or first.poll() is not None, 120)
        assert first.poll() is None, out.read_text()
        port = free_port()
        second = run_until_exit_or_serving(
            [*APP, "demo", "--port", str(port), "--data", str(data)],
            environment(tmp_path / "unused"),
            f"http://127.0.0.1:{port}/healthz",
        )
        serve = run_until_exit_or_serving(
            [*APP, "serve", "--port", str(port)],
            environment(data / "state"),
            f"http://127.0.0.1:{port}/healthz",
        )
    finally:
        first.kill()
        first.wait(30)
    state = data / "state"
    assert second.returncode == 2
    assert second.stderr == (
        f"unposted: the demo's state {state} is in use by process {first.pid} "
        "(python -m app demo); stop it first or use another --data\n"
    )
    assert (serve.returncode, serve.stderr) == (2, holder_line(state, first.pid, "demo"))


# -- short commands beside a running service ---------------------------------------------
def test_short_commands_run_beside_the_service_without_harm(
    beside: Holder, tmp_path: Path, ledger: Ledger
) -> None:
    service, state = beside.service, beside.state
    entry = ledger.entry("state directory: short commands beside a running service")
    env = environment(state)
    replies: list[int] = []
    stop = threading.Event()

    def publisher() -> None:
        with httpx.Client(
            base_url=service.base_url, headers={"Authorization": f"Bearer {API_TOKEN}"}, verify=TLS
        ) as client:
            while not stop.is_set():
                replies.append(client.post("/select", json={"dry_run": True}).status_code)
                replies.append(client.get("/status").status_code)

    traffic = threading.Thread(target=publisher)
    traffic.start()
    try:
        outcomes = [run(with_file([*APP, *command], tmp_path), env) for command in SHORT_COMMANDS]
        wait_until(lambda: len(replies) > 20)
    finally:
        stop.set()
        traffic.join(30)
    entry.trials += 1
    entry.inputs += len(outcomes) + len(replies)
    entry.wrong += sum(o.returncode != 0 for o in outcomes) + sum(r >= 500 for r in replies)
    assert [(o.command[3:], o.returncode) for o in outcomes] == [
        (o.command[3:], 0) for o in outcomes
    ], [o.stderr for o in outcomes]
    assert set(replies) <= {200, 404}
    assert service.client.get("/status").json()["posted"] == 0  # reset-posted went last
    database = sqlite3.connect(f"file:{state / 'unposted.sqlite3'}?mode=ro", uri=True)
    try:
        assert database.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        database.close()


def test_a_database_locked_past_the_wait_is_one_line_from_every_command(
    tmp_path: Path, ledger: Ledger
) -> None:
    state = tmp_path / "state"
    SqliteStore(state / "unposted.sqlite3").close()
    env = environment(state)
    other = sqlite3.connect(state / "unposted.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    try:
        # serve and sync would refuse each other (one holds the directory): not together.
        with ThreadPoolExecutor(len(EVERY_COMMAND)) as pool:
            together = [c for c in EVERY_COMMAND if c[0] != "sync"]
            outcomes = list(pool.map(lambda c: run(with_file([*APP, *c], tmp_path), env), together))
        outcomes.append(run([*APP, "sync"], env))
    finally:
        other.execute("ROLLBACK")
        other.close()
    entry = ledger.entry("state directory: refusals in one line")
    entry.trials += 1
    entry.inputs += len(outcomes)
    wrong = [o for o in outcomes if not o.refused_in_one_line("database is busy")]
    entry.wrong += len(wrong)
    assert [(o.command[3:], o.returncode, o.stderr) for o in wrong] == []


# -- a port in use -----------------------------------------------------------------------
def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outcome = run([*APP, "serve", "--port", str(port)], environment(tmp_path / "state"))
    assert outcome.returncode != 0
    assert (
        outcome.stderr == f"unposted: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


# -- a state directory that cannot be used -----------------------------------------------
def unprivileged(command: list[str]) -> list[str]:
    """``command`` for a user whom file modes bind: as root, without the capabilities to
    override them (a read-only directory is otherwise writable to root)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only directory stays writable")
    drop = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--bounding-set={drop}", "--", *command]


def a_file(state: Path) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("not a directory\n")


def under_a_file(state: Path) -> None:
    a_file(state.parent)


def under_a_read_only_directory(state: Path) -> None:
    state.parent.mkdir(parents=True)
    state.parent.chmod(0o555)


def read_only(state: Path) -> None:
    SqliteStore(state / "unposted.sqlite3").close()  # a database that was in use before
    (state / "unposted.lock").touch()
    state.chmod(0o555)


PROBLEMS = {
    "a file": (a_file, "is a file, not a directory"),
    "under a file": (under_a_file, "cannot be created: Not a directory"),
    "under a read-only directory": (under_a_read_only_directory, "cannot be created:"),
    "read-only": (read_only, "is not writable:"),
}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_an_unusable_state_dir_is_one_line_from_every_command(
    tmp_path: Path, problem: str, ledger: Ledger
) -> None:
    make, complaint = PROBLEMS[problem]
    state, demo_data = tmp_path / "service" / "state", tmp_path / "demo"
    make(state)
    make(demo_data / "state")  # the demo keeps its state in DATA/state
    commands = [with_file([*APP, *command], tmp_path) for command in EVERY_COMMAND]
    commands.append([*APP, "demo", "--port", "0", "--data", str(demo_data)])
    if "read-only" in problem:
        commands = [unprivileged(command) for command in commands]
    env = environment(state)
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda command: run(command, env), commands))
    finally:
        for directory in (state, state.parent, demo_data / "state", demo_data):
            if directory.is_dir():
                directory.chmod(0o755)
    entry = ledger.entry("state directory: refusals in one line")
    entry.trials += 1
    entry.inputs += len(outcomes)
    wrong = []
    for outcome in outcomes:
        demo = "demo" in outcome.command
        named = f"the demo's state {demo_data / 'state'}" if demo else f"STATE_DIR {state}"
        if not outcome.refused_in_one_line(named, complaint) or outcome.returncode != 2:
            wrong.append((outcome.command[-3:], outcome.returncode, outcome.stderr))
    entry.wrong += len(wrong)
    assert wrong == []
