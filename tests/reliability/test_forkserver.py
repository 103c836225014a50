"""The fork server's children behave as ``python -m app`` started by ``subprocess.Popen``:
the same exit codes and standard error, their environment, and signals of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.forkserver import forkserver
from tests.waiting import wait_until


def _environment(tmp_path: Path) -> dict[str, str]:
    ours = ("DROPBOX_", "API_", "UNPOSTED_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**env, "STATE_DIR": str(tmp_path / "state")}


@pytest.mark.parametrize(
    "argv", [["serve"], ["serve", "--port", "nope"], ["--version"], ["--help"], ["images"]]
)
def test_a_child_exits_and_says_what_a_fresh_interpreter_does(
    argv: list[str], tmp_path: Path
) -> None:
    env = _environment(tmp_path)
    fresh = subprocess.run(
        [sys.executable, "-m", "app", *argv], env=env, capture_output=True, text=True, timeout=60
    )
    forked = forkserver().run(argv, env, timeout=60)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode, fresh.stdout, fresh.stderr
    )  # fmt: skip
    assert fresh.stdout or fresh.stderr


def test_a_child_reads_its_stdin(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    argv = ["import-legacy", "-"]
    fresh = subprocess.run(
        [sys.executable, "-m", "app", *argv], env=env, input="not json", capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    forked = forkserver().run(argv, env, input="not json", timeout=60)
    assert (forked.returncode, forked.stderr) == (fresh.returncode, fresh.stderr)


def test_a_child_that_outlasts_its_timeout_is_killed(tmp_path: Path) -> None:
    env = {**_environment(tmp_path), "DROPBOX_FOLDER": "/Photos", "DROPBOX_ACCESS_TOKEN": "x" * 40}
    env |= {"DROPBOX_BASE_URL": "http://127.0.0.1:9", "API_TOKEN": "t" * 40}
    env |= {"DROPBOX_APP_SECRET": "s" * 40}
    with pytest.raises(subprocess.TimeoutExpired):
        forkserver().run(["serve", "--port", "0"], env, timeout=1)


def test_a_child_is_a_process_of_its_own_that_signals_reach(tmp_path: Path) -> None:
    env = {**_environment(tmp_path), "DROPBOX_FOLDER": "/Photos", "DROPBOX_ACCESS_TOKEN": "x" * 40}
    env |= {"DROPBOX_BASE_URL": "http://127.0.0.1:9", "API_TOKEN": "t" * 40}
    env |= {"DROPBOX_APP_SECRET": "s" * 40}
    child = forkserver().start(["serve", "--port", "0"], env, None)
    assert child.pid != os.getpid() and child.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=0.2)
    wait_until(lambda: (tmp_path / "state").is_dir(), 30, 0.02)  # its STATE_DIR, made
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert child.returncode == -signal.SIGKILL
