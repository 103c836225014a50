"""An installed copy serves /docs and /redoc's files: pyproject's package data carries them.

The project is built into a wheel (pip, from a copy of the sources, with the build backend
from the package registry), the wheel installed into an empty folder, and the console's
static route of that installed copy, not this checkout, asked for every file it serves:
each answers 200 with the bytes of the checkout's file. The licences of Swagger UI and
ReDoc and the docs page's template come along.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The checkout, less what no build reads (and what a build would leave behind).
NOT_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "var", "tests", "docs", "demo-data", "build", "*.egg-info", "__pycache__",
    "*.pyc", ".*_cache", ".hypothesis", "vendor.new",
)  # fmt: skip
# Run by the installed copy: fetch every static file through its own route.
SERVE = """
import hashlib, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
import app.console as console
assert console.__file__.startswith(sys.argv[1]), console.__file__
client = TestClient(FastAPI(routes=console.static.routes))
for name in console._STATIC:
    reply = client.get("/console/static/" + name)
    print(reply.status_code, hashlib.sha256(reply.content).hexdigest(), name)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("build") / "source"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out)]
    subprocess.run([*pip, str(source)], check=True, capture_output=True, timeout=240)
    (built,) = out.glob("unposted-*.whl")
    return built


def test_the_wheel_carries_the_docs_pages_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    vendor = "app/console/static/vendor/"
    for name in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE", "VERSIONS"):
        assert vendor + name in names
    assert "app/console/templates/api_docs.html" in names


def test_an_installed_copy_serves_every_static_file(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "installed"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target"]
    subprocess.run([*install, str(target), str(wheel)], check=True, timeout=120)
    served = subprocess.run(
        [sys.executable, "-P", "-c", SERVE, str(target)],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    lines = served.stdout.splitlines()
    assert len(lines) >= 8  # the console's files, the favicon, the starter, the vendored three
    for line in lines:
        status, digest, name = line.split()
        expected = hashlib.sha256((ROOT / "app/console/static" / name).read_bytes()).hexdigest()
        assert (status, digest) == ("200", expected), line
