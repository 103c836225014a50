"""The store against the rules (``state.rules``): after any sequence of operations, each
image of the channel is in the state ``image_state`` gives for its facts, and the pool
(what ``select`` may offer) is exactly what ``is_available`` says.

A plain model keeps the facts (which content the library holds, holds, leases, posts in
the current cycle, what waits for its fingerprint) as each operation changes them, the
rules judge it (``turns_cycle`` included), and both backends must agree with the
judgement, operation after operation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from state.errors import NoImages, NoNewImages
from state.rules import ImageInChannel, image_state, is_available, turns_cycle
from state.similarity import Fingerprint
from state.store import ChannelDef, ImageQuery, SelectRequest
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, gone, image

PATHS = [f"/p/{n}.jpg" for n in range(7)]
CONTENTS = [f"c{n}" for n in range(5)]
LEASE_SECONDS = 60


@dataclass
class Lease:
    content_hash: str
    expires_at: float


@dataclass
class Model:
    """The facts the rules judge, kept by hand as the operations go."""

    paths: dict[str, str] = field(default_factory=dict)  # path -> content hash
    held: set[str] = field(default_factory=set)
    leases: dict[str, Lease] = field(default_factory=dict)  # by lease id, until reclaimed
    posted: set[str] = field(default_factory=set)  # in the current cycle
    waits: bool = False  # the channel holds new content back until it is fingerprinted
    fingerprinted: set[str] = field(default_factory=set)
    graced: set[str] = field(default_factory=set)  # offered unfingerprinted, while it stays

    def library(self) -> set[str]:
        return set(self.paths.values())

    def facts(self, content_hash: str) -> ImageInChannel:
        return ImageInChannel(
            in_library=content_hash in self.library(),
            pending=False,
            held=content_hash in self.held,
            leased=any(lease.content_hash == content_hash for lease in self.leases.values()),
            posted_in_cycle=content_hash in self.posted,
            awaiting_fingerprint=content_hash in self.awaiting(),
        )

    def awaiting(self) -> set[str]:
        return self.library() - self.fingerprinted - self.graced if self.waits else set()

    def pool(self) -> set[str]:
        return {h for h in self.library() if is_available(self.facts(h))}

    def states(self) -> dict[str, str]:
        """As the listings show them: one awaiting its fingerprint, otherwise available,
        is in none (``image_state`` calls it available; it is not offered)."""
        states = {h: image_state(self.facts(h)) for h in self.library()}
        return {h: state for h, state in states.items() if (h, state) not in self._waiting()}

    def left(self) -> None:
        """Content that left the library forgets its grace: back, it waits again (a
        fingerprint, once taken, is kept)."""
        self.graced &= self.library()

    def _waiting(self) -> set[tuple[str, str]]:
        return {(h, "available") for h in self.awaiting()}

    def running(self, now: float) -> dict[str, Lease]:
        return {i: lease for i, lease in self.leases.items() if lease.expires_at > now}


class Run:
    """One random sequence of operations on the store and on the model alike."""

    def __init__(self, harness: Harness, seed: int, waits: bool = False) -> None:
        self.harness, self.model, self.rng = harness, Model(waits=waits), random.Random(seed)

    def start(self) -> None:
        for path, content in zip(PATHS[:3], CONTENTS, strict=False):
            self.model.paths[path] = digest(content)
        self.harness.listing(*(image(p, c) for p, c in zip(PATHS[:3], CONTENTS, strict=False)))

    def step(self) -> str:
        operation = self.rng.choice(
            [
                self.add,
                self.add,
                self.remove,
                self.hold,
                self.unhold,
                self.select,
                self.select,
                self.release,
                self.post,
                self.expire,
                self.reclaim,
                self.fingerprint,
                self.grace,
            ]  # fmt: skip
        )
        operation()
        return operation.__name__

    def add(self) -> None:
        path, content = self.rng.choice(PATHS), self.rng.choice(CONTENTS)
        self.model.paths[path] = digest(content)
        self.harness.change(image(path, content))
        self.model.left()

    def remove(self) -> None:
        if self.model.paths:
            path = self.rng.choice(sorted(self.model.paths))
            del self.model.paths[path]
            self.harness.change(gone(path))
            self.model.left()

    def hold(self) -> None:
        if self.model.library():
            content_hash = self.rng.choice(sorted(self.model.library()))
            self.model.held.add(content_hash)
            self.harness.store.browsing.hold("ch", content_hash)

    def unhold(self) -> None:
        if self.model.held:
            content_hash = self.rng.choice(sorted(self.model.held))
            self.model.held.discard(content_hash)
            assert self.harness.store.browsing.unhold("ch", content_hash)

    def select(self) -> None:
        pool = self.model.pool() or self._exhausted()
        try:
            chosen = self.harness.select("ch", LEASE_SECONDS)
        except (NoImages, NoNewImages):
            assert not pool
            return
        assert chosen.content_hash in pool and chosen.lease is not None
        now = self.harness.clock.now
        self.model.leases[chosen.lease.id] = Lease(chosen.content_hash, now + LEASE_SECONDS)

    def _exhausted(self) -> set[str]:
        """Nothing available: the store reclaims expired leases, then may turn the cycle.
        A selection that still finds nothing changes nothing (its transaction is undone)."""
        leases, posted = self.model.leases, self.model.posted
        self.model.leases = self.model.running(self.harness.clock.now)
        images, awaiting = len(self.model.library()), len(self.model.awaiting())
        if not self.model.pool() and turns_cycle(
            "new_cycle", len(self.model.leases), images, awaiting
        ):
            self.model.posted = set()
        if not self.model.pool():
            self.model.leases, self.model.posted = leases, posted
        return self.model.pool()

    def release(self) -> None:
        running = self.model.running(self.harness.clock.now)
        if running:
            lease_id = self.rng.choice(sorted(running))
            del self.model.leases[lease_id]
            self.harness.store.selections.release("ch", lease_id)

    def post(self) -> None:
        candidates = sorted(self.model.library() - self.model.posted)
        if candidates:
            content_hash = self.rng.choice(candidates)
            running = self.model.running(self.harness.clock.now)
            mine = [i for i, lease in running.items() if lease.content_hash == content_hash]
            self.harness.store.selections.mark_posted(
                "ch", content_hash, mine[0] if mine else None, None
            )
            self.model.posted.add(content_hash)
            self.model.leases = {
                i: lease for i, lease in self.model.leases.items()
                if lease.content_hash != content_hash
            }  # fmt: skip

    def expire(self) -> None:
        self.harness.clock.now += self.rng.choice([1, LEASE_SECONDS + 1])

    def reclaim(self) -> None:
        self.harness.store.selections.reclaim_expired(100)
        self.model.leases = self.model.running(self.harness.clock.now)

    def fingerprint(self) -> None:
        """A fingerprint far from every other (no group forms) for one waiting content."""
        backlog = self.harness.store.near.fingerprint_backlog("lib", None, 200)
        if backlog:
            waiting = self.rng.choice(backlog)
            seed = int(waiting.content_hash[:8], 16)
            value = random.Random(seed).getrandbits(256).to_bytes(32, "big")
            found = Fingerprint(waiting.content_hash, value, None, ())
            self.harness.store.near.record_fingerprints("lib", [found], [waiting.position])
            self.model.fingerprinted.add(waiting.content_hash)

    def grace(self) -> None:
        """The grace period runs out for everything waiting now."""
        for expired in self.harness.store.near.offer_unfingerprinted(
            self.harness.clock.now + 1, 200
        ):
            self.model.graced.add(expired.content_hash)

    def check(self, history: list[str]) -> None:
        seen: dict[str, str] = {}
        for state in ("available", "leased", "held", "posted"):
            page = self.harness.store.browsing.images("ch", ImageQuery(state, limit=200))
            seen |= {item.image.content_hash: item.state for item in page.items}
        assert seen == self.model.states(), history
        # The pool itself is the ``available`` listing above; the status counts running
        # leases only (one past its time is as good as reclaimed).
        running = self.model.running(self.harness.clock.now)
        assert self.harness.store.reports.channel_status("ch").leased == len(running), history


@pytest.mark.parametrize(
    ("seed", "waits"), [(1, False), (2, False), (5, False), (3, True), (4, True), (26, True)]
)
def test_the_pool_is_what_the_rules_say_after_any_operations(
    harness: Harness, seed: int, waits: bool
) -> None:
    chosen = ChannelDef("ch", "lib", when_exhausted="new_cycle", await_fingerprints=waits)
    harness.define(LIBRARIES, [chosen, *CHANNELS[1:]])
    run = Run(harness, seed, waits)
    run.start()
    history: list[str] = []
    for _ in range(60):
        history.append(run.step())
        run.check(history)


def test_a_preview_changes_nothing_the_rules_judge(harness: Harness) -> None:
    run = Run(harness, 0)
    run.start()
    before = run.model.pool()
    chosen = harness.store.selections.select("ch", SelectRequest(LEASE_SECONDS, dry_run=True))
    assert chosen.content_hash in before and chosen.lease is None
    run.check(["preview"])
