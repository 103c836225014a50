"""The README's claims, driven: its tables name what exists, and its ``curl`` lines work.

Every ``sh`` block of the README's API section runs under bash against the real service
wired to the emulator, with ``curl`` made to fail on any HTTP error, so an example that
drifts from the service fails here. ``CONTENT_HASH`` and ``LEASE_ID`` stand for values
from a fresh ``/select``, as a reader would paste them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.cli import _COMMANDS
from app.configuration.environment import Settings
from emulator import Emulator
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService
from tests.pictures import picture

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
_FAIL_ON_HTTP_ERRORS = 'curl() { command curl --fail-with-body --show-error "$@"; echo; }\n'


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


def test_configuration_table_names_every_setting() -> None:
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", _section("Configuration"), flags=re.MULTILINE))
    assert table == {name.upper() for name in Settings.model_fields}


def test_command_line_table_names_every_command() -> None:
    listed = re.findall(r"^\| `([a-z-]+)[ `]", _section("Command line"), flags=re.MULTILINE)
    assert sorted(listed) == sorted(_COMMANDS)


def test_api_section_covers_every_endpoint(service: Service) -> None:
    """Every route has a runnable example; a channel's routes are the same routes under
    ``/channels/NAME``, so one example of that form stands for all of them."""
    api = _section("API")
    paths = set(service.app.openapi()["paths"])
    assert len(paths) >= 12, paths
    prefix = "/channels/{channel}"
    for path in paths:
        path = path.removeprefix(prefix) or path
        shown = re.sub(r"\{([a-z_]+)\}", lambda m: m.group(1).upper(), path)
        assert f'$UNPOSTED{shown}"' in api or f"$UNPOSTED{shown}?" in api, path
    assert '$UNPOSTED/channels/default/select"' in api


@pytest.mark.skipif(not shutil.which("curl") or not shutil.which("openssl"), reason="no curl")
def test_api_examples_run_as_written(
    emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    emulator.put_file("/Photos/harbor-1.jpg", picture(1))
    emulator.put_file("/Photos/harbor-1-copy.jpg", picture(1))
    emulator.put_file("/Photos/harbor-1.txt", b"a caption")
    for number in range(2, 8):
        emulator.put_file(f"/Photos/meadow-{number}.jpg", picture(number))
    service = start_service()
    (tmp_path / "posted.json").write_text(json.dumps(["ab" * 32]))
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "UNPOSTED": service.base_url,
        "TOKEN": API_TOKEN,
        "DROPBOX_APP_SECRET": emulator.app_secret,
    }
    blocks = _sh_blocks(_section("API"))
    assert len(blocks) >= 8
    for block in blocks:
        script = _FAIL_ON_HTTP_ERRORS + _with_fresh_selection(service, block)
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.strip() or "/release" in block, block  # release answers 204


def _with_fresh_selection(service: Service, block: str) -> str:
    if "CONTENT_HASH" not in block and "LEASE_ID" not in block:
        return block
    chosen = service.client.post("/select", json={}).json()
    return block.replace("CONTENT_HASH", chosen["content_hash"]).replace(
        "LEASE_ID", chosen["lease"]["id"]
    )


def test_sample_replies_have_the_fields_the_service_sends(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/harbor-1.jpg", b"harbor")
    service = start_service()
    samples = re.findall(r"```json\n(.*?)```", _section("API"), flags=re.DOTALL)
    select_sample, status_sample = json.loads(samples[0]), json.loads(samples[2])
    assert "content_hash" in select_sample and "unique_images" in status_sample
    chosen = service.client.post("/select", json={}).json()
    assert set(chosen) == set(select_sample)
    assert set(chosen["lease"]) == set(select_sample["lease"])
    assert set(service.client.get("/status").json()) == set(status_sample)
