"""Load: 64 concurrent publishers while changes stream in, nothing doubled or lost.

The service runs as a real process (``python -m app serve``) against the emulator,
with webhooks registered. After the first catch-up of the catalog (100,000 images in
the long mode, 5,000 in the quick one), 64 publisher threads select, then post,
release or abandon what they got, for 60 s (long) or 5 s (quick), while a writer adds,
deletes, moves and overwrites files in the emulator, which notifies the service.

Each publisher records when it held each lease: from the moment the selection's reply
arrived until its ``/posted`` or ``/release`` was sent, or until the lease's
``expires_at`` (which the service rounds down, so the recorded interval is never longer
than the real lease). Then:

- doubled: two such intervals for one content hash that overlap (two publishers held
  the same image at once), or an image handed out by a selection sent after a
  ``/posted`` for it had been confirmed;
- lost: a content hash confirmed by ``/posted`` (200) missing from ``/posted/export``;
- wrong: any reply outside the contract (select 200 or 404 no_new_images/no_images,
  posted 200, release 204 or 404 for a lease that ended) or a dropped connection.

Afterwards the catalog must converge to the emulator's tree.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from emulator import Emulator, EmulatorServer
from tests.conftest import API_TOKEN, TLS
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until

PUBLISHERS = 64
HOLD_SECONDS = 600  # a lease the publisher ends itself, well before it could expire
ABANDON_SECONDS = 1  # a lease the publisher walks away from: it must expire
SELECT_ENDINGS = {"no_new_images", "no_images"}


@dataclass(frozen=True)
class Held:
    """A lease, over the interval it was certainly held."""

    content_hash: str
    start: float
    end: float


@dataclass
class Tally:
    """What the publishers saw; every method is called under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    held: list[Held] = field(default_factory=list)
    handed: list[tuple[str, float]] = field(default_factory=list)  # (hash, select sent at)
    confirmed: dict[str, float] = field(default_factory=dict)  # hash -> 200 received at
    replies: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    ended_early: set[str] = field(default_factory=set)  # hashes whose release found no lease
    holding: set[str] = field(default_factory=set)  # paths of images held right now

    def reply(self, what: str, reply: httpx.Response, allowed: bool) -> None:
        with self.lock:
            self.replies[f"{what} {reply.status_code} {error_of(reply)}".strip()] += 1
            if not allowed:
                self.wrong.append(f"{what}: {reply.status_code} {reply.text[:200]}")


def error_of(reply: httpx.Response) -> str:
    """The error code of a refusal, "" for a success or a body that is not JSON."""
    try:
        body = reply.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()


class Publisher:
    def __init__(self, base_url: str, tally: Tally, seed: int) -> None:
        self.tally, self.rng = tally, random.Random(seed)
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=60, verify=TLS)

    def run(self, stop: threading.Event) -> None:
        with self.client:
            while not stop.is_set():
                try:
                    self.one()
                except httpx.TransportError as exc:
                    with self.tally.lock:
                        self.tally.wrong.append(f"transport: {exc!r}")

    def one(self) -> None:
        action = self.rng.choices(["post", "release", "abandon"], [6, 3, 1])[0]
        seconds = ABANDON_SECONDS if action == "abandon" else HOLD_SECONDS
        sent = time.time()
        reply = self.client.post("/select", json={"lease_seconds": seconds})
        arrived = time.time()
        if reply.status_code == 404 and error_of(reply) in SELECT_ENDINGS:
            self.tally.reply("select", reply, True)
            time.sleep(0.01)
            return
        ok = reply.status_code == 200 and error_of(reply) == "" and reply.json()["lease"]
        self.tally.reply("select", reply, ok)
        if not ok:
            return
        chosen = reply.json()
        content_hash, lease = chosen["content_hash"], chosen["lease"]
        expires = epoch(lease["expires_at"])
        with self.tally.lock:
            self.tally.handed.append((content_hash, sent))
            self.tally.holding.add(chosen["path"])
        # Posting takes a moment, sometimes longer: long enough for the writer's changes
        # to the held image to reach the catalog.
        time.sleep(self.rng.uniform(0.5, 2.0) if self.rng.random() < 0.15 else 0.002)
        with self.tally.lock:
            self.tally.holding.discard(chosen["path"])
        if action == "abandon":
            self.hold(content_hash, arrived, expires)
        elif action == "post":
            self.hold(content_hash, arrived, min(time.time(), expires))
            body = {"content_hash": content_hash, "lease_id": lease["id"]}
            done = self.client.post("/posted", json=body)
            self.tally.reply("posted", done, done.status_code == 200)
            if done.status_code == 200:
                with self.tally.lock:
                    self.tally.confirmed.setdefault(content_hash, time.time())
        else:
            self.hold(content_hash, arrived, min(time.time(), expires))
            done = self.client.post("/release", json={"lease_id": lease["id"]})
            # 404: the lease ended first, which is right only if the writer deleted or
            # overwrote the image's content meanwhile (checked at the end).
            ended = done.status_code == 404 and error_of(done) == "lease_not_found"
            self.tally.reply("release", done, done.status_code == 204 or ended)
            if ended:
                with self.tally.lock:
                    self.tally.ended_early.add(content_hash)

    def hold(self, content_hash: str, start: float, end: float) -> None:
        with self.tally.lock:
            self.tally.held.append(Held(content_hash, start, end))


class Writer:
    """Changes streaming into the emulator: adds, deletes, moves, overwrites, sidecars.

    Half the time it aims at an image a publisher holds, so that leased images are
    moved, deleted and overwritten under their publishers.
    """

    KINDS = ("add", "delete", "move", "overwrite", "sidecar")
    WEIGHTS = (4, 2, 2, 1, 1)

    def __init__(self, emulator: Emulator, paths: list[str], tally: Tally, seed: int) -> None:
        self.emulator, self.paths, self.rng = emulator, paths, random.Random(seed)
        self.where = {path.lower(): index for index, path in enumerate(paths)}
        self.tally = tally
        self.changes: Counter[str] = Counter()
        self.aimed = 0  # changes made to an image a publisher held at that moment

    def run(self, stop: threading.Event) -> None:
        """Bursts of changes with quiet spells between, so webhooks lead to catch-ups
        within a second (a change every few ms with no pause would be folded for up to
        ``webhooks.inbox.MAX_DELAY_SECONDS``)."""
        n = 0
        while not stop.is_set():
            burst_ends = time.monotonic() + 0.25
            while time.monotonic() < burst_ends:
                n += 1
                self.one(n)
                time.sleep(0.005)
            stop.wait(0.75)

    def one(self, n: int) -> None:
        kind = self.rng.choices(self.KINDS, self.WEIGHTS)[0]
        index = self.target()
        path = self.paths[index]
        if kind == "add":
            self.put(len(self.paths), f"/Photos/new_{n:07d}.jpg")
            self.emulator.put_file(self.paths[-1], f"new {n}".encode())
        elif kind == "delete":
            self.emulator.delete(path)
            del self.where[path.lower()]
            last = self.paths.pop()
            if index < len(self.paths):
                self.put(index, last)
        elif kind == "move":
            del self.where[path.lower()]
            self.put(index, f"/Photos/moved_{n:07d}.jpg")
            self.emulator.move(path, self.paths[index])
        elif kind == "overwrite":
            self.emulator.put_file(path, f"overwritten {n}".encode())
        else:
            self.emulator.put_file(path.rsplit(".", 1)[0] + ".txt", b"a caption")
        self.changes[kind] += 1

    def target(self) -> int:
        """The index of a path to change: often one a publisher holds right now."""
        if self.rng.random() < 0.5:
            with self.tally.lock:
                held = sorted(self.tally.holding)
            for path in self.rng.sample(held, min(len(held), 3)):
                if path.lower() in self.where:
                    self.aimed += 1
                    return self.where[path.lower()]
        return self.rng.randrange(len(self.paths))

    def put(self, index: int, path: str) -> None:
        if index == len(self.paths):
            self.paths.append(path)
        else:
            self.paths[index] = path
        self.where[path.lower()] = index


def overlaps(held: list[Held]) -> list[str]:
    """Content hashes held by two publishers at once, with the two intervals."""
    found = []
    by_hash: defaultdict[str, list[Held]] = defaultdict(list)
    for lease in held:
        by_hash[lease.content_hash].append(lease)
    for content_hash, leases in by_hash.items():
        leases.sort(key=lambda lease: lease.start)
        latest = leases[0]
        for lease in leases[1:]:
            if lease.start < latest.end:
                found.append(f"{content_hash}: {latest} and {lease}")
            if lease.end > latest.end:
                latest = lease
    return found


def handed_after_posting(tally: Tally) -> list[str]:
    return [
        f"{content_hash} selected at {sent} after it was posted at {tally.confirmed[content_hash]}"
        for content_hash, sent in tally.handed
        if content_hash in tally.confirmed and sent > tally.confirmed[content_hash]
    ]


def images_in(emulator: Emulator) -> int:
    return sum(1 for path in emulator.files("/Photos", recursive=False) if path.endswith(".jpg"))


def leases_lost_under_living_images(tally: Tally, emulator: Emulator) -> list[str]:
    """Releases that found no lease although the image's content never left the folder.

    Contents the writer deletes or overwrites never come back (new contents are unique),
    so content still present at the end was present all along.
    """
    present = {meta.content_hash for meta in emulator.files("/Photos", recursive=False).values()}
    return [f"lease on {h} lost while the image stayed" for h in tally.ended_early & present]


def test_64_publishers_while_changes_stream_in(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("load: 64 publishers, select/posted/release, changes streaming")
    count, seconds = (100_000, 60.0) if long_mode else (5_000, 5.0)
    emulator = Emulator()
    created = emulator.bulk_generate("/Photos", count, size=48, duplicate_every=10)
    tally, stop = Tally(), threading.Event()
    writer = Writer(emulator, [meta.path_display for meta in created], tally, seed=7)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state")
        try:
            started = time.monotonic()
            service.start()
            catch_up = time.monotonic() - started
            emulator.register_webhook(service.base_url + "/webhook")
            publishers = [Publisher(service.base_url, tally, seed) for seed in range(PUBLISHERS)]
            threads = [threading.Thread(target=p.run, args=(stop,)) for p in publishers]
            threads.append(threading.Thread(target=writer.run, args=(stop,)))
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join(120)
            exported = service.client.get("/posted/export", timeout=60).json()
            wait_until(
                lambda: service.client.get("/status").json()["images"] == images_in(emulator), 60
            )
        finally:
            service.close()
    posted = set(exported["dropbox_content_hashes"])
    doubled = overlaps(tally.held) + handed_after_posting(tally)
    lost = sorted(set(tally.confirmed) - posted)
    requests = sum(tally.replies.values())
    tally.wrong += leases_lost_under_living_images(tally, emulator)
    entry.trials += 1
    entry.inputs += requests
    entry.doubled += len(doubled)
    entry.lost += len(lost)
    entry.wrong += len(tally.wrong)
    entry.notes.append(
        f"{count:,} images (first catch-up {catch_up:.0f} s), {PUBLISHERS} publishers for "
        f"{seconds:.0f} s: {requests:,} requests ({requests / seconds:,.0f}/s), "
        f"{len(tally.held):,} leases, {len(tally.confirmed):,} posted; "
        f"{sum(writer.changes.values()):,} changes streamed in, {writer.aimed:,} to held images "
        f"({', '.join(f'{n:,} {kind}' for kind, n in sorted(writer.changes.items()))}); "
        f"replies: {', '.join(f'{n:,}× {what}' for what, n in sorted(tally.replies.items()))}"
    )
    assert tally.wrong == []
    assert doubled == []
    assert lost == []
    assert len(tally.confirmed) > 0 and writer.changes["move"] > 0
