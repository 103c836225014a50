"""Near-duplicates kept out whatever Dropbox's thumbnails do: late, failing, or archived away.

The service runs against the emulator, whose fault injection delays or fails
``files/get_thumbnail_batch``; on SQLite and on PostgreSQL. A re-export of a posted
picture that arrives while thumbnails lag is never offered (previews, leases, by name);
after the grace period a picture that could not be fingerprinted is offered, counted and
logged once; a picture posted with ``archive: true`` during a thumbnail outage is
fingerprinted at its archive path once thumbnails recover, so its re-export stays out;
one whose thumbnail Dropbox still makes at the post has it taken before the move; and one
gone from Dropbox before either is recorded and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator
from state.hashing import content_hash
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import signed_in
from tests.integration.test_near_duplicates import hashed, jpeg, scene, select
from tests.waiting import wait_until

THUMBNAILS = "files/get_thumbnail_batch"
SINGLE_THUMBNAIL = "files/get_thumbnail_v2"
DELAY = 4.0  # seconds each thumbnail call takes while they lag
GRACE = 3.0


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("database_url")}


def _watch(service: Service, done: Callable[[], bool], name: str) -> dict[str, Any]:
    """Previews, leasing selects and a selection of ``name`` by name, over and over until
    ``done``, then five rounds more (what is offered once it is done counts too): every
    path offered, and the answers to the selections by name."""
    offered: set[str] = set()
    by_name: set[str] = set()
    rounds, after, deadline = 0, 0, time.monotonic() + 60
    while after < 5:
        assert time.monotonic() < deadline, "not fingerprinted within 60 s"
        if after or done():
            after += 1
        for body in ({"dry_run": True}, {}):
            reply = select(service, **body)
            if reply.status_code == 200:
                offered.add(reply.json()["path"])
            else:
                assert reply.json()["error"] == "no_new_images", reply.text
        reply = select(service, name=name, dry_run=True)
        by_name.add(reply.json().get("error") or reply.json()["path"])
        rounds += 1
    return {"offered": offered, "by_name": by_name, "rounds": rounds}


def _idle(service: Service) -> bool:
    status = service.client.get("/status").json()["libraries"]["default"]
    return bool(status["awaiting_fingerprint"] == 0 and service.runtime.fingerprinters[
        "default"].idle)  # fmt: skip


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _channel(service: Service) -> dict[str, Any]:
    channel: dict[str, Any] = service.client.get("/status").json()["channels"]["default"]
    return channel


def test_a_re_export_of_a_posted_picture_added_while_thumbnails_lag_is_never_offered(
    emulator: Emulator, start_service: StartService, backend: dict[str, Any], tmp_path: Path
) -> None:
    original = scene(tmp_path, 1)
    emulator.put_file("/Photos/A.jpg", jpeg(original))
    emulator.put_file("/Photos/other.jpg", jpeg(scene(tmp_path, 7)))
    service = hashed(start_service(near_duplicate_hashing=True, **backend))
    lease = select(service, name="A.jpg").json()["lease"]["id"]
    posted = {"content_hash": content_hash(jpeg(original)), "lease_id": lease}
    assert service.client.post("/posted", json=posted).status_code == 200

    emulator.faults.delay(THUMBNAILS, DELAY)
    emulator.put_file("/Photos/A-q60.jpg", jpeg(original, quality=60))
    service.catch_up()
    channel = _channel(service)
    assert channel["awaiting_fingerprint"] == 1 and channel["available"] == 1
    assert 0 <= channel["oldest_awaiting_seconds"] < DELAY + 5
    assert service.client.get("/status").json()["awaiting_fingerprint"] == 1
    metrics = service.client.get("/metrics").text
    assert 'unposted_channel_images{channel="default",state="awaiting_fingerprint"} 1.0' in metrics
    assert 'unposted_channel_fingerprint_wait_seconds{channel="default"}' in metrics
    with signed_in(service) as person:
        assert "1 waiting for a fingerprint, the oldest for" in person.get("/").text
    started = time.monotonic()
    seen = _watch(service, lambda: _idle(service), "A-q60.jpg")
    assert time.monotonic() - started >= DELAY - 1  # it waited while the thumbnail lagged
    assert seen["offered"] == {"/Photos/other.jpg"}  # the preview's and the one lease's
    assert "awaiting_fingerprint" in seen["by_name"]
    channel = _channel(service)
    assert channel["near_duplicates_skipped"] == 1 and channel["awaiting_fingerprint"] == 0
    assert channel["oldest_awaiting_seconds"] is None
    assert select(service, dry_run=True).json()["error"] == "no_new_images"


def test_a_picture_past_its_grace_period_is_offered_counted_and_logged_once(
    emulator: Emulator,
    start_service: StartService,
    backend: dict[str, Any],
    tmp_path: Path,
) -> None:
    emulator.faults.server_error(THUMBNAILS, times=None)  # thumbnails fail throughout
    emulator.put_file("/Photos/A.jpg", jpeg(scene(tmp_path, 1)))
    logged = _Records()
    logging.getLogger("app.runtime").addHandler(logged)  # the service replaces root's handlers
    started = time.monotonic()
    service = start_service(
        near_duplicate_hashing=True, near_duplicate_grace_seconds=GRACE, **backend
    )
    assert select(service, dry_run=True).json()["error"] == "no_new_images"
    assert select(service, name="A.jpg").json()["error"] == "awaiting_fingerprint"
    assert _channel(service)["awaiting_fingerprint"] == 1
    wait_until(lambda: select(service, dry_run=True).status_code == 200, GRACE + 15)
    assert time.monotonic() - started >= GRACE
    assert select(service).json()["path"] == "/Photos/A.jpg"  # leased too
    channel = _channel(service)
    assert channel["awaiting_fingerprint"] == 0 and channel["oldest_awaiting_seconds"] is None
    time.sleep(2 * 1.0)  # two more rounds of the background step: nothing is offered again
    metrics = service.client.get("/metrics").text
    assert 'unposted_fingerprint_grace_expired_total{channel="default"} 1.0' in metrics
    logging.getLogger("app.runtime").removeHandler(logged)
    told = [r for r in logged.records if getattr(r, "event", "") == "fingerprint_grace_expired"]
    assert len(told) == 1 and "/Photos/A.jpg" in told[0].getMessage()
    emulator.faults.clear()


def _post_archived(service: Service, emulator: Emulator, name: str) -> None:
    body = {"content_hash": content_hash(emulator.read(f"/Photos/{name}")), "archive": True}
    reply = service.client.post("/posted", json=body)
    assert reply.status_code == 200 and reply.json()["archived_to"] == f"/Archive/{name}"


def test_a_picture_posted_and_archived_during_a_thumbnail_outage_keeps_its_re_export_out(
    emulator: Emulator, start_service: StartService, backend: dict[str, Any], tmp_path: Path
) -> None:
    for route in (THUMBNAILS, SINGLE_THUMBNAIL):
        emulator.faults.server_error(route, times=None)
    b, d = scene(tmp_path, 1), scene(tmp_path, 5)
    emulator.put_file("/Photos/B.jpg", jpeg(b))
    emulator.put_file("/Photos/C.jpg", jpeg(scene(tmp_path, 3)))
    emulator.put_file("/Photos/D.jpg", jpeg(d))
    emulator.put_file("/Photos/other.jpg", jpeg(scene(tmp_path, 7)))
    service = start_service(near_duplicate_hashing=True, archive_folder="/Archive", **backend)
    _post_archived(service, emulator, "B.jpg")  # no thumbnail now: taken at the archive later
    _post_archived(service, emulator, "C.jpg")
    emulator.delete("/Archive/C.jpg")  # gone from Dropbox before it was ever fingerprinted
    emulator.faults.clear()
    emulator.faults.server_error(THUMBNAILS, times=None)  # the hashing worker's still fail
    _post_archived(service, emulator, "D.jpg")  # its thumbnail is taken before the move
    assert emulator.counters.calls(SINGLE_THUMBNAIL, 200) == 1
    emulator.delete("/Archive/D.jpg")
    emulator.put_file("/Photos/B-small.jpg", jpeg(b, scale=0.5))
    emulator.put_file("/Photos/D-q60.jpg", jpeg(d, quality=60))
    service.catch_up()
    assert service.client.get("/status").json()["images"] == 3  # other, B-small, D-q60

    emulator.faults.clear()  # thumbnails recover
    seen = _watch(service, lambda: _idle(service), "B-small.jpg")
    assert seen["offered"] == {"/Photos/other.jpg"}
    assert _channel(service)["near_duplicates_skipped"] == 2
    near = select(service, name="B-small.jpg", dry_run=True).json()["near_duplicates"]
    assert near == []  # its group's other member, B.jpg, is no longer in the folder
    metrics = service.client.get("/metrics").text
    assert 'unposted_posted_unfingerprinted_total{library="default"} 1.0' in metrics  # C only
