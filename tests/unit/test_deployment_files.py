"""The deployment files agree with the service: compose, Dockerfile, .env.example, .dockerignore.

No Docker engine runs here, so these read the files' structure: what compose would mount
and pass, what the image runs and as whom, and that ``.env.example`` names exactly the
settings the service reads (and loads as valid settings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _dockerfile() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    instructions = [tuple(line.split(None, 1)) for line in lines if line and line[0] != "#"]
    stages = [i for i, pair in enumerate(instructions) if pair[0].upper() == "FROM"]
    return [(pair[0].upper(), pair[1]) for pair in instructions[stages[-1] :]]


def _env_example_names() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _named_volume_targets(compose: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume, for the service's named (not bind) volumes."""
    declared = compose.get("volumes") or {}
    mounts = [volume.split(":") for volume in service.get("volumes", [])]
    return {target: source for source, target, *_ in mounts if source in declared}


def _healthcheck_probes_healthz(healthcheck: dict[str, Any] | str) -> bool:
    command = " ".join(healthcheck["test"]) if isinstance(healthcheck, dict) else healthcheck
    return "/healthz" in command and "urllib" in command and "curl" not in command


# --- docker-compose.yml ---------------------------------------------------------------


def test_service_keeps_state_dir_on_a_named_volume() -> None:
    compose = _compose()
    service = compose["services"]["unposted"]
    state_dir = _environment(service)["STATE_DIR"]
    assert state_dir in _named_volume_targets(compose, service)


def test_service_reads_env_file_and_publishes_8000() -> None:
    service = _compose()["services"]["unposted"]
    env_files = service["env_file"]
    assert ".env" in ([env_files] if isinstance(env_files, str) else env_files)
    assert "8000:8000" in service["ports"]
    assert "profiles" not in service


def test_services_have_healthchecks_on_healthz() -> None:
    services = _compose()["services"]
    for name in ("unposted", "unposted-demo"):
        assert _healthcheck_probes_healthz(services[name]["healthcheck"]), name


def test_demo_profile_runs_emulator_wired_to_demo_service() -> None:
    compose = _compose()
    emulator, demo = compose["services"]["emulator"], compose["services"]["unposted-demo"]
    assert emulator["profiles"] == ["demo"] and demo["profiles"] == ["demo"]
    command = emulator["command"]
    assert command[:3] == ["python", "-m", "emulator"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options["--root"] == "/samples"
    assert any(volume.endswith(":/samples") for volume in emulator["volumes"])
    environment = _environment(demo)
    assert environment["DROPBOX_BASE_URL"] == f"http://emulator:{options['--port']}"
    assert options["--webhook"] == "http://unposted-demo:8000/webhook"
    assert environment["DROPBOX_APP_SECRET"] == options["--app-secret"]
    assert environment["DROPBOX_ACCESS_TOKEN"] == options["--access-token"]
    assert environment["STATE_DIR"] in _named_volume_targets(compose, demo)
    assert "env_file" not in demo, "the demo must not pick up real Dropbox credentials"


# --- Dockerfile ---------------------------------------------------------------------


def test_image_is_slim_python_and_runs_as_non_root() -> None:
    instructions = _dockerfile()
    assert re.fullmatch(r"python:3\.1[1-9]-slim", instructions[0][1])
    users = [arguments for name, arguments in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_image_keeps_state_in_data() -> None:
    environment = " ".join(arguments for name, arguments in _dockerfile() if name == "ENV")
    assert re.search(r"\bSTATE_DIR=/data\b", environment)


def test_image_healthcheck_and_command() -> None:
    instructions = dict(_dockerfile())
    healthcheck = instructions["HEALTHCHECK"]
    assert _healthcheck_probes_healthz(healthcheck.split(" CMD ", 1)[1])
    serve = ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert json.loads(instructions["CMD"]) == serve


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for name in (".env", ".git", ".venv", "var", "demo-data"):
        assert name in ignored
    for needed in ("pyproject.toml", "README.md", "app", "state"):
        assert needed not in ignored


# --- .env.example -------------------------------------------------------------------


def test_env_example_lists_exactly_the_settings() -> None:
    names = _env_example_names()
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) == {field.upper() for field in Settings.model_fields}


def test_env_example_loads_as_settings_fit_to_serve() -> None:
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    settings.check_serve()
    assert settings.dropbox_folder == "/Photos/queue"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_env_example_explains_each_variable(name: str) -> None:
    """A comment line sits above each variable (or above the group it belongs to)."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    assignment = re.compile(r"^(# )?[A-Z][A-Z0-9_]*=")
    index = next(i for i, line in enumerate(lines) if re.match(rf"^(# )?{name.upper()}=", line))
    while index > 0 and assignment.match(lines[index - 1]):
        index -= 1
    assert lines[index - 1].startswith("# ") and len(lines[index - 1]) > 10, name
