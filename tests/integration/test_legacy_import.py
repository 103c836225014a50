"""``POST /posted/import``: the publisher's ``posted.json`` carried over, against the emulator.

Digests of images up to 4 MiB match without any download (the emulator counts every
``files/download``); images over 4 MiB are downloaded at most once each, and only while
some digest is still unmatched. A malformed file is refused whole: nothing changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from emulator import Emulator
from state.hashing import content_hash
from tests.integration.conftest import Service, StartService

BIG = 5 * 2**20
A, B, C = b"picture a", b"picture b", b"picture c"
NEVER_IN_THE_FOLDER = hashlib.sha256(b"posted long ago, archived since").hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_legacy(service: Service, document: Any) -> httpx.Response:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return service.client.post("/posted/import", content=body)


def offered_names(service: Service) -> set[str]:
    """Every image still offered, leasing each in turn until none is left."""
    names = set()
    while (reply := service.client.post("/select", json={})).status_code == 200:
        names.add(reply.json()["name"])
    assert reply.json()["error"] == "no_new_images", reply.text
    return names


def exported(service: Service) -> dict[str, list[str]]:
    reply: dict[str, list[str]] = service.client.get("/posted/export").json()
    return reply


def put_small_images(emulator: Emulator) -> None:
    for name, data in (("a.jpg", A), ("b.jpg", B), ("c.jpg", C)):
        emulator.put_file(f"/Photos/{name}", data)


def test_a_mixed_file_marks_the_right_images_posted(
    emulator: Emulator, start_service: StartService
) -> None:
    put_small_images(emulator)
    emulator.put_file("/Photos/big.jpg", size=BIG, seed=1)
    emulator.put_file("/Photos/big2.jpg", size=BIG, seed=2)
    big = emulator.read("/Photos/big.jpg")
    legacy = {
        "hashes": [sha(A), sha(big), NEVER_IN_THE_FOLDER, sha(A).upper()],
        "dropbox_content_hashes": [content_hash(B)],
    }
    service = start_service()
    emulator.counters.reset()
    reply = import_legacy(service, legacy)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"imported": 4, "matched": 3, "unresolved": 1, "downloads": 2}
    # Only the two images over 4 MiB were fetched, while a digest was still unmatched.
    assert emulator.counters.calls("files/download") == 2
    metrics = service.client.get("/metrics").text
    assert 'unposted_legacy_import_downloads_total{library="default"} 2.0' in metrics
    export = exported(service)
    assert {sha(A), sha(big), NEVER_IN_THE_FOLDER} <= set(export["hashes"])
    assert {content_hash(A), content_hash(B), content_hash(big)} <= set(
        export["dropbox_content_hashes"]
    )
    assert offered_names(service) == {"c.jpg", "big2.jpg"}


def test_importing_again_downloads_nothing_more(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/big.jpg", size=BIG, seed=1)
    service = start_service()
    emulator.counters.reset()
    first = import_legacy(service, [NEVER_IN_THE_FOLDER]).json()
    second = import_legacy(service, [NEVER_IN_THE_FOLDER]).json()
    assert (first["downloads"], second["downloads"]) == (1, 0)
    assert emulator.counters.calls("files/download") == 1
    assert second == {"imported": 1, "matched": 0, "unresolved": 1, "downloads": 0}


def test_digests_of_small_images_need_no_download(
    emulator: Emulator, start_service: StartService
) -> None:
    put_small_images(emulator)
    emulator.put_file("/Photos/big.jpg", size=BIG, seed=1)
    service = start_service()
    emulator.counters.reset()
    reply = import_legacy(service, [sha(A), sha(B)])
    assert reply.json() == {"imported": 2, "matched": 2, "unresolved": 0, "downloads": 0}
    assert emulator.counters.calls("files/download") == 0
    assert offered_names(service) == {"c.jpg", "big.jpg"}


@pytest.mark.parametrize(
    "document",
    [
        [sha(A), sha(B)],
        {"hashes": [sha(A), sha(B), sha(A)]},
        {"hashes": [sha(A)], "dropbox_content_hashes": [content_hash(B)]},
    ],
    ids=["list", "hashes", "both"],
)
def test_all_three_forms(emulator: Emulator, start_service: StartService, document: Any) -> None:
    put_small_images(emulator)
    service = start_service()
    reply = import_legacy(service, document)
    assert reply.status_code == 200 and reply.json()["matched"] == 2
    assert offered_names(service) == {"c.jpg"}


def test_an_unresolved_digest_is_matched_once_its_image_arrives(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", A)
    service = start_service()
    big = b"x" * (BIG - 1) + b"y"
    assert import_legacy(service, [sha(big)]).json()["unresolved"] == 1
    emulator.counters.reset()
    emulator.put_file("/Photos/big.jpg", big)
    service.catch_up()  # it waits, is downloaded once after the catch-up, and is matched
    assert emulator.counters.calls("files/download") == 1
    again = import_legacy(service, []).json()  # nothing is left to retry
    assert again == {"imported": 0, "matched": 0, "unresolved": 0, "downloads": 0}
    assert offered_names(service) == {"a.jpg"}
    # The placeholder hash recorded while the digest was unresolved is gone: posted
    # state holds the big image's real content hash, once.
    assert exported(service) == {
        "hashes": [sha(big)],
        "dropbox_content_hashes": [content_hash(big)],
    }


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (json.dumps([sha(C), "not-a-digest"]).encode(), "[1]"),
        (json.dumps([sha(C)[:63]]).encode(), "64 hex"),
        (json.dumps({"hashes": [sha(C), 42]}).encode(), "hashes[1]"),
        (json.dumps({"hashes": sha(C)}).encode(), "must be a list"),
        (json.dumps({"hashes": [sha(C)], "dropbox_content_hashes": [None]}).encode(), "null"),
        (json.dumps({"posted": [sha(C)]}).encode(), "posted"),
        (json.dumps([sha(C)]).encode()[:-2], "not valid JSON"),
        (b"", "not valid JSON"),
        (b'"just a string"', "string"),
    ],
    ids=["bad-hex", "short", "wrong-type", "not-a-list", "null", "unknown-shape",
         "truncated", "empty", "string"],
)  # fmt: skip
def test_a_malformed_file_imports_nothing(
    emulator: Emulator, start_service: StartService, body: bytes, complaint: str
) -> None:
    put_small_images(emulator)
    service = start_service()
    assert import_legacy(service, [sha(A)]).status_code == 200
    before, status_before = exported(service), service.client.get("/status").json()
    reply = import_legacy(service, body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request" and complaint in reply.json()["message"]
    assert exported(service) == before
    assert service.client.get("/status").json() == status_before
    assert offered_names(service) == {"b.jpg", "c.jpg"}


def test_a_body_over_the_limit_is_refused_unread(start_service: StartService) -> None:
    from app.api.routes.posted import IMPORT_LIMIT_BYTES

    service = start_service()
    before = exported(service)

    def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        piece = b" " * 2**20
        for _ in range(IMPORT_LIMIT_BYTES // len(piece) + 1):
            yield piece

    reply = service.client.post("/posted/import", content=chunks())
    assert reply.status_code == 413 and reply.json()["error"] == "too_large"
    assert exported(service) == before


def test_import_waits_for_the_first_catch_up(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", A)
    emulator.faults.delay("files/list_folder", 1.5, times=1)
    service = start_service(wait=False)
    reply = import_legacy(service, [sha(A)])
    assert reply.status_code == 503 and reply.json()["error"] == "not_ready"
    service.wait_ready()
    assert exported(service) == {"hashes": [], "dropbox_content_hashes": []}
