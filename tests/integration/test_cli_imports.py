"""Each command imports what it uses (``app.cli``), in a real process.

A local ``status`` starts without the HTTP client, the Dropbox SDK, the metrics or the
service; a command over HTTP without the SQLite store or the SDK; a ``serve`` whose
database is out of reach is refused before the service is imported. What each must
have imported is checked too, so a case cannot pass by running nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.process import free_port

REPO = Path(__file__).resolve().parents[2]
WATCHED = ("httpx", "dropbox", "prometheus_client", "fastapi", "uvicorn", "state.sqlite",
           "state.postgres")  # fmt: skip
RUN = f"""
import sys
from app.cli import main
code = main(sys.argv[1:])
print("imported:", *(name for name in {WATCHED!r} if name in sys.modules))
sys.exit(code)
"""


def _imported(tmp_path: Path, *args: str, **env: str) -> tuple[int, set[str]]:
    """The command's exit code, and which of ``WATCHED`` it imported."""
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH")
    environment = {key: os.environ[key] for key in keep if key in os.environ}
    environment.update(
        PYTHONPATH=os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")]).rstrip(":"),
        STATE_DIR=str(tmp_path / "state"),
        DROPBOX_FOLDER="/Photos",
        DROPBOX_ACCESS_TOKEN="well-formed-access-token",
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True,
        cwd=tmp_path, env=environment, timeout=60,
    )  # fmt: skip
    last = done.stdout.splitlines()[-1].split()  # after the command's own output
    assert last[:1] == ["imported:"], done.stdout + done.stderr
    return done.returncode, set(last[1:])


CASES = {
    "status here": (["status"], {}, 0, {"state.sqlite"},
                    {"httpx", "dropbox", "prometheus_client", "fastapi", "uvicorn"}),
    "status over HTTP": (["status"], {"UNPOSTED_URL": "http://127.0.0.1:{port}",
                                      "UNPOSTED_TOKEN": "t" * 40}, 1, {"httpx"},
                         {"state.sqlite", "dropbox", "prometheus_client", "fastapi", "uvicorn"}),
    "serve, its database refused": (
        ["serve"], {"DATABASE_URL": "postgresql://unposted:pw@127.0.0.1:{port}/unposted",
                    "API_TOKEN": "cli-imports-api-token-0123456789abcdef",
                    "DROPBOX_APP_KEY": "wellformedkey",
                    "DROPBOX_APP_SECRET": "well-formed-app-secret"}, 2, {"state.postgres"},
        {"httpx", "dropbox", "fastapi", "uvicorn", "state.sqlite"}),
}  # fmt: skip
"""Per case: the arguments, the environment, the exit code, what it must have imported
and what it must not have."""


@pytest.mark.parametrize("case", CASES)
def test_a_command_imports_what_it_uses(tmp_path: Path, case: str) -> None:
    args, env, exit_code, needs, never = CASES[case]
    port = free_port()  # nothing listens there: the service and PostgreSQL are refused
    code, imported = _imported(tmp_path, *args, **{k: v.format(port=port) for k, v in env.items()})
    assert code == exit_code
    assert needs <= imported and not never & imported, imported
