"""Near-duplicates end to end: the emulator makes thumbnails, the service hashes and groups.

The pictures are photographs bundled with scikit-image when it is installed, else the
demo's drawn scenes; each test re-exports one at half its size and at JPEG quality 60.
Two services on one PostgreSQL database, as two replicas, hash a library between them
once, each grouping with what the other recorded.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image

from app.demo import draw_scene
from emulator import Emulator
from state.hashing import content_hash
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until


def scene(tmp_path: Path, seed: int) -> Image.Image:
    path = tmp_path / f"scene-{seed}.jpg"
    draw_scene(path, random.Random(seed), "harbor")
    with Image.open(path) as image:
        return image.convert("RGB")


def jpeg(image: Image.Image, quality: int = 90, scale: float = 1.0) -> bytes:
    if scale != 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def pictures(tmp_path: Path, emulator: Emulator) -> dict[str, bytes]:
    original = scene(tmp_path, 1)
    files = {
        "harbor.jpg": jpeg(original),
        "harbor-small.jpg": jpeg(original, scale=0.5),
        "harbor-q60.jpg": jpeg(original, quality=60),
        "other.jpg": jpeg(scene(tmp_path, 7)),
        "notes.png": b"not a picture at all",
    }
    for name, data in files.items():
        emulator.put_file(f"/Photos/{name}", data)
    return files


def hashed(service: Service) -> Service:
    service.wait_ready()
    fingerprinter = service.runtime.fingerprinters["default"]
    wait_until(lambda: service.client.get("/status").json()["libraries"]["default"]
               ["awaiting_fingerprint"] == 0 and fingerprinter.idle, timeout=30)  # fmt: skip
    return service


def select(service: Service, **body: object) -> httpx.Response:
    return service.client.post("/select", json=body)


def test_copies_are_grouped_and_a_post_keeps_the_others_out(
    emulator: Emulator, start_service: StartService, pictures: dict[str, bytes]
) -> None:
    service = hashed(start_service(near_duplicate_hashing=True))
    status = service.client.get("/status").json()
    assert status["libraries"]["default"]["fingerprinted"] == 4
    assert status["libraries"]["default"]["unhashable"] == 1  # Dropbox makes no thumbnail
    assert emulator.counters.calls("files/download") == 0
    assert emulator.counters.calls("files/get_thumbnail_batch") == 1  # 5 new: one call

    chosen = select(service, name="harbor.jpg", dry_run=True).json()
    near = {n["path"]: n["distance"] for n in chosen["near_duplicates"]}
    assert set(near) == {"/Photos/harbor-small.jpg", "/Photos/harbor-q60.jpg"}
    assert all(0 <= distance <= 40 for distance in near.values())

    lease = select(service, name="harbor-small.jpg").json()["lease"]["id"]
    posted = {"content_hash": content_hash(pictures["harbor-small.jpg"]), "lease_id": lease}
    assert service.client.post("/posted", json=posted).status_code == 200
    offered = {select(service, dry_run=True).json()["path"] for _ in range(20)}
    assert offered <= {"/Photos/other.jpg", "/Photos/notes.png"}  # never grouped, so offered
    channel = service.client.get("/status").json()["channels"]["default"]
    assert channel["available"] == 2
    assert channel["near_duplicates_skipped"] == 2 and channel["near_duplicate_groups"] == 1
    metrics = service.client.get("/metrics").text
    assert 'unposted_fingerprints_total{library="default",outcome="hashed"} 4.0' in metrics
    assert 'unposted_channel_images{channel="default",state="near_duplicates_skipped"} 2.0' in (
        metrics
    )


def test_a_picture_added_later_joins_its_group_in_the_background(
    emulator: Emulator, start_service: StartService, pictures: dict[str, bytes], tmp_path: Path
) -> None:
    service = hashed(start_service(near_duplicate_hashing=True))
    posted = {"content_hash": content_hash(pictures["other.jpg"])}
    service.client.post("/posted", json=posted)
    emulator.put_file("/Photos/other-again.jpg", jpeg(scene(tmp_path, 7), quality=60))
    service.worker.request_threadsafe()
    wait_until(lambda: select(service, name="other-again.jpg", dry_run=True).json()
               .get("near_duplicates"), timeout=30)  # 404 until caught up  # fmt: skip
    offered = {select(service, dry_run=True).json()["path"] for _ in range(20)}
    assert "/Photos/other-again.jpg" not in offered


def test_without_hashing_nothing_is_grouped_and_no_thumbnail_is_asked(
    emulator: Emulator, start_service: StartService, pictures: dict[str, bytes]
) -> None:
    service = start_service()
    service.wait_ready()
    assert select(service, name="harbor.jpg", dry_run=True).json()["near_duplicates"] == []
    assert emulator.counters.calls("files/get_thumbnail_batch") == 0


def test_the_console_shows_the_group_and_a_split_is_kept(
    start_service: StartService, pictures: dict[str, bytes]
) -> None:
    from tests.integration.test_console import csrf_of, signed_in

    service = hashed(start_service(near_duplicate_hashing=True))
    small = content_hash(pictures["harbor-small.jpg"])
    with signed_in(service) as person:
        page = person.get("/console/channels/default/near-duplicates")
        assert page.status_code == 200
        assert page.text.count('action="/console/channels/default/images/') == 3
        assert "harbor-small.jpg" in page.text and "other.jpg" not in page.text
        picture = person.get(f"/console/channels/default/images/{small}")
        assert "Near-duplicates" in picture.text and "/Photos/harbor.jpg" in picture.text
        back = "/console/channels/default/near-duplicates"
        form = {"csrf": csrf_of(page), "next": back}
        reply = person.post(f"/console/channels/default/images/{small}/split", data=form)
        assert reply.status_code == 303 and reply.headers["location"].endswith("done=split")
        assert "no longer taken for the same picture" in person.get(reply.headers["location"]).text
        again = person.post(f"/console/channels/default/images/{small}/split", data=form)
        assert again.headers["location"].endswith("done=alone")
        nowhere = person.post("/console/channels/default/images/" + "0" * 64 + "/split", data=form)
        assert nowhere.status_code == 404
        assert person.get(back + "?after=-1").status_code == 422
    near = select(service, name="harbor-small.jpg", dry_run=True).json()["near_duplicates"]
    assert near == []


def _put(
    emulator: Emulator, tmp_path: Path, name: str, seed: int, quality: int = 90, scale: float = 1
) -> None:
    emulator.put_file(f"/Photos/{name}", jpeg(scene(tmp_path, seed), quality, scale))


def _caught_up(service: Service, name: str) -> None:
    """Ask this replica for a catch-up; whichever replica takes the turn, wait for ``name``."""
    service.worker.request_threadsafe()
    wait_until(lambda: select(service, name=name, dry_run=True).status_code == 200, 30)


def _near(service: Service, name: str) -> set[str]:
    chosen = select(service, name=name, dry_run=True).json()
    return {n["path"] for n in chosen["near_duplicates"]}


def test_replicas_hash_each_picture_once_and_group_with_what_the_other_recorded(
    emulator: Emulator, start_service: StartService, database_url: str, tmp_path: Path
) -> None:
    for name, seed in (("one.jpg", 1), ("two.jpg", 7)):
        _put(emulator, tmp_path, name, seed)
    # Hashing is driven by hand here: ``run_once`` is a pass of a replica's worker.
    first = start_service(database_url=database_url, state_dir=tmp_path / "first")
    second = start_service(database_url=database_url, state_dir=tmp_path / "second")
    hashers = [s.runtime.fingerprinters["default"] for s in (first, second)]
    calls = lambda: emulator.counters.calls("files/get_thumbnail_batch")  # noqa: E731
    assert hashers[1].run_once() == 2 and calls() == 1  # the second's index now holds 2

    _put(emulator, tmp_path, "three.jpg", 3)
    _caught_up(first, "three.jpg")
    assert hashers[0].run_once() == 1 and calls() == 2  # recorded by the first only
    _put(emulator, tmp_path, "three-q60.jpg", 3, quality=60)
    _caught_up(second, "three-q60.jpg")
    assert hashers[1].run_once() == 1  # its index missed three.jpg: loaded again first
    assert _near(first, "three-q60.jpg") == {"/Photos/three.jpg"}

    _put(emulator, tmp_path, "one-q60.jpg", 1, quality=60)
    _caught_up(first, "one-q60.jpg")
    with first.runtime.store.near.hashing_turn("default") as held:
        assert held == 4
        assert hashers[1].run_once() == 0  # the turn is taken: no thumbnail asked for
    assert calls() == 3
    assert hashers[1].run_once() == 1 and _near(second, "one-q60.jpg") == {"/Photos/one.jpg"}

    # A pass under way picks up what another replica's catch-up added meanwhile.
    _put(emulator, tmp_path, "two-q60.jpg", 7, quality=60)
    _caught_up(first, "two-q60.jpg")
    gate = emulator.faults.hold("files/get_thumbnail_batch", times=1)
    passed: list[int] = []
    worker = threading.Thread(target=lambda: passed.append(hashers[0].run_once()))
    worker.start()
    wait_until(lambda: emulator.counters.in_flight("files/get_thumbnail_batch") == 1)
    _put(emulator, tmp_path, "one-small.jpg", 1, scale=0.5)
    _caught_up(second, "one-small.jpg")
    assert hashers[1].run_once() == 0
    gate.release()
    worker.join(30)
    assert passed == [2] and calls() == 6
    assert _near(second, "two-q60.jpg") == {"/Photos/two.jpg"}
    assert _near(second, "one.jpg") == {"/Photos/one-q60.jpg", "/Photos/one-small.jpg"}
    status = second.client.get("/status").json()["libraries"]["default"]
    assert (status["fingerprinted"], status["awaiting_fingerprint"]) == (7, 0)


def test_numpy_loads_with_the_first_fingerprint_not_with_the_app() -> None:
    """A service with nothing to fingerprint never holds NumPy (16 MB): it loads with the
    first index a fingerprinter makes."""
    code = (
        "import sys, app.main; before = 'numpy' in sys.modules;"
        " from app.sync import fingerprints; fingerprints._new_index();"
        " print(before, 'numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
