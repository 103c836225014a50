"""The deployment files agree with the service: compose, Dockerfile, .env.example, .dockerignore.

No Docker engine runs here, so these read the files' structure: what compose would mount
and pass, what the image runs and as whom, and that ``.env.example`` names exactly the
settings the service reads (and loads as valid settings).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from check_jsonschema.builtin_schemas import vendor
from jsonschema.validators import validator_for

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


def _env_files(service: dict[str, Any]) -> dict[str, bool]:
    """The service's env files: path -> required (compose's default: required)."""
    listed = service.get("env_file", [])
    listed = [listed] if isinstance(listed, str) else listed
    entries = [{"path": item} if isinstance(item, str) else item for item in listed]
    return {entry["path"]: entry.get("required", True) for entry in entries}


def test_service_reads_env_file_and_publishes_8000() -> None:
    service = _compose()["services"]["unposted"]
    assert ".env" in _env_files(service)
    assert "8000:8000" in service["ports"]
    assert "profiles" not in service


def test_a_fresh_clone_without_env_file_still_configures() -> None:
    """``.env`` is optional wherever it is read, so ``docker compose config`` works before
    anyone has copied ``.env.example``, and the demo profile needs no file at all."""
    for name, service in _compose()["services"].items():
        assert all(required is False for required in _env_files(service).values()), name


def test_compose_file_follows_the_compose_specification() -> None:
    """Checked against the official compose-spec JSON schema, as check-jsonschema ships it
    (no Docker engine or compose plugin runs here)."""
    schema = json.loads((resources.files(vendor) / "compose-spec.json").read_text())
    validator = validator_for(schema)(schema)
    assert [error.message for error in validator.iter_errors(_compose())] == []
    broken = _compose()
    broken["services"]["unposted"]["restart_policy"] = "always"  # not a compose key
    assert list(validator.iter_errors(broken)), "the schema must catch an unknown key"


def test_dependencies_name_services_that_exist() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on", [])
        assert set(depends) <= set(services), name
        for needed in depends:
            assert set(services[needed].get("profiles", [])) <= set(service.get("profiles", []))


def test_replicas_profile_runs_two_services_on_one_postgres() -> None:
    services = _compose()["services"]
    replicas = {n: s for n, s in services.items() if "replicas" in s.get("profiles", [])}
    assert services["postgres"]["profiles"] == ["replicas"]
    assert services["postgres"]["image"].startswith("postgres:15")
    unposted = {n: s for n, s in replicas.items() if n != "postgres"}
    assert len(unposted) == 2
    urls = {_environment(s)["DATABASE_URL"] for s in unposted.values()}
    assert len(urls) == 1 and "@postgres:5432/" in urls.pop()
    ports = [port for s in unposted.values() for port in s["ports"]]
    assert len(set(ports)) == 2 and all(port.endswith(":8000") for port in ports)
    for service in unposted.values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert _healthcheck_probes_healthz(service["healthcheck"])


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
