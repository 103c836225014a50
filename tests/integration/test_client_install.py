"""``client/`` installed alone into a fresh virtual environment, as a publisher would.

pip builds the distribution from the folder and fetches httpx from the package index.
It is this environment's pip, pointed at the new one (``--python``): the new one comes
with nothing installed, and making it with a pip of its own (``ensurepip``) cost more
than the installation. Nothing is compiled (``--no-compile``): nothing here runs twice.
Inside the new environment, ``unposted_client`` imports with its exports and its
``py.typed``, none of the service's packages can be imported, and every
distribution installed (beyond what the new environment came with) is one
``unposted-client`` requires, directly or through httpx.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"
SERVICE_PACKAGES = ("app", "state", "webhooks", "emulator", "bench")

_PROBE = """
import importlib.metadata as md, importlib.util, json, re, pathlib
import unposted_client
names = ("UnpostedClient", "AsyncUnpostedClient", "UnpostedClientError", "NotReadyError")
def closure(name, seen):
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return seen
    try:
        requirements = md.requires(name) or ()
    except md.PackageNotFoundError:
        return seen  # a requirement for other Pythons (its marker is false here)
    seen.add(key)
    for requirement in requirements:
        if "extra ==" not in requirement:
            closure(re.split(r"[ ;<>=!~\\[(]", requirement, maxsplit=1)[0], seen)
    return seen
print(json.dumps({
    "exports": [n for n in names if hasattr(unposted_client, n)],
    "typed": (pathlib.Path(unposted_client.__file__).parent / "py.typed").is_file(),
    "service": [p for p in %r if importlib.util.find_spec(p) is not None],
    "installed": sorted(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
                        for d in md.distributions()),
    "required": sorted(closure("unposted-client", set())),
}))
"""
_DISTRIBUTIONS = """
import importlib.metadata as md, json, re
print(json.dumps([re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions()]))
"""


@pytest.mark.timeout(600)
def test_the_client_installs_alone_with_httpx_and_nothing_of_the_service(
    tmp_path: Path,
) -> None:
    source = tmp_path / "client"  # pip builds in the folder: a copy keeps the checkout clean
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    env_dir = tmp_path / "publisher"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    baseline = subprocess.run(
        [python, "-c", _DISTRIBUTIONS],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    came_with = set(json.loads(baseline.stdout))
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    install = subprocess.run(
        [*pip, "install", "--quiet", "--disable-pip-version-check", "--no-compile", str(source)],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    probe = subprocess.run(
        [python, "-c", _PROBE % (SERVICE_PACKAGES,)],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["exports"] == [
        "UnpostedClient", "AsyncUnpostedClient", "UnpostedClientError", "NotReadyError",
    ]  # fmt: skip
    assert found["typed"] and found["service"] == []
    assert {"unposted-client", "httpx"} <= set(found["required"])
    assert set(found["installed"]) - came_with <= set(found["required"]), found
