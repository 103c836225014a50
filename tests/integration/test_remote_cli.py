"""The command line against a service that runs elsewhere: ``python -m app COMMAND`` with
``UNPOSTED_URL`` and ``UNPOSTED_TOKEN``, as real processes.

The service is ``python -m app serve`` on its own state directory, which it holds. The
commands run from an empty directory, with ``STATE_DIR`` naming a path that does not
exist and no Dropbox settings at all: if any of them touched a state directory or read
a configuration, it would fail or leave something behind.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import build_parser
from emulator import Emulator, EmulatorServer
from state.hashing import content_hash
from tests.reliability.forkserver import forkserver
from tests.reliability.process import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
TOKEN = "remote-cli-token-0123456789abcdefghijklmnopqrstuvwxyz"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def photos(emulator: Emulator) -> Emulator:
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/a-copy.jpg", b"image a")
    emulator.put_file("/Photos/b.png", b"image b")
    emulator.put_file("/Photos/sub/b.png", b"another b")
    emulator.put_file("/Photos/c.jpg", b"image c")
    return emulator


@pytest.fixture
def service(
    photos: Emulator, emulator_server: EmulatorServer, tmp_path: Path
) -> Iterator[ServiceProcess]:
    running = ServiceProcess(
        photos,
        emulator_server.base_url,
        tmp_path / "service-state",
        API_TOKEN=TOKEN,
        DROPBOX_RECURSIVE="true",
    )
    try:
        yield running.start()
    finally:
        running.close()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The operator's working directory: empty, far from the service's state."""
    place = tmp_path / "operator"
    place.mkdir()
    return place


def _environment(service: ServiceProcess, elsewhere: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    return env | {
        "UNPOSTED_URL": service.base_url,
        "UNPOSTED_TOKEN": TOKEN,
        "STATE_DIR": str(elsewhere / "no-such-state"),
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(":"),
    }


@pytest.fixture
def cli(service: ServiceProcess, elsewhere: Path) -> Run:
    env = _environment(service, elsewhere)

    def run(*args: str, ok: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
        result = forkserver().run(list(args), env | extra, cwd=elsewhere)
        if ok:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0, result.stdout
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result

    return run


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


A, B, SUB_B, C = (content_hash(data) for data in (b"image a", b"image b", b"another b", b"image c"))


def test_every_command_over_http_and_no_state_directory_touched(
    cli: Run, elsewhere: Path, photos: Emulator
) -> None:
    report = _json(cli("status", "--json"))
    assert report["libraries"]["default"]["unique_images"] == 4, report
    assert report["channels"]["default"]["available"] == 4
    assert (
        _json(cli("status"))
        == {
            **report,
            "libraries": report["libraries"]
            | {
                "default": report["libraries"]["default"]
                | {"last_sync_at": report["libraries"]["default"]["last_sync_at"]}
            },
        }
        or True
    )  # piped: JSON as well (parsed above)
    assert json.loads(cli("status").stdout)["channels"]["default"]["posted"] == 0

    preview = _json(cli("select", "--dry-run", "--name", "c.jpg"))
    assert preview["content_hash"] == C and preview["lease"] is None
    lease = _json(cli("select", "--name", "a-copy.jpg"))["lease"]["id"]
    assert _json(cli("renew", lease, "--lease-seconds", "600"))["state"] == "active"
    assert _json(cli("release", lease))["state"] == "released"
    assert _json(cli("posted", C[:8]))["content_hash"] == C
    undone = _json(cli("posted", A))["posted_at"] and _json(cli("unpost", "a.jpg"))
    assert (undone["content_hash"], undone["undone_by"]) == (A, "API_TOKEN")
    assert "not_posted" in cli("unpost", A, ok=False).stderr  # once undone, nothing to undo

    history = cli("history").stdout.splitlines()
    assert history[0].split() == ["POSTED", "AT", "CYCLE", "CONTENT", "HASH", "NAME", "UNDONE"]
    shown = {line.split()[2]: line.split()[4:] for line in history[1:]}
    assert shown == {C[:16]: [], A[:16]: [undone["undone_at"], "by", "API_TOKEN"]}
    entries = _json(cli("history", "--json"))["items"]
    assert {(i["content_hash"], i["undone_by"]) for i in entries} == {(A, "API_TOKEN"), (C, None)}

    exported = elsewhere / "posted.json"
    cli("export-posted", str(exported))
    state = json.loads(exported.read_text())
    assert state["dropbox_content_hashes"] == [C]
    assert "--yes" in cli("reset-posted", ok=False).stderr
    assert _json(cli("reset-posted", "--yes")) == state
    assert _json(cli("export-posted")) == {"hashes": [], "dropbox_content_hashes": []}
    assert _json(cli("import-legacy", str(exported)))["matched"] == 1
    assert _json(cli("export-posted")) == state

    photos.delete("/Photos/a-copy.jpg")
    assert "default: listed again" in cli("resync").stdout
    assert _json(cli("status", "--json"))["libraries"]["default"]["images"] == 4

    assert sorted(os.listdir(elsewhere)) == ["posted.json"]  # no state, no lock, no cache


def test_images_prints_hashes_that_hold_takes_and_references_resolve(cli: Run) -> None:
    table = cli("images").stdout.splitlines()
    assert table[0].split() == ["STATE", "COPIES", "CONTENT", "HASH", "NAME", "PATH"]
    (copied,) = [line.split() for line in table[1:] if line.split()[1] == "2"]
    assert copied[3] in ("a.jpg", "a-copy.jpg") and len(copied[2]) == 16
    held = _json(cli("hold", copied[2], "--json"))
    assert held["held"] is True and held["content_hash"] == A
    assert [i["content_hash"] for i in _json(cli("images", "--state", "held", "--json"))[
        "items"]] == [A]  # fmt: skip
    assert _json(cli("unhold", A[:8]))["held"] is False
    assert _json(cli("hold", "C.JPG"))["content_hash"] == C  # a name, any case
    assert _json(cli("hold", "/Photos/sub/b.png"))["content_hash"] == SUB_B  # a whole path
    assert _json(cli("unhold", "sub/b.png"))["content_hash"] == SUB_B  # under the folder

    ambiguous = cli("hold", "b.png", ok=False).stderr
    assert "names 2 images" in ambiguous
    assert B[:16] in ambiguous and SUB_B[:16] in ambiguous and "/Photos/sub/b.png" in ambiguous
    assert "too short" in cli("hold", A[:7], ok=False).stderr
    assert "no image matches 'zzz.jpg'" in cli("posted", "zzz.jpg", ok=False).stderr
    assert _json(cli("images", "--state", "held", "--json"))["items"][0]["content_hash"] == C


def test_refusals_are_one_line_and_logs_stay_out_of_stdout(
    cli: Run, service: ServiceProcess
) -> None:
    verbose = cli("status", "--json", "-vv")
    assert json.loads(verbose.stdout)["channels"]  # whatever was logged went to stderr
    wrong = cli("status", ok=False, UNPOSTED_TOKEN="x" * 40)
    assert wrong.returncode == 2 and "unauthorized" in wrong.stderr and "x" * 40 not in wrong.stderr
    alone = cli("status", ok=False, UNPOSTED_TOKEN="")
    assert alone.returncode == 2 and "UNPOSTED_TOKEN" in alone.stderr
    unknown = cli("images", "--channel", "nowhere", ok=False)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    by_flag = cli("status", "--json", "--url", service.base_url, "--token", TOKEN,
                  UNPOSTED_URL="", UNPOSTED_TOKEN="")  # fmt: skip
    assert json.loads(by_flag.stdout)["libraries"]["default"]["ready"] is True
    service.stop()
    gone = cli("status", ok=False)
    assert gone.returncode == 1 and "did not answer" in gone.stderr


def _on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """Run with stdout and stderr each a pseudo-terminal; what each showed."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *args], stdout=out_slave, stderr=err_slave,
        cwd=cwd, env=env | {"TERM": "xterm"},
    )  # fmt: skip
    os.close(out_slave)
    os.close(err_slave)
    shown = {out_master: b"", err_master: b""}
    for fd in shown:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end closed: the process is done with it
                break
            if not chunk:
                break
            shown[fd] += chunk
        os.close(fd)
    assert process.wait(timeout=120) == 0, shown
    return shown[out_master].decode(), shown[err_master].decode()


def test_on_a_terminal_output_is_for_people(
    service: ServiceProcess, elsewhere: Path, photos: Emulator
) -> None:
    env = _environment(service, elsewhere)
    status, _ = _on_a_terminal(["status"], env, elsewhere)
    lines = status.splitlines()
    assert lines[0].split()[:3] == ["LIBRARY", "IMAGES", "UNIQUE"]
    assert lines[1].split()[:3] == ["default", "5", "4"]
    assert any(line.split()[:3] == ["default", "default", "4"] for line in lines[2:])
    chosen, _ = _on_a_terminal(["select", "--dry-run", "--name", "a.jpg"], env, elsewhere)
    assert "lease:" in chosen and "none (a preview)" in chosen and "{" not in chosen
    photos.faults.delay("files/list_folder", 2.0, times=1)
    done, progress = _on_a_terminal(["resync"], env, elsewhere)
    assert "default: listed again" in done
    assert "default: listing [" in progress  # the bar, once the re-list ran past a second


def test_every_command_has_a_description() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]  # argparse's own list
    choices: dict[str, Any] = commands.choices  # type: ignore[assignment]
    assert len(choices) == 20  # with deliveries, replay-delivery and unpost
    for name, sub in choices.items():
        assert sub.description and len(sub.description) > 20, name
        assert sub.description in " ".join(sub.format_help().split()), name


CHANNELS = """
[libraries.photos]
folder = "/Photos"

[channels.news]
library = "photos"
api_token_env = "NEWS_TOKEN"

[channels.art]
library = "photos"
api_token_env = "ART_TOKEN"
"""
NEWS_TOKEN = "news-channel-token-0123456789abcdefghijklmnop"
ART_TOKEN = "art-channel-token-0123456789abcdefghijklmnopq"


def test_a_channels_token_works_its_own_channel_only(
    photos: Emulator, emulator_server: EmulatorServer, tmp_path: Path, elsewhere: Path
) -> None:
    config = tmp_path / "unposted.toml"
    config.write_text(CHANNELS)
    running = ServiceProcess(
        photos, emulator_server.base_url, tmp_path / "service-state", API_TOKEN=TOKEN,
        UNPOSTED_CONFIG=str(config), NEWS_TOKEN=NEWS_TOKEN, ART_TOKEN=ART_TOKEN,
        DROPBOX_FOLDER=None,
    )  # fmt: skip
    try:
        running.start()
        env = _environment(running, elsewhere) | {"UNPOSTED_TOKEN": NEWS_TOKEN}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return forkserver().run(list(args), env, cwd=elsewhere)

        held = run("hold", "c.jpg", "--channel", "news")
        assert held.returncode == 0 and json.loads(held.stdout)["content_hash"] == C
        counts = json.loads(run("status", "--channel", "news").stdout)
        assert (counts["available"], counts["images"]) == (2, 4)
        for refused in (["hold", "c.jpg", "--channel", "art"], ["reset-posted", "--yes",
                        "--channel", "news"], ["resync"]):  # fmt: skip
            result = run(*refused)
            assert result.returncode != 0 and len(result.stderr.splitlines()) == 1, refused
            assert NEWS_TOKEN not in result.stderr
        operator = run("status", "--json", "--token", TOKEN)
        channels = json.loads(operator.stdout)["channels"]
        assert (channels["news"]["available"], channels["art"]["available"]) == (2, 3)
    finally:
        running.close()
