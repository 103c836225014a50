"""``POST /posted`` (with archiving), export, reset, and the token every endpoint needs."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from emulator import Emulator
from state.hashing import content_hash
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until


def select(service: Service, **body: Any) -> dict[str, Any]:
    reply = service.client.post("/select", json=body)
    assert reply.status_code == 200, reply.text
    chosen: dict[str, Any] = reply.json()
    return chosen


def post(service: Service, **body: Any) -> httpx.Response:
    return service.client.post("/posted", json=body)


def export(service: Service) -> dict[str, list[str]]:
    document: dict[str, list[str]] = service.client.get("/posted/export").json()
    return document


def error_of(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]


def test_posted_with_the_lease_retires_the_image(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    chosen = select(service)
    reply = post(service, content_hash=chosen["content_hash"], lease_id=chosen["lease"]["id"])
    assert reply.status_code == 200
    assert reply.json().keys() == {
        "content_hash", "posted_at", "archived_to", "lease", "archive_error"
    }  # fmt: skip
    assert (reply.json()["lease"], reply.json()["archive_error"]) == ("ended", None)
    assert reply.json()["content_hash"] == chosen["content_hash"]
    assert reply.json()["archived_to"] is None
    assert error_of(service.client.post("/select", json={})) == (404, "no_new_images")
    released = service.client.post("/release", json={"lease_id": chosen["lease"]["id"]})
    assert error_of(released) == (404, "lease_not_found")  # posting ended the lease


def test_posted_without_a_lease_and_idempotent(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    service = start_service()
    first = post(service, content_hash=content_hash(b"a"), sha256=hashlib.sha256(b"a").hexdigest())
    again = post(service, content_hash=content_hash(b"a").upper())
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert select(service)["name"] == "b.jpg"
    assert export(service) == {
        "hashes": [hashlib.sha256(b"a").hexdigest()],
        "dropbox_content_hashes": [content_hash(b"a")],
    }
    assert service.client.get("/status").json()["posted"] == 1


def test_a_content_hash_the_catalog_lacks_is_recorded(start_service: StartService) -> None:
    service = start_service()
    elsewhere = content_hash(b"posted some other way")
    assert post(service, content_hash=elsewhere).status_code == 200
    assert export(service)["dropbox_content_hashes"] == [elsewhere]


def test_a_lease_for_another_image_is_refused(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    service = start_service()
    chosen = select(service)
    other = content_hash(b"b" if chosen["name"] == "a.jpg" else b"a")
    reply = post(service, content_hash=other, lease_id=chosen["lease"]["id"])
    assert error_of(reply) == (422, "invalid_request")
    assert export(service)["dropbox_content_hashes"] == []


def test_a_posted_image_uploaded_again_under_another_name_is_never_offered(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"the picture")
    service = start_service()
    chosen = select(service)
    post(service, content_hash=chosen["content_hash"], lease_id=chosen["lease"]["id"])
    emulator.put_file("/Photos/renamed copy.png", b"the picture")
    emulator.put_file("/Photos/new.jpg", b"a new picture")
    service.catch_up()
    assert service.client.get("/status").json()["images"] == 3
    assert select(service)["name"] == "new.jpg"
    assert error_of(service.client.post("/select", json={})) == (404, "no_new_images")


def test_archive_moves_the_image_its_copies_and_sidecars(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"the picture")
    emulator.put_file("/Photos/a.txt", b"its caption")
    emulator.put_file("/Photos/copy.jpg", b"the picture")
    emulator.put_file("/Photos/b.jpg", b"another picture")
    service = start_service(archive_folder="/Archive")
    emulator.counters.reset()
    reply = post(service, content_hash=content_hash(b"the picture"), archive=True)
    assert reply.status_code == 200, reply.text
    assert reply.json()["archived_to"] in ("/Archive/a.jpg", "/Archive/copy.jpg")
    assert set(emulator.files("/Archive")) == {
        "/archive/a.jpg", "/archive/a.txt", "/archive/copy.jpg"
    }  # fmt: skip
    assert set(emulator.files("/Photos")) == {"/photos/b.jpg"}
    assert emulator.counters.calls("files/move_v2") == 3
    assert emulator.counters.calls("files/download") == 0
    wait_until(lambda: service.client.get("/status").json()["images"] == 1)
    assert service.client.get("/status").json()["posted"] == 1


def test_archive_without_an_archive_folder_records_nothing(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    reply = post(service, content_hash=content_hash(b"a"), archive=True)
    assert error_of(reply) == (422, "invalid_request")
    assert "ARCHIVE_FOLDER" in reply.json()["message"]
    assert export(service) == {"hashes": [], "dropbox_content_hashes": []}
    assert emulator.files("/Photos").keys() == {"/photos/a.jpg"}


BAD_POSTED: list[Any] = [
    {},
    {"content_hash": "abc"},
    {"content_hash": "g" * 64},
    {"content_hash": 64},
    {"content_hash": content_hash(b"a"), "sha256": "short"},
    {"content_hash": content_hash(b"a"), "archive": "true"},
    {"content_hash": content_hash(b"a"), "lease_id": 5},
    {"content_hash": content_hash(b"a"), "extra": 1},
    [content_hash(b"a")],
]


def test_bad_posted_bodies_are_refused_and_record_nothing(start_service: StartService) -> None:
    service = start_service()
    for body in BAD_POSTED:
        reply = service.client.post("/posted", json=body)
        assert error_of(reply) == (422, "invalid_request"), body
    release = service.client.post("/release", json={"lease_id": ""})
    assert error_of(release) == (422, "invalid_request")
    assert export(service) == {"hashes": [], "dropbox_content_hashes": []}


def test_reset_posted_needs_the_confirmation_and_returns_what_it_cleared(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    post(service, content_hash=content_hash(b"a"), sha256=hashlib.sha256(b"a").hexdigest())
    before = export(service)
    for body in ({}, {"confirm": "reset"}, {"confirm": "RESET", "also": 1}, {"confirm": True}):
        reply = service.client.post("/admin/reset-posted", json=body)
        assert error_of(reply) == (422, "invalid_request"), body
    assert export(service) == before
    cleared = service.client.post("/admin/reset-posted", json={"confirm": "RESET"})
    assert cleared.status_code == 200 and cleared.json() == before
    assert export(service) == {"hashes": [], "dropbox_content_hashes": []}
    assert select(service)["name"] == "a.jpg"  # offered again


ENDPOINTS = [
    ("POST", "/select"),
    ("POST", "/posted"),
    ("POST", "/release"),
    ("GET", "/posted/export"),
    ("POST", "/posted/import"),
    ("POST", "/admin/reset-posted"),
]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
def test_every_endpoint_refuses_a_missing_or_wrong_token(
    start_service: StartService, headers: dict[str, str]
) -> None:
    service = start_service()
    post(service, content_hash=content_hash(b"kept"))
    with httpx.Client(base_url=service.base_url, headers=headers, verify=TLS) as stranger:
        for method, path in ENDPOINTS:
            body = {"confirm": "RESET"} if path == "/admin/reset-posted" else {}
            reply = stranger.request(method, path, json=body)
            assert reply.status_code == 401, (method, path)
            assert reply.json()["error"] == "unauthorized"
    assert export(service)["dropbox_content_hashes"] == [content_hash(b"kept")]
