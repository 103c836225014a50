"""Dropbox slow or refusing, seen from a real process: archives, links, account lookups.

- Archiving onto a name the archive holds gets the name Dropbox chose (``a (1).jpg``); a
  move that fails (5xx past the retries, or a destination Dropbox refuses) still records
  the post and answers 200 with ``archive_error``, in the service's words, not Dropbox's.
  An ``ARCHIVE_FOLDER`` inside a recursive ``DROPBOX_FOLDER`` stops ``serve`` at start.
- Every temporary link takes 8 s while 20 or more publishers ask for one: ``/posted``,
  ``/release``, ``/status``, ``/readyz`` and ``/healthz`` do not wait behind them (the
  worst latencies go to the ledger).
- ``users/get_current_account`` failing on every call: catch-ups still run, and a new
  file becomes selectable.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from emulator import Emulator, EmulatorServer
from tests.reliability.holes import Publisher, put_images, trials
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess, service_environment
from tests.waiting import wait_until

RAW = ("RelocationError", "WriteError", "conflict", "file_ancestor", "Internal", "500", "from_")


def test_archive_conflicts_and_failures(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("Archive: a taken name, a failing move, a refused destination")
    emulator = Emulator()
    for name in ("a", "b", "c"):
        emulator.put_file(f"/Photos/{name}.jpg", f"picture {name}".encode())
    emulator.put_file("/Photos/a.txt", b"caption of a")
    emulator.put_file("/Archive/a.jpg", b"another picture archived long ago")
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(
            emulator, server.base_url, tmp_path / "state", ARCHIVE_FOLDER="/Archive"
        ).start()
        publisher = Publisher(service.base_url)
        try:
            # A name the archive already holds: Dropbox picks another, the reply says which.
            a = publisher.select(name="a.jpg").json()
            reply = publisher.posted(a["content_hash"], a["lease"]["id"], archive=True).json()
            assert reply["archived_to"] == "/Archive/a (1).jpg" and reply["archive_error"] is None
            assert emulator.read("/Archive/a (1).jpg") == b"picture a"
            assert emulator.read("/Archive/a.jpg") == b"another picture archived long ago"
            assert emulator.read("/Archive/a.txt") == b"caption of a"

            # The move fails past its retries: the post stands, the reply says the move failed.
            emulator.faults.server_error("files/move_v2", status=500, times=None)
            b = publisher.select(name="b.jpg").json()
            failed = publisher.posted(b["content_hash"], b["lease"]["id"], archive=True)
            emulator.faults.clear()
            # A destination Dropbox refuses: the archive's place is taken by a file.
            emulator.delete("/Archive")
            emulator.put_file("/Archive", b"a file where the archive folder should be")
            c = publisher.select(name="c.jpg").json()
            refused = publisher.posted(c["content_hash"], c["lease"]["id"], archive=True)
            posted = set(publisher.export()["dropbox_content_hashes"])
            for reply_, image in ((failed, b), (refused, c)):
                body = reply_.json()
                entry.trials += 1
                entry.faults += 1
                entry.lost += image["content_hash"] not in posted
                entry.wrong += reply_.status_code != 200 or not body["archive_error"]
                entry.wrong += any(raw in body["archive_error"] for raw in RAW)
                assert reply_.status_code == 200 and body["archived_to"] is None, body
                assert body["archive_error"] and body["lease"] == "ended", body
                assert not [raw for raw in RAW if raw in body["archive_error"]], body
            # Once Dropbox lets it, posting again with archive finishes the job.
            emulator.delete("/Archive")
            again = publisher.posted(b["content_hash"], archive=True).json()
            assert again["archived_to"] == "/Archive/b.jpg" and again["archive_error"] is None
        finally:
            publisher.close()
            service.close()
    assert (entry.lost, entry.wrong) == (0, 0)


def test_an_archive_inside_a_recursive_folder_stops_serve(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("Archive: inside a recursive folder, refused at start")
    emulator = Emulator()
    env = service_environment(
        emulator, "http://127.0.0.1:9", tmp_path / "state",
        ARCHIVE_FOLDER="/Photos/posted", DROPBOX_RECURSIVE="true",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    entry.trials += 1
    entry.inputs += 1
    entry.wrong += result.returncode != 2
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "ARCHIVE_FOLDER" in result.stderr, result.stderr


class Latencies:
    """Each route's latencies, measured from one client while the links are slow."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {}

    def time(self, route: str, call: object) -> httpx.Response:
        started = time.monotonic()
        reply: httpx.Response = call()  # type: ignore[operator]
        self.seen.setdefault(route, []).append(time.monotonic() - started)
        assert reply.status_code in (200, 204), f"{route}: {reply.status_code} {reply.text}"
        return reply

    def worst(self) -> dict[str, float]:
        return {route: max(values) for route, values in self.seen.items()}


def test_slow_links_stall_nothing_else(tmp_path: Path, long_mode: bool, ledger: Ledger) -> None:
    entry = ledger.entry("Temporary links take 8 s: the other routes do not wait")
    linkers = trials(long_mode, 20, 24)
    emulator = Emulator()
    put_images(emulator, "/Photos", linkers + 40, "pic")
    emulator.faults.delay("files/get_temporary_link", 8)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        observer = Publisher(service.base_url)
        held = [observer.select().json() for _ in range(20)]  # to post and release meanwhile
        links: list[tuple[int, float]] = []

        def ask_for_a_link() -> None:
            with Publisher(service.base_url, timeout=60) as publisher:
                started = time.monotonic()
                try:
                    reply = publisher.select(link=True)
                except httpx.TransportError:
                    return  # quick mode stops the service before every link is made
                links.append((reply.status_code, time.monotonic() - started))

        threads = [threading.Thread(target=ask_for_a_link) for _ in range(linkers)]
        latencies = Latencies()
        try:
            for thread in threads:
                thread.start()
            wait_until(lambda: emulator.counters.in_flight("files/get_temporary_link") >= 8, 10)
            measured_from = time.monotonic()
            while held and time.monotonic() - measured_from < 5:
                posted, released = held.pop(), held.pop()
                latencies.time("/posted", lambda p=posted: observer.posted(
                    p["content_hash"], p["lease"]["id"]))  # fmt: skip
                latencies.time("/release", lambda r=released: observer.release(r["lease"]["id"]))
                latencies.time("/status", lambda: observer.client.get("/status"))
                latencies.time("/readyz", lambda: observer.client.get("/readyz"))
                latencies.time("/healthz", lambda: observer.client.get("/healthz"))
            still_in_flight = emulator.counters.in_flight("files/get_temporary_link")
            if long_mode:
                for thread in threads:
                    thread.join(90)
        finally:
            observer.close()
            service.close()
            for thread in threads:
                thread.join(90)
    worst = latencies.worst()
    entry.trials += 1
    entry.inputs += sum(len(values) for values in latencies.seen.values())
    entry.wrong += sum(seconds >= 2.0 for seconds in worst.values())
    figures = ", ".join(f"{route} {seconds * 1000:.0f} ms" for route, seconds in worst.items())
    entry.notes.append(
        f"{linkers} publishers asked for links that take 8 s each; meanwhile the worst of"
        f" {len(latencies.seen['/posted'])} rounds: {figures}"
        + (
            f"; links answered in {min(s for _, s in links):.1f} to"
            f" {max(s for _, s in links):.1f} s"
            if long_mode
            else ""
        )  # fmt: skip
    )
    assert still_in_flight >= 8, "the links were not slow while the others were measured"
    assert entry.wrong == 0, worst
    if long_mode:
        entry.wrong += sum(status != 200 for status, _ in links) + (len(links) != linkers)
        assert entry.wrong == 0, links


def test_catch_ups_run_while_the_account_lookup_fails(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("users/get_current_account failing: catch-ups still run")
    emulator = Emulator()
    put_images(emulator, "/Photos", 3, "pic")
    emulator.faults.server_error("users/get_current_account", status=503, times=None)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        emulator.register_webhook(service.base_url + "/webhook")
        publisher = Publisher(service.base_url)
        try:
            emulator.put_file("/Photos/new.jpg", b"a picture added later")
            wait_until(lambda: publisher.select(name="new.jpg").status_code == 200, 15)
            failures = emulator.counters.calls("users/get_current_account", 503)
        finally:
            publisher.close()
            service.close()
    entry.trials += 1
    entry.faults += failures
    assert failures >= 2  # asked again at each catch-up, and refused each time
