"""``POST /select`` and ``POST /release`` through the running service, against the emulator."""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.sqlite_files import opened
from tests.waiting import wait_until

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
FIELDS = {
    "content_hash", "id", "path", "name", "size", "rev", "server_modified",
    "sidecars", "duplicates", "lease", "temporary_link",
}  # fmt: skip


def select(service: Service, **body: Any) -> httpx.Response:
    return service.client.post("/select", json=body)


def status(service: Service) -> dict[str, Any]:
    reply: dict[str, Any] = service.client.get("/status").json()
    return reply


def test_a_selection_has_the_contracts_shape(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/sunset.jpg", b"sunset bytes")
    emulator.put_file("/Photos/sunset.txt", b"a caption")
    service = start_service()
    reply = select(service)
    assert reply.status_code == 200, reply.text
    chosen = reply.json()
    assert FIELDS <= chosen.keys()
    meta = emulator.files("/Photos")["/photos/sunset.jpg"]
    assert chosen["content_hash"] == meta.content_hash
    assert (chosen["path"], chosen["name"], chosen["size"]) == (
        "/Photos/sunset.jpg",
        "sunset.jpg",
        12,
    )
    assert (chosen["id"], chosen["rev"]) == (meta.id, meta.rev)
    assert ISO_Z.fullmatch(chosen["server_modified"])
    assert chosen["sidecars"] == [{"path": "/Photos/sunset.txt", "name": "sunset.txt"}]
    assert chosen["duplicates"] == [] and chosen["temporary_link"] is None
    assert chosen["lease"]["id"] and ISO_Z.fullmatch(chosen["lease"]["expires_at"])


def test_no_body_and_an_empty_body_mean_the_defaults(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", 3)
    service = start_service()
    as_json = {"Content-Type": "application/json"}
    assert service.client.post("/select").status_code == 200
    assert service.client.post("/select", content=b"", headers=as_json).status_code == 200
    assert service.client.post("/select", content=b"{}", headers=as_json).status_code == 200


def test_64_concurrent_publishers_get_every_image_exactly_once(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", 300, duplicate_every=10)
    unique = {meta.content_hash for meta in emulator.files("/Photos").values()}
    assert len(unique) == 270
    service = start_service()
    handed_out: list[str] = []
    endings: list[str] = []
    lock = threading.Lock()

    def publisher() -> None:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        with httpx.Client(
            base_url=service.base_url, headers=headers, timeout=30, verify=TLS
        ) as client:
            while (reply := client.post("/select", json={})).status_code == 200:
                with lock:
                    handed_out.append(reply.json()["content_hash"])
            with lock:
                endings.append(reply.json()["error"])

    threads = [threading.Thread(target=publisher) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [hash_ for hash_, count in Counter(handed_out).items() if count > 1] == []
    assert set(handed_out) == unique
    assert endings == ["no_new_images"] * 64
    reply = select(service)
    assert reply.json()["message"] == (
        "No new images to post (all duplicates); 270 leased to publishers"
    )


def test_an_empty_folder_has_no_images(start_service: StartService) -> None:
    reply = select(start_service())
    assert reply.status_code == 404
    assert reply.json() == {"error": "no_images", "message": "No images found"}


def test_not_ready_before_the_first_catch_up(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.faults.delay("files/list_folder", 1.5, times=1)
    service = start_service(wait=False)
    reply = select(service)
    assert reply.status_code == 503 and reply.json()["error"] == "not_ready"
    service.wait_ready()
    assert select(service).status_code == 200


def test_expired_leases_return(emulator: Emulator, start_service: StartService) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    first = select(service, lease_seconds=1).json()
    assert select(service).json()["error"] == "no_new_images"
    again = wait_until(lambda: (reply := select(service)).status_code == 200 and reply, 10)
    assert again.json()["content_hash"] == first["content_hash"]
    assert again.json()["lease"]["id"] != first["lease"]["id"]


def test_release_returns_the_image(emulator: Emulator, start_service: StartService) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    lease = select(service).json()["lease"]["id"]
    assert select(service).status_code == 404
    assert service.client.post("/release", json={"lease_id": lease}).status_code == 204
    assert select(service).status_code == 200
    stale = service.client.post("/release", json={"lease_id": lease})
    assert (stale.status_code, stale.json()["error"]) == (404, "lease_not_found")


def test_duplicates_collapse_into_one_image(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"same picture")
    emulator.put_file("/Photos/b.jpg", b"same picture")
    emulator.put_file("/Photos/c.png", b"another picture")
    service = start_service()
    first, second = select(service).json(), select(service).json()
    assert select(service).json()["error"] == "no_new_images"
    by_name = {first["name"]: first, second["name"]: second}
    assert by_name.keys() == {"a.jpg", "c.png"}  # the first path by path_lower represents
    assert by_name["a.jpg"]["duplicates"] == ["/Photos/b.jpg"]
    assert by_name["c.png"]["duplicates"] == []


def test_select_by_name(emulator: Emulator, start_service: StartService) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/B.jpg", b"b")
    service = start_service()
    chosen = select(service, name="b.JPG").json()
    assert chosen["path"] == "/Photos/B.jpg" and chosen["lease"] is not None
    assert chosen["posted_at"] is None
    taken = select(service, name="B.jpg")
    assert (taken.status_code, taken.json()["error"]) == (409, "leased")
    missing = select(service, name="nope.jpg")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Selected file not found: nope.jpg"}
    service.client.post("/posted", json={"content_hash": chosen["content_hash"]})
    posted = select(service, name="B.jpg")
    assert posted.status_code == 200
    assert posted.json()["lease"] is None and ISO_Z.fullmatch(posted.json()["posted_at"])


def test_the_name_policy_goes_in_name_order(
    emulator: Emulator, start_service: StartService
) -> None:
    for name in ("b.jpg", "C.jpg", "a.jpg"):
        emulator.put_file(f"/Photos/{name}", name.encode())
    service = start_service(select_policy="name")
    assert [select(service).json()["name"] for _ in range(3)] == ["a.jpg", "b.jpg", "C.jpg"]


def test_link_costs_one_call_and_no_download(
    emulator: Emulator, start_service: StartService
) -> None:
    picture = bytes(range(256)) * 40
    emulator.put_file("/Photos/a.jpg", picture)
    service = start_service()
    emulator.counters.reset()
    chosen = select(service, link=True).json()
    assert emulator.counters.calls("files/get_temporary_link") == 1
    assert emulator.counters.calls("files/download") == 0
    assert sum(sum(by.values()) for by in emulator.counters.snapshot().values()) == 1
    assert httpx.get(chosen["temporary_link"], verify=TLS).content == picture
    metrics = service.client.get("/metrics").text
    assert "unposted_selection_downloads_total 0.0" in metrics


def test_a_link_for_a_file_gone_from_dropbox_gives_the_lease_back(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    service = start_service()
    emulator.delete("/Photos/a.jpg")  # no webhook: the catalog does not know yet
    reply = select(service, name="a.jpg", link=True)
    assert reply.status_code == 404 and reply.json()["error"] == "not_found"
    wait_until(lambda: status(service)["images"] == 1)  # a catch-up was asked for
    assert status(service)["leased"] == 0


def test_metrics_and_log_events(
    emulator: Emulator, start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    service = start_service()
    caplog.set_level("DEBUG", logger="app.services.selection")
    for body in ({}, {"dry_run": True}, {}, {}):
        select(service, **body)
    metrics = service.client.get("/metrics").text
    for outcome, count in (("selected", 2), ("preview", 1), ("no_new_images", 1)):
        selections = f'unposted_selections_total{{channel="default",outcome="{outcome}"}}'
        assert f"{selections} {count}.0" in metrics
    assert 'unposted_selection_images_considered_total{channel="default"} 3.0' in metrics
    assert "unposted_selection_downloads_total 0.0" in metrics
    assert 'unposted_leases_total{channel="default",event="granted"} 2.0' in metrics
    assert "unposted_selection_seconds_count 4.0" in metrics
    events = [getattr(record, "event", None) for record in caplog.records]
    assert events.count("image_selection_start") == 4
    complete = [r for r in caplog.records if getattr(r, "event", "") == "image_selection_complete"]
    assert [r.outcome for r in complete] == [
        "selected", "preview", "selected", "no_new_images"
    ]  # fmt: skip
    assert all(isinstance(record.ms, float) for record in complete)
    # A preview is a read, like a health check: logged at DEBUG; leases and refusals at INFO.
    assert [r.levelname for r in complete] == ["INFO", "DEBUG", "INFO", "INFO"]


def database_bytes(service: Service) -> tuple[bytes, bytes]:
    path = service.settings.database_path
    wal = Path(f"{path}-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


def log_checkpointed(service: Service) -> bool:
    """Whether every commit is copied from the log into the file. The service checkpoints
    on a thread of its own, shortly after a commit (``state.sqlite.checkpoints``): copied
    now, the earlier commits cannot change the file's bytes later, with nothing to copy."""
    with opened(service.settings.database_path) as db:
        busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return bool(busy == 0 and frames == copied)


def database_dump(service: Service) -> list[str]:
    uri = f"file:{service.settings.database_path}?mode=ro"
    with opened(uri, uri=True) as reader:
        return list(reader.iterdump())


def running_leases(service: Service) -> int:
    uri = f"file:{service.settings.database_path}?mode=ro"
    with opened(uri, uri=True) as reader:
        return int(reader.execute("SELECT count(*) FROM leases WHERE ended IS NULL").fetchone()[0])


def test_preview_changes_nothing_byte_for_byte(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", 20, duplicate_every=5)
    service = start_service()
    posted = select(service).json()
    service.client.post("/posted", json={"content_hash": posted["content_hash"]})
    select(service, lease_seconds=1)  # a lease that expires: previews must not reclaim it
    held = select(service).json()
    # Reclaimed, not only expired: /status stops counting a lease once it expires, and a
    # reclaim during the previews below would change the file (it did once).
    wait_until(lambda: running_leases(service) == 1, 10)
    assert status(service)["leased"] == 1
    wait_until(lambda: not service.worker.health.running)
    wait_until(lambda: log_checkpointed(service), 10)
    before, dump = database_bytes(service), database_dump(service)
    previews = [select(service, dry_run=True) for _ in range(10)]
    previews.append(select(service, dry_run=True, name=posted["name"]))
    previews.append(select(service, dry_run=True, name=held["name"]))
    assert [reply.status_code for reply in previews] == [200] * 11 + [409]
    assert all(reply.json().get("lease") is None for reply in previews[:11])
    assert database_bytes(service) == before
    assert database_dump(service) == dump
    select(service)  # a real selection does change it: the comparison can fail
    assert database_dump(service) != dump


BAD_BODIES: list[Any] = [
    {"dry_run": "true"},
    {"dry_run": 1},
    {"link": "yes"},
    {"lease_seconds": 0},
    {"lease_seconds": 86_401},
    {"lease_seconds": 1.5},
    {"lease_seconds": "60"},
    {"lease_seconds": True},
    {"name": "x" * 1025},
    {"name": 7},
    {"surprise": 1},
    [],
    "dry_run",
]


def test_bad_bodies_are_refused_and_change_nothing(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    for body in BAD_BODIES:
        reply = service.client.post("/select", json=body)
        assert (reply.status_code, reply.json()["error"]) == (422, "invalid_request"), body
    assert status(service)["available"] == 1 and status(service)["leased"] == 0
    assert select(service, lease_seconds=86_400, name="x" * 1024).status_code == 404


def test_malformed_json_is_422(emulator: Emulator, start_service: StartService) -> None:
    service = start_service()
    reply = service.client.post(
        "/select", content=b'{"dry_run": tru', headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"
