"""The image as the Dockerfile builds and runs it, without a container engine.

The Dockerfile's own lines are run, not a copy of them: the build stage's ``ENV``,
``WORKDIR``, ``COPY . .`` (the build context as ``.dockerignore`` leaves it) and ``RUN``
lines, in a fresh virtual environment made by the machine's base Python, with a
``PATH`` that holds only that Python (no ``cc``, ``gcc`` or ``g++``: the slim image has
none), from the package registry; then the final stage's ``ENV``, ``WORKDIR``, ``CMD``
and ``HEALTHCHECK``, against the emulator. Container paths (``/opt/venv``, ``/src``,
``/data``) become directories of the test, ``0.0.0.0`` becomes 127.0.0.1 and the exposed
port a free one; ``HOME`` is ``/data``, as the image's user has it. The final stage's
``RUN`` (the user and ``/data``) and ``USER`` need root and a container: the unit tests of
the Dockerfile read those.

The service must write nowhere but its state directory: with ``strace`` on the machine,
every file it opens for writing, creates, renames or removes is checked; without it, the
installation and the temporary directory are compared before and after.

It installs from PyPI, as a fresh image build does (no pip configuration of this
machine), so it carries the ``registry`` marker: ``pytest -m "not registry"`` leaves it
out.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest

from emulator import Emulator, EmulatorServer
from tests.conftest import TLS
from tests.postgres import _free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.registry

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "image-test-api-token-0123456789abcdefghij"
COMPILERS = ("cc", "gcc", "g++", "c++", "clang")
# What pip needs to reach PyPI from here (certificates, proxies). Not this machine's pip
# configuration: its local wheel folders and mirrors could hold a wheel built here that a
# fresh image would have to compile.
NETWORK = re.compile(
    r"PIP_CERT|PIP_DEFAULT_TIMEOUT|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE"
    r"|(?i:https?_proxy|no_proxy)"
)
Stage = list[tuple[str, str]]


def _stages() -> list[Stage]:
    """The Dockerfile's stages: ``(INSTRUCTION, arguments)``, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[Stage] = []
    for line in (line.strip() for line in text.splitlines()):
        if line and not line.startswith("#"):
            name, arguments = line.split(None, 1)
            if name.upper() == "FROM":
                stages.append([])
            stages[-1].append((name.upper(), arguments))
    return stages


class Machine:
    """Container paths as directories of the test, and the environment a stage builds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = {
            p: root / p.strip("/").replace("/", "-") for p in ("/opt/venv", "/src", "/data")
        }
        self.tools = root / "tools"  # the base image's PATH: a Python, and nothing else
        self.tools.mkdir()
        (self.tools / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")

    def local(self, text: str) -> str:
        pattern = r"(?<![\w/.])(" + "|".join(map(re.escape, self.paths)) + r")(?![\w.-])"
        return re.sub(pattern, lambda m: str(self.paths[m.group(1)]), text)

    def base_environment(self) -> dict[str, str]:
        return {"PATH": str(self.tools)}

    def apply_env(self, environment: dict[str, str], arguments: str) -> None:
        for pair in shlex.split(arguments):
            name, value = pair.split("=", 1)
            environment[name] = self.local(value.replace("$PATH", environment["PATH"]))


def _ignored(relative: str, rules: list[str]) -> bool:
    """Whether ``.dockerignore`` leaves ``relative`` (or a folder above it) out: the last
    rule that matches decides; ``!`` takes back; ``**/`` matches at any depth."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        keep, pattern = rule.startswith("!"), rule.lstrip("!")
        patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch(path, p) for path in candidates for p in patterns):
            ignored = not keep
    return ignored


def _copy_context(target: Path) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for folder, folders, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        folders[:] = [d for d in folders if not _ignored(str(here / d), rules)]
        for name in files:
            if not _ignored(str(here / name), rules):
                (target / here).mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(folder) / name, target / here / name)


def _build(machine: Machine, stage: Stage) -> None:
    environment = machine.base_environment()
    environment.update({k: v for k, v in os.environ.items() if NETWORK.fullmatch(k)})
    environment.update(PIP_CONFIG_FILE=os.devnull, HOME=str(machine.root / "home"))
    assert not [c for c in COMPILERS if shutil.which(c, path=environment["PATH"])]
    workdir = machine.root
    for name, arguments in stage[1:]:
        if name == "ENV":
            machine.apply_env(environment, arguments)
        elif name == "WORKDIR":
            workdir = Path(machine.local(arguments))
            workdir.mkdir(parents=True, exist_ok=True)
        elif name == "COPY":
            assert arguments == ". .", f"COPY {arguments}: only the build context is copied"
            _copy_context(workdir)
        elif name == "RUN":
            shell = ["/bin/sh", "-c", machine.local(arguments)]  # RUN's shell form
            done = subprocess.run(
                shell, cwd=workdir, env=environment, capture_output=True, text=True, timeout=240
            )
            assert done.returncode == 0, f"RUN {arguments}\n{done.stdout[-3000:]}{done.stderr}"
        else:
            raise AssertionError(f"the build stage's {name} is not run here: add it")


class Image:
    """The final stage, read: its environment, working directory, port, probe and command."""

    def __init__(self, machine: Machine, stage: Stage, port: int) -> None:
        self.environment = machine.base_environment()
        self.environment["HOME"] = str(machine.paths["/data"])  # useradd --home-dir /data
        self.workdir = machine.root
        local = {"0.0.0.0": "127.0.0.1"}
        for name, arguments in stage[1:]:
            if name == "ENV":
                machine.apply_env(self.environment, arguments)
            elif name == "WORKDIR":
                self.workdir = Path(machine.local(arguments))
            elif name == "EXPOSE":
                local[arguments] = str(port)
            elif name == "COPY":
                source, target = arguments.split()[-2:]
                assert arguments.startswith("--from=") and source == target, arguments
            elif name == "HEALTHCHECK":
                self.probe = json.loads(machine.local(arguments.split(" CMD ", 1)[1]))
            elif name == "CMD":
                self.command = json.loads(machine.local(arguments))
        self.command = [local.get(word, word) for word in self.command]
        self.probe = [word.replace(":8000/", f":{port}/") for word in self.probe]
        self.workdir.mkdir(parents=True, exist_ok=True)

    def healthy(self) -> bool:
        done = subprocess.run(self.probe, cwd=self.workdir, env=self.environment,
                              capture_output=True, timeout=30)  # fmt: skip
        return done.returncode == 0


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in folder.rglob("*") if not p.is_symlink()}


def test_the_image_installs_from_wheels_serves_and_passes_its_healthcheck(
    tmp_path: Path,
    emulator: Emulator,
    emulator_server: EmulatorServer,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    build, final = _stages()
    machine = Machine(tmp_path)
    _build(machine, build)
    image = Image(machine, final, _free_port())
    assert image.probe[0] == "python" and image.command[0] == "python"
    venv = machine.paths["/opt/venv"]
    assert shutil.which("python", path=image.environment["PATH"]) == str(venv / "bin" / "python")
    emulator.put_file("/Photos/first.jpg", b"first image")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    settings = {
        "DROPBOX_FOLDER": "/Photos",
        "DROPBOX_BASE_URL": emulator_server.base_url,
        "DROPBOX_ACCESS_TOKEN": emulator.access_token,
        "DROPBOX_APP_SECRET": emulator.app_secret,
        "API_TOKEN": TOKEN,
        "TMPDIR": str(temporary),
    }
    installed = _snapshot(venv)
    assert not image.healthy(), "the probe must fail while nothing answers"

    trace = tmp_path / "writes.strace"
    tracer = _tracer(trace)
    with (tmp_path / "service.log").open("w") as log:
        process = subprocess.Popen([*tracer, *image.command], cwd=image.workdir,
                                   env=image.environment | settings, stderr=log)  # fmt: skip
    processes.append(process)
    port = image.command[image.command.index("--port") + 1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, verify=TLS) as client:
        # Asked from here while it starts (a probe is a Python process of its own), then
        # the image's own probe must pass.
        wait_until(lambda: process.poll() is not None or _answers(client), 90, interval=0.1)
        assert process.poll() is None, (tmp_path / "service.log").read_text()[-3000:]
        assert image.healthy(), "the service answers /healthz but the probe fails"
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, interval=0.2)
        preview = {"dry_run": True}  # offered once fingerprinted (a ``skip`` channel waits)
        wait_until(lambda: client.post("/select", json=preview).status_code == 200, 30)
        assert client.post("/select", json=preview).json()["name"] == "first.jpg"
    _stop(process, traced=bool(tracer))

    state = machine.paths["/data"]
    assert (state / "unposted.sqlite3").is_file()
    assert _snapshot(venv) == installed, "the service wrote into its installation"
    assert list(temporary.iterdir()) == []
    if tracer:
        assert _written_outside(trace, state) == []


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _tracer(output: Path) -> list[str]:
    """``strace`` recording what the process tree writes, when the machine has it.

    ``--seccomp-bpf``: the kernel stops the service only at the calls traced, not at every
    one (the thousands of reads and stats of its imports would each cost two switches
    to the tracer); what is recorded is the same."""
    strace = shutil.which("strace")
    if strace is None:
        return []
    calls = "?open,openat,?creat,?mkdir,mkdirat,?rename,renameat,renameat2,?unlink,unlinkat"
    return [strace, "-f", "--seccomp-bpf", "-qq", "-o", str(output), "-e", f"trace={calls}"]


def _stop(process: subprocess.Popen[bytes], traced: bool) -> None:
    """SIGTERM to the service (``docker stop``), not to the tracer in front of it."""
    pid = process.pid
    if traced:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pid = int(children[0])
    os.kill(pid, signal.SIGTERM)
    assert process.wait(timeout=30) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)


_CALL = re.compile(r'^\d+ +(\w+)\((?:AT_FDCWD, )?"([^"]*)"(?:, ([A-Z_|]+))?')


def _written_outside(trace: Path, state: Path) -> list[str]:
    """Paths outside ``state`` that the traced processes opened for writing, created,
    renamed or removed (devices aside)."""
    outside = []
    for line in trace.read_text().splitlines():
        call = _CALL.match(line)
        if call is None:
            continue
        name, path, flags = call.groups()
        if name in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT", flags or ""):
            continue
        where = state / path if not path.startswith("/") else Path(path)
        if not (where.is_relative_to(state) or path.startswith("/dev/")):
            outside.append(f"{name} {path}")
    return sorted(set(outside))
