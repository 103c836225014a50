"""``python -m app select | import-legacy | export-posted | reset-posted`` as real processes.

Each command runs without the HTTP server, on a state dir that ``python -m app sync``
filled from the emulator, through the same domain code as the API. Success is exit 0;
failure is non-zero with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, EmulatorServer
from state.hashing import content_hash
from tests.reliability.forkserver import forkserver

REPO = Path(__file__).resolve().parents[2]
NEVER_IN_THE_FOLDER = hashlib.sha256(b"posted long ago, archived since").hexdigest()

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(emulator: Emulator, emulator_server: EmulatorServer, tmp_path: Path) -> Run:
    """Run ``python -m app ARGS`` against the emulator, in a clean environment."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        PYTHONPATH=str(REPO),
        DROPBOX_BASE_URL=emulator_server.base_url,
        DROPBOX_ACCESS_TOKEN=emulator.access_token,
        DROPBOX_FOLDER="/Photos",
        STATE_DIR=str(tmp_path / "state"),
        LOG_FORMAT="console",
        LOG_LEVEL="WARNING",
    )

    def run(
        *args: str, ok: bool = True, one_line: bool = True, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        result = forkserver().run(list(args), env | extra_env, timeout=60, cwd=tmp_path)
        if ok:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0, result.stdout
            assert not one_line or len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result

    return run


def output(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_select_previews_leases_and_refuses_in_one_line(emulator: Emulator, cli: Run) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/a.txt", b"caption")
    cli("sync")
    preview = output(cli("select", "--dry-run"))
    assert preview["name"] == "a.jpg" and preview["lease"] is None
    assert preview["sidecars"] == [{"path": "/Photos/a.txt", "name": "a.txt"}]
    chosen = output(cli("select", "--name", "A.JPG"))  # the preview took no lease
    assert chosen["content_hash"] == content_hash(b"a") and chosen["lease"]["id"]
    missing = cli("select", "--name", "nope.jpg", ok=False)
    assert missing.stderr.strip() == "unposted: Selected file not found: nope.jpg"


def test_select_says_why_there_is_nothing(emulator: Emulator, cli: Run) -> None:
    assert "first catch-up has not completed" in cli("select", ok=False).stderr
    cli("sync")
    assert cli("select", "--dry-run", ok=False).stderr.strip() == "unposted: No images found"


def test_import_export_reset_and_back(emulator: Emulator, cli: Run, tmp_path: Path) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    cli("sync")
    legacy = tmp_path / "posted.json"
    legacy.write_text(json.dumps([hashlib.sha256(b"a").hexdigest(), NEVER_IN_THE_FOLDER]))
    report = output(cli("import-legacy", str(legacy)))
    assert report == {"imported": 2, "matched": 1, "unresolved": 1, "downloads": 0}
    assert emulator.counters.calls("files/download") == 0
    exported = tmp_path / "exported.json"
    cli("export-posted", str(exported))
    state = json.loads(exported.read_text())
    assert set(state["hashes"]) == {hashlib.sha256(b"a").hexdigest(), NEVER_IN_THE_FOLDER}
    assert content_hash(b"a") in state["dropbox_content_hashes"]

    assert "--yes" in cli("reset-posted", ok=False).stderr
    assert output(cli("reset-posted", "--yes")) == state  # unchanged by the refusal
    assert output(cli("import-legacy", str(exported)))["matched"] == 1  # the way back
    assert output(cli("export-posted")) == state


def test_a_malformed_or_missing_file_imports_nothing(cli: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([hashlib.sha256(b"a").hexdigest(), "nope"]))
    assert "[1] is not 64 hex characters" in cli("import-legacy", str(broken), ok=False).stderr
    missing = cli("import-legacy", str(tmp_path / "absent.json"), ok=False)
    assert "cannot read" in missing.stderr
    assert output(cli("export-posted")) == {"hashes": [], "dropbox_content_hashes": []}


def test_hold_until_on_the_state_directory(emulator: Emulator, cli: Run) -> None:
    """``hold --until`` without a service: the hold and its end are written, a past end is
    refused in one line and changes nothing."""
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    cli("sync")
    held = output(cli("hold", "a.jpg", "--until", "2099-12-24T00:00:00Z", "--json"))
    assert (held["held"], held["until"]) == (True, "2099-12-24T00:00:00Z")
    past = cli("hold", "b.jpg", "--until", "2020-01-01T00:00:00Z", ok=False)
    assert past.stderr.startswith("unposted: until: 2020-01-01T00:00:00Z is not in the future")
    listed = output(cli("images", "--state", "held", "--json"))["items"]
    assert [(i["name"], i["held_until"]) for i in listed] == [("a.jpg", "2099-12-24T00:00:00Z")]
