"""Legacy posts of images over 4 MiB, and files that are no images: never offered.

A legacy ``posted.json`` digest of a file over 4 MiB maps onto no content hash: only the
bytes can say. Such a post is imported while its image is not in the folder; when the
image arrives it is *pending*: never offered (by name: 409 ``pending``), downloaded
exactly once, then recorded as posted. A large image matching no digest is offered once
checked. An image arriving while an import is under way is checked too, and a check
Dropbox refused is tried again without waiting for the next change.

Empty files all share one content hash, and some files Dropbox will not hand out: both
are counted as ``skipped`` and never offered, whether listed at start or arriving later.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import httpx

from emulator import Emulator, EmulatorServer
from tests.reliability.holes import Publisher, metric, put_images, trials
from tests.reliability.ledger import Entry, Ledger
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until

BIG = 5 * 2**20
DOWNLOAD_DELAY = 1.0


def by_name(publisher: Publisher, name: str) -> httpx.Response:
    return publisher.client.post("/select", json={"name": name, "dry_run": True})


def watch_pending(publisher: Publisher, name: str, content_hash: str, entry: Entry) -> Any:
    """From its arrival until it is checked: 409 ``pending`` by name, never in a selection
    (nor while it waits for its fingerprint after that: 409 ``awaiting_fingerprint``).

    Returns the reply by name once the image is checked and fingerprinted (200)."""
    answers: list[int | str] = []

    def checked() -> httpx.Response | None:
        reply = by_name(publisher, name)
        answers.append(reply.json()["error"] if reply.status_code == 409 else reply.status_code)
        if reply.status_code == 409:
            assert reply.json()["error"] in ("pending", "awaiting_fingerprint"), reply.text
            offers = [  # any selection while it waits must be of another image
                publisher.client.post("/select", json={"dry_run": True}).json() for _ in range(5)
            ]
            entry.inputs += len(offers)
            if by_name(publisher, name).status_code == 409:  # still waiting after them all
                entry.wrong += sum(offer.get("content_hash") == content_hash for offer in offers)
            return None
        assert reply.status_code in (404, 200), reply.text  # 404: not listed yet
        return reply if reply.status_code == 200 else None

    reply = wait_until(checked, 30, 0.02)
    entry.wrong += "pending" not in answers
    assert "pending" in answers, "the image was never seen pending"
    return reply.json()


def test_a_legacy_post_over_4_mib_comes_back(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("Legacy posts over 4 MiB: pending until downloaded once")
    for trial in range(trials(long_mode)):
        emulator = Emulator()
        put_images(emulator, "/Photos", 3, "small")
        posted_big = emulator.put_file("/Staging/posted-big.jpg", size=BIG, seed=7 + trial)
        digest = hashlib.sha256(emulator.read("/Staging/posted-big.jpg")).hexdigest()
        with EmulatorServer(emulator) as server:
            service = ServiceProcess(emulator, server.base_url, tmp_path / f"state{trial}").start()
            emulator.register_webhook(service.base_url + "/webhook")
            publisher = Publisher(service.base_url)
            try:
                came_back(emulator, service, publisher, digest, posted_big.content_hash, entry)
            finally:
                publisher.close()
                service.close()
    assert (entry.wrong, entry.doubled) == (0, 0)


def came_back(
    emulator: Emulator,
    service: ServiceProcess,
    publisher: Publisher,
    digest: str,
    content_hash: str,
    entry: Entry,
) -> None:
    imported = service.client.post("/posted/import", json={"hashes": [digest]})
    assert imported.json() == {"imported": 1, "matched": 0, "unresolved": 1, "downloads": 0}
    emulator.faults.delay("files/download", DOWNLOAD_DELAY)

    # A large image that matches no digest: held back until checked, then offered.
    fresh = emulator.put_file("/Photos/fresh-big.jpg", size=BIG, seed=99)
    offered = watch_pending(publisher, "fresh-big.jpg", fresh.content_hash, entry)
    entry.trials += 1
    entry.wrong += offered["posted_at"] is not None
    assert offered["posted_at"] is None

    # The one posted long ago arrives: held back, downloaded once, recorded as posted.
    emulator.move("/Staging/posted-big.jpg", "/Photos/posted-big.jpg")
    checked = watch_pending(publisher, "posted-big.jpg", content_hash, entry)
    entry.trials += 1
    entry.wrong += checked["posted_at"] is None
    assert checked["posted_at"] is not None and checked["lease"] is None

    listed = emulator.counters.calls("files/list_folder")
    service.client.post("/admin/resync")  # a full re-list checks nothing twice
    wait_until(lambda: emulator.counters.calls("files/list_folder") > listed, 30)
    wait_until(lambda: not service.client.get("/status").json()["libraries"]["default"]["listing"])
    offers, refusal = publisher.take_all()
    entry.doubled += sum(offer["content_hash"] == content_hash for offer in offers)
    assert content_hash not in {offer["content_hash"] for offer in offers}
    assert refusal.json()["error"] == "no_new_images"
    assert emulator.counters.calls("files/download") == 2  # one per large image, ever
    assert metric(service.client, "unposted_legacy_import_downloads_total", library="default") == 2
    exported = service.client.get("/posted/export").json()
    assert digest in exported["hashes"] and content_hash in exported["dropbox_content_hashes"]
    assert service.client.get("/status").json()["pending"] == 0


def test_an_image_arriving_during_an_import_is_checked(tmp_path: Path, ledger: Ledger) -> None:
    """The import plans against the catalog, downloads, then commits: an image over 4 MiB
    listed in between is not in its plan, and must still wait for its digest."""
    entry = ledger.entry("Legacy posts over 4 MiB: an image arriving during the import")
    emulator = Emulator()
    put_images(emulator, "/Photos", 2, "small")
    emulator.put_file("/Photos/already-big.jpg", size=BIG, seed=1)  # the import downloads it
    arriving = emulator.put_file("/Staging/arriving-big.jpg", size=BIG, seed=2)
    digest = hashlib.sha256(emulator.read("/Staging/arriving-big.jpg")).hexdigest()
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        emulator.register_webhook(service.base_url + "/webhook")
        publisher = Publisher(service.base_url)
        try:
            emulator.faults.delay("files/download", DOWNLOAD_DELAY, times=1)
            report: list[dict[str, int]] = []
            importer = threading.Thread(target=lambda: report.append(service.client.post(
                "/posted/import", json={"hashes": [digest]}).json()))  # fmt: skip
            importer.start()
            wait_until(lambda: emulator.counters.in_flight("files/download") == 1, 10)
            emulator.move("/Staging/arriving-big.jpg", "/Photos/arriving-big.jpg")
            wait_until(lambda: by_name(publisher, "arriving-big.jpg").status_code != 404, 10)
            importer.join(30)
            assert report == [{"imported": 1, "matched": 0, "unresolved": 1, "downloads": 1}]
            answers = []

            def posted() -> bool:
                reply = by_name(publisher, "arriving-big.jpg")
                answers.append(reply.status_code)
                return reply.status_code == 200 and reply.json()["posted_at"] is not None

            wait_until(posted, 30, 0.02)
            entry.trials += 1
            entry.wrong += answers.count(200) > 1
            assert set(answers[:-1]) <= {409}, answers
            offers, _ = publisher.take_all()
            entry.doubled += arriving.content_hash in {offer["content_hash"] for offer in offers}
            assert emulator.counters.calls("files/download") == 2  # each large image once
        finally:
            publisher.close()
            service.close()
    assert (entry.wrong, entry.doubled) == (0, 0)


def test_empty_and_undownloadable_files_are_skipped(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("Empty and undownloadable files never offered")
    emulator = Emulator()
    pictures = put_images(emulator, "/Photos", 3, "real")
    skipped = ["/Photos/empty-1.jpg", "/Photos/empty-2.jpg", "/Photos/EMPTY-3.JPG"]
    for path in skipped:
        emulator.put_file(path, b"")
    emulator.put_file("/Photos/locked.jpg", b"not for download", downloadable=False)
    skipped.append("/Photos/locked.jpg")
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        emulator.register_webhook(service.base_url + "/webhook")
        publisher = Publisher(service.base_url)
        try:
            never_offered(publisher, skipped, trials(long_mode, 20, 200), entry)
            status = publisher.status()
            assert (status["images"], status["skipped"]) == (3, 4), status
            # Arriving later: another empty file, a picture emptied, one locked.
            emulator.put_file("/Photos/empty-4.jpg", b"")
            emptied = next(iter(pictures))
            emulator.put_file(emptied, b"")
            emulator.put_file("/Photos/locked-2.png", b"locked too", downloadable=False)
            skipped += ["/Photos/empty-4.jpg", emptied, "/Photos/locked-2.png"]
            wait_until(lambda: publisher.status()["skipped"] == 7, 30)
            never_offered(publisher, skipped, trials(long_mode, 20, 200), entry)
            offers, refusal = publisher.take_all()
            entry.trials += 1
            entry.wrong += {offer["path"] for offer in offers} != set(pictures) - {emptied}
            assert refusal.json()["error"] == "no_new_images", refusal.text
            assert publisher.status()["images"] == 2
        finally:
            publisher.close()
            service.close()
    assert entry.wrong == 0


def never_offered(publisher: Publisher, skipped: list[str], dry_runs: int, entry: Entry) -> None:
    for path in skipped:
        reply = by_name(publisher, path.rsplit("/", 1)[1])
        entry.inputs += 1
        entry.wrong += reply.status_code != 404
        assert reply.status_code == 404, f"{path} was offered: {reply.text}"
    for _ in range(dry_runs):
        offer = publisher.client.post("/select", json={"dry_run": True}).json()
        entry.inputs += 1
        entry.wrong += offer["path"] in skipped or offer["size"] == 0
    assert entry.wrong == 0


def test_a_pending_image_whose_check_failed_is_checked_again(
    tmp_path: Path, ledger: Ledger
) -> None:
    """A download refused once leaves the image pending; nothing else changes in Dropbox, so
    no notification comes: the service must try again by itself, not at the next reconcile."""
    entry = ledger.entry("Legacy posts over 4 MiB: a check that failed is tried again")
    emulator = Emulator()
    put_images(emulator, "/Photos", 2, "small")
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        emulator.register_webhook(service.base_url + "/webhook")
        publisher = Publisher(service.base_url)
        try:
            # The import and the notification of the new file ask for a catch-up each: at
            # most two runs check the image on their own, and both are refused.
            emulator.faults.server_error("files/download", status=400, times=2)
            service.client.post("/posted/import", json={"hashes": ["ab" * 32]})
            emulator.put_file("/Photos/big.jpg", size=BIG, seed=3)
            wait_until(lambda: by_name(publisher, "big.jpg").status_code == 200, 30)
            entry.trials += 1
            entry.faults += emulator.counters.calls("files/download", 400)
            assert publisher.status()["pending"] == 0
            assert emulator.counters.calls("files/download", 200) == 1
        finally:
            publisher.close()
            service.close()
