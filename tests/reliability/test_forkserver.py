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


@pytest.mark.parametrize("argv", [["serve"], ["serve", "--port", "nope"], ["--version"]])
def test_a_child_exits_and_says_what_a_fresh_interpreter_does(
    argv: list[str], tmp_path: Path
) -> None:
    env = _environment(tmp_path)
    fresh = subprocess.run(
        [sys.executable, "-m", "app", *argv], env=env, capture_output=True, text=True, timeout=60
    )
    said = tmp_path / "stderr.log"
    child = forkserver().start(argv, env, said)
    assert child.wait(timeout=60) == fresh.returncode
    assert said.read_text() == fresh.stderr
    assert child.poll() == fresh.returncode


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
