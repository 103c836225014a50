"""Every runtime dependency installs from a wheel: no compiler, on the machines users run.

pip resolves ``[project].dependencies`` from pyproject.toml with ``--only-binary=:all:``
(``--dry-run``: nothing is installed), from PyPI as a fresh machine would reach it (no
pip configuration, local wheel folders or mirrors of this machine), for this Python:

- into a fresh virtual environment of this machine's own Python;
- with ``--platform``, for Linux with glibc 2.28 or newer (x86-64 and aarch64) and for
  macOS 12 or newer (Apple silicon and Intel).

A dependency published only as source (as ``pdqhash`` is, the PDQ bindings the service
used before app/services/pdq.py) has no distribution pip may take, and the failure
names it. The resolutions run side by side, sharing a download cache in the temporary
directory, so a second run asks PyPI for little.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(tempfile.gettempdir()) / "unposted-wheels-only-cache"
SECONDS = 300
GLIBC_MINORS = range(28, 4, -1)  # manylinux_2_28 down to manylinux_2_5
PLATFORMS = {
    "linux-x86_64": [f"manylinux_2_{m}_x86_64" for m in GLIBC_MINORS] + ["manylinux2014_x86_64"],
    "linux-aarch64": [f"manylinux_2_{m}_aarch64" for m in GLIBC_MINORS] + ["manylinux2014_aarch64"],
    "macos-arm64": ["macosx_12_0_arm64"],  # pip adds the older macOS versions itself
    "macos-x86_64": ["macosx_12_0_x86_64"],
}
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Resolution:
    target: str
    process: subprocess.Popen[str]
    report: Path

    def outcome(self) -> tuple[int, str]:
        try:
            _, stderr = self.process.communicate(timeout=SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            pytest.fail(f"{self.target}: pip did not resolve within {SECONDS} s")
        return self.process.returncode, stderr


def runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dependencies: list[str] = project["dependencies"]
    return dependencies


def fresh_machine_environment() -> dict[str, str]:
    """This environment without pip's own settings (indexes, wheel folders, constraints)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    return {**kept, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def start(target: str, work: Path, where: list[str]) -> Resolution:
    report = work / f"{target}.json"
    command = [sys.executable, "-m", "pip", *where, "install", "--dry-run", "--quiet",
               "--only-binary=:all:", "--ignore-installed", "--report", str(report),
               "--cache-dir", str(CACHE)]  # fmt: skip
    if target in PLATFORMS:
        for platform in PLATFORMS[target]:
            command += ["--platform", platform]
        command += ["--python-version", PYTHON, "--implementation", "cp"]
    process = subprocess.Popen(
        [*command, *runtime_dependencies()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=fresh_machine_environment(),
    )
    return Resolution(target, process, report)


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Resolution]]:
    work = tmp_path_factory.mktemp("wheels-only")
    venv = work / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    started = {"fresh-venv": start("fresh-venv", work, ["--python", str(python)])}
    started.update({target: start(target, work, []) for target in PLATFORMS})
    yield started
    for resolution in started.values():  # those no test asked for too (``-k``, xdist's load)
        process = resolution.process
        if process.poll() is None:
            process.kill()
        if process.stderr is not None and not process.stderr.closed:
            process.communicate()


def unbuildable(stderr: str) -> list[str]:
    """The requirements pip found no wheel for, as its error names them."""
    return re.findall(r"No matching distribution found for (\S+)", stderr)


@pytest.mark.parametrize("target", ["fresh-venv", *PLATFORMS])
def test_every_runtime_dependency_installs_from_a_wheel(
    resolutions: dict[str, Resolution], target: str
) -> None:
    resolution = resolutions[target]
    returncode, stderr = resolution.outcome()
    missing = unbuildable(stderr)
    assert not missing, f"{target}: no wheel, it would have to be built: {', '.join(missing)}"
    assert returncode == 0, f"{target}: pip could not resolve from wheels alone:\n{stderr}"
    installs = json.loads(resolution.report.read_text())["install"]
    sources = {i["metadata"]["name"]: i["download_info"]["url"] for i in installs}
    built = sorted(name for name, url in sources.items() if not url.endswith(".whl"))
    assert not built, f"{target}: would be built from source: {built}"
    names = {canonical(name) for name in sources}
    wanted = {canonical(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in runtime_dependencies()}
    assert wanted <= names, f"{target}: not resolved: {sorted(wanted - names)}"


def test_a_package_published_only_as_source_is_named() -> None:
    """The check itself: pdqhash, the PDQ bindings this service dropped, has no wheel."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
               "--only-binary=:all:", "--ignore-installed", "--cache-dir", str(CACHE),
               "pdqhash"]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, env=fresh_machine_environment(), timeout=SECONDS
    )
    assert done.returncode != 0, "pdqhash ships wheels now: check with another package"
    assert unbuildable(done.stderr) == ["pdqhash"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
