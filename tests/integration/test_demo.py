"""``python -m app demo`` as an operator runs it: a real process, its printed lines pasted.

The demo is started as a subprocess over a temporary data directory. The test reads the
URLs, the API token and the three ``curl`` lines it prints, runs those lines (with curl
when the machine has it), drops a new image into the sample folder and waits for it to
become selectable, then stops the process with SIGINT, as Ctrl-C would.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import TLS
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
FOUR_MIB = 4 * 1024 * 1024


@dataclass
class DemoProcess:
    process: subprocess.Popen[str]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text()

    def printed(self, label: str) -> str:
        match = re.search(rf"^  {label}\s+(\S+)", self.output(), flags=re.MULTILINE)
        assert match, f"the demo did not print its {label}:\n{self.output()}"
        return match.group(1)

    def curl_lines(self) -> list[str]:
        return re.findall(r"^  (curl .*)$", self.output(), flags=re.MULTILINE)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


def _start_demo(data: Path, logs: Path, *options: str) -> DemoProcess:
    stdout, stderr = logs / "demo.out", logs / "demo.err"
    command = [sys.executable, "-m", "app", "demo", "--port", "0", "--data", str(data), *options]
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, text=True)
    demo = DemoProcess(process, stdout, stderr)
    wait_until(lambda: "Ctrl-C stops" in demo.output() or process.poll() is not None, 120)
    assert process.poll() is None, f"the demo exited:\n{demo.output()}\n{stderr.read_text()}"
    return demo


@pytest.fixture
def run_demo(tmp_path: Path) -> Iterator[Any]:
    started: list[DemoProcess] = []

    def run(data: Path, *options: str) -> DemoProcess:
        logs = tmp_path / f"run-{len(started)}"
        logs.mkdir()
        started.append(_start_demo(data, logs, *options))
        return started[-1]

    yield run
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait()


def _run_curl(line: str) -> dict[str, Any]:
    """Run a printed line as pasted into a shell; without curl, replay it with httpx."""
    if shutil.which("curl"):
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))
    words = shlex.split(line)
    method = words[words.index("-X") + 1] if "-X" in words else "GET"
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    body = words[words.index("-d") + 1] if "-d" in words else None
    url = next(word for word in words if word.startswith("http"))
    response = httpx.request(method, url, headers=headers, content=body, timeout=30, verify=TLS)
    return dict(response.json())


def _check_samples(folder: Path) -> None:
    images = [p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    assert 24 <= len(images) <= 60
    assert {p.suffix.lower() for p in images} == {".jpg", ".png"}
    for image in images:
        with Image.open(image) as opened:
            opened.verify()  # real, decodable JPEG and PNG files
    contents = [p.read_bytes() for p in images]
    assert len(set(contents)) < len(contents), "some samples are exact duplicates"
    assert any(p.with_suffix(".txt").exists() for p in images), "some samples have sidecars"
    assert sum(p.stat().st_size > FOUR_MIB for p in images) == 1


def _drop_image(folder: Path, scratch: Path) -> None:
    """Write a new image elsewhere, then move it in, as a sync client would."""
    draft = scratch / "dropped.png"
    Image.new("RGB", (64, 48), (12, 200, 90)).save(draft)
    draft.rename(folder / "dropped.png")


def test_demo_prints_working_curl_lines_and_sees_a_dropped_file(
    run_demo: Any, tmp_path: Path
) -> None:
    data = tmp_path / "demo-data"
    demo = run_demo(data)
    assert "sample images drawn" in demo.output()
    folder = data / "Dropbox" / "Photos"
    _check_samples(folder)
    service, token = demo.printed("service"), demo.printed("API token")
    select_line, posted_line, status_line = demo.curl_lines()

    selection = _run_curl(select_line)
    assert selection["lease"] is not None and selection["path"].startswith("/Photos/")
    receipt = _run_curl(posted_line)
    assert re.fullmatch(r"[0-9a-f]{64}", receipt["content_hash"]) and receipt["posted_at"]
    status = _run_curl(status_line)
    images = [p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png")]
    assert status["images"] == len(images)
    assert status["unique_images"] == len({p.read_bytes() for p in images})
    # The posted line always records harbor-1.jpg, and the selection is random: one time
    # in unique_images it is that very picture (or its copy), and posting it ends the lease.
    same_picture = selection["content_hash"] == receipt["content_hash"]
    assert status["posted"] == 1
    assert status["leased"] == (0 if same_picture else 1)

    client = httpx.Client(
        base_url=service, headers={"Authorization": f"Bearer {token}"}, verify=TLS
    )
    dropped = {"name": "dropped.png", "dry_run": True}
    assert client.post("/select", json=dropped).status_code == 404
    _drop_image(folder, tmp_path)
    began = time.monotonic()
    wait_until(lambda: client.post("/select", json=dropped).status_code == 200, 5)
    print(f"dropped file selectable after {time.monotonic() - began:.2f} s")
    client.close()

    assert demo.interrupt() == 0
    assert demo.output().rstrip().endswith("stopped")
    assert token not in demo.stderr.read_text(), "the API token leaked into the log"


def test_second_run_keeps_samples_and_posted_state(run_demo: Any, tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    first = run_demo(data)
    assert _run_curl(first.curl_lines()[1])["content_hash"]
    assert first.interrupt() == 0
    drawn = {p.name: p.stat().st_mtime_ns for p in (data / "Dropbox" / "Photos").iterdir()}

    second = run_demo(data, "--log-format", "json")
    assert "sample images drawn" not in second.output()
    assert second.printed("API token") != first.printed("API token")
    assert _run_curl(second.curl_lines()[2])["posted"] == 1
    assert _run_curl(second.curl_lines()[0])["lease"] is not None
    assert {p.name: p.stat().st_mtime_ns for p in (data / "Dropbox" / "Photos").iterdir()} == drawn
    assert second.interrupt() == 0
    records = [json.loads(line) for line in second.stderr.read_text().splitlines()]
    events = {record.get("event") for record in records}
    assert {"catch_up_start", "catch_up_complete", "image_selection_complete"} <= events
