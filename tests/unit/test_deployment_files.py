"""The deployment files agree with the service: compose, Dockerfile, .env.example, .dockerignore,
and the configuration file's override with its example TOML.

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
from dotenv import dotenv_values
from jsonschema.validators import validator_for

from app.configuration.environment import Settings
from app.configuration.file import check_credentials, load_config

ROOT = Path(__file__).resolve().parents[2]


def _compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return document


def _merged(base: Any, override: Any, key: str = "") -> Any:
    """``docker compose -f base -f override``'s merge, for the keys these files use:
    mappings merge, a service's volumes merge by container path, other lists replace."""
    if isinstance(base, dict) and isinstance(override, dict):
        keys = [*base, *(k for k in override if k not in base)]
        return {k: _merged(base.get(k), override[k], k) if k in override else base[k]
                for k in keys}  # fmt: skip
    if key == "volumes" and isinstance(base, list) and isinstance(override, list):
        by_target = {volume.split(":")[1]: volume for volume in [*base, *override]}
        return list(by_target.values())
    return override


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


def _schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((resources.files(vendor) / "compose-spec.json").read_text())
    return [error.message for error in validator_for(schema)(schema).iter_errors(document)]


def test_the_configuration_override_is_valid_alone_and_merged() -> None:
    override = _compose("docker-compose.config.yml")
    merged = _merged(_compose(), override)
    assert _schema_errors(override) == [] and _schema_errors(merged) == []
    service = merged["services"]["unposted"]
    assert "unposted-state:/data" in service["volumes"], "the state volume must stay"
    target = _environment(service)["UNPOSTED_CONFIG"]
    assert f"./unposted.toml:{target}:ro" in service["volumes"]


def test_the_example_configuration_file_serves_as_the_override_mounts_it(tmp_path: Path) -> None:
    """The container's environment as compose makes it: ``.env`` (``.env.example`` filled in
    as the README says: DROPBOX_FOLDER out, API_TOKEN and the channels' tokens in), then the
    merged service's ``environment``; the file at UNPOSTED_CONFIG is the bind mount's source
    (``unposted.example.toml``, copied to ``unposted.toml``), read by the service's loader."""
    service = _merged(_compose(), _compose("docker-compose.config.yml"))["services"]["unposted"]
    source, target, _ = next(v.split(":") for v in service["volumes"] if v.startswith("./"))
    (tmp_path / source).write_bytes((ROOT / "unposted.example.toml").read_bytes())
    tokens = {"INSTAGRAM_API_TOKEN": "i" * 43, "TELEGRAM_API_TOKEN": "t" * 43}
    env_file = (
        (ROOT / ".env.example").read_text().replace("\nDROPBOX_FOLDER=", "\n# DROPBOX_FOLDER=")
    )
    env_file = re.sub(r"\nAPI_TOKEN=.*", "\nAPI_TOKEN=" + "a" * 43, env_file)
    env_file += "".join(f"{name}={value}\n" for name, value in tokens.items())
    (tmp_path / ".env").write_text(env_file)
    container = {**dotenv_values(tmp_path / ".env"), **_environment(service)}
    container["UNPOSTED_CONFIG"] = str(tmp_path / source)  # where the mount shows it
    assert _environment(service)["UNPOSTED_CONFIG"] == target
    fields = {k.lower(): v for k, v in container.items() if k.lower() in Settings.model_fields}
    settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    settings.check_serve()
    config = load_config(settings, {k: v or "" for k, v in container.items()})
    check_credentials(config, settings)
    assert set(config.channels) == {"instagram", "telegram"}
    assert {c.library for c in config.channels.values()} == set(config.libraries)
    for name, channel in config.channels.items():
        assert channel.api_token is not None
        assert channel.api_token.get_secret_value() == tokens[f"{name.upper()}_API_TOKEN"]


def _listening_port(service: dict[str, Any]) -> int:
    """The port a service's process listens on: its ``--port``, the image's, postgres'."""
    command = service.get("command") or json.loads(dict(_dockerfile())["CMD"])
    if service.get("image", "").startswith("postgres:"):
        assert "PGPORT" not in _environment(service)
        return 5432  # the postgres image's server listens on PostgreSQL's port
    for argument in command:
        if argument.startswith("--web.listen-address="):  # Prometheus'
            return int(argument.rsplit(":", 1)[1])
    return int(command[command.index("--port") + 1])


def _healthcheck_port(service: dict[str, Any]) -> int | None:
    """The port the service's healthcheck asks (the image's when compose sets none)."""
    healthcheck = service.get("healthcheck")
    if healthcheck is None and service.get("build") == ".":
        test = dict(_dockerfile())["HEALTHCHECK"].split(" CMD ", 1)[1]
    elif healthcheck is None or healthcheck.get("disable"):
        return None
    else:
        test = " ".join(healthcheck["test"][1:])
    if "pg_isready" in test:
        given = re.search(r"(?:-p|--port)[ =](\d+)", test)
        return int(given.group(1)) if given else 5432  # pg_isready's default
    asked = re.findall(r"127\.0\.0\.1'?\s*[:,]\s*(\d+)", test)
    assert len(asked) == 1, test
    return int(asked[0])


def test_every_healthcheck_asks_the_port_its_service_listens_on() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        asked = _healthcheck_port(service)
        assert asked is not None, f"{name} has no healthcheck"
        assert asked == _listening_port(service), name
    # What the emulator had before it had its own: the image's check, on unposted's port.
    emulator = {key: value for key, value in services["emulator"].items() if key != "healthcheck"}
    assert _healthcheck_port(emulator) != _listening_port(emulator)


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


def test_monitoring_profile_scrapes_the_service_with_the_rules() -> None:
    """Prometheus mounts deploy/prometheus where its command reads it, scrapes a compose
    service on the port it listens on, with API_TOKEN handed over as a secret file."""
    compose = _compose()
    services = compose["services"]
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounted = dict(volume.split(":")[:2] for volume in prometheus["volumes"])
    assert mounted["./deploy/prometheus"] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert (
        config["rule_files"] == ["alerts.yml"] and (ROOT / "deploy/prometheus/alerts.yml").is_file()
    )
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    [target] = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert int(port) == _listening_port(services[host])
    assert prometheus["depends_on"][host]["condition"] == "service_healthy"
    secret = job["authorization"]["credentials_file"]
    assert secret == f"/run/secrets/{prometheus['secrets'][0]}"
    assert compose["secrets"][prometheus["secrets"][0]] == {"environment": "API_TOKEN"}
