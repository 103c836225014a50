"""The store against the rules (``state.rules``): after any sequence of operations, each
image of the channel is in the state ``image_state`` gives for its facts, and the pool
(what ``select`` may offer) is exactly what ``is_available`` says.

A plain model keeps the facts (which content the library holds, holds, leases, posts in
the current cycle) as each operation changes them, the rules judge it, and both
backends must agree with the judgement, operation after operation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from state.errors import NoImages, NoNewImages
from state.rules import ImageInChannel, image_state, is_available, turns_cycle
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

    def library(self) -> set[str]:
        return set(self.paths.values())

    def facts(self, content_hash: str, now: float | None = None) -> ImageInChannel:
        """With ``now``: as if every lease past its time were reclaimed already."""
        leases = self.leases if now is None else self.running(now)
        return ImageInChannel(
            in_library=content_hash in self.library(),
            pending=False,
            held=content_hash in self.held,
            leased=any(lease.content_hash == content_hash for lease in leases.values()),
            posted_in_cycle=content_hash in self.posted,
        )

    def pool(self, now: float | None = None) -> set[str]:
        return {h for h in self.library() if is_available(self.facts(h, now))}

    def states(self) -> dict[str, str]:
        return {h: image_state(self.facts(h)) for h in self.library()}

    def running(self, now: float) -> dict[str, Lease]:
        return {i: lease for i, lease in self.leases.items() if lease.expires_at > now}


class Run:
    """One random sequence of operations on the store and on the model alike."""

    def __init__(self, harness: Harness, seed: int) -> None:
        self.harness, self.model, self.rng = harness, Model(), random.Random(seed)

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
            ]  # fmt: skip
        )
        operation()
        return operation.__name__

    def add(self) -> None:
        path, content = self.rng.choice(PATHS), self.rng.choice(CONTENTS)
        self.model.paths[path] = digest(content)
        self.harness.change(image(path, content))

    def remove(self) -> None:
        if self.model.paths:
            path = self.rng.choice(sorted(self.model.paths))
            del self.model.paths[path]
            self.harness.change(gone(path))

    def hold(self) -> None:
        if self.model.library():
            content_hash = self.rng.choice(sorted(self.model.library()))
            self.model.held.add(content_hash)
            self.harness.store.hold("ch", content_hash)

    def unhold(self) -> None:
        if self.model.held:
            content_hash = self.rng.choice(sorted(self.model.held))
            self.model.held.discard(content_hash)
            assert self.harness.store.unhold("ch", content_hash)

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
        """Nothing available: the store reclaims expired leases, then may turn the cycle;
        a turn that still offers nothing (all held) is not kept, as nothing is selected."""
        now = self.harness.clock.now
        self.model.leases = self.model.running(now)
        images = len(self.model.library())
        if not self.model.pool() and turns_cycle("new_cycle", len(self.model.leases), images):
            posted, self.model.posted = self.model.posted, set()
            if not self.model.pool():
                self.model.posted = posted
        return self.model.pool()

    def release(self) -> None:
        running = self.model.running(self.harness.clock.now)
        if running:
            lease_id = self.rng.choice(sorted(running))
            del self.model.leases[lease_id]
            self.harness.store.release("ch", lease_id)

    def post(self) -> None:
        candidates = sorted(self.model.library() - self.model.posted)
        if candidates:
            content_hash = self.rng.choice(candidates)
            running = self.model.running(self.harness.clock.now)
            mine = [i for i, lease in running.items() if lease.content_hash == content_hash]
            self.harness.store.mark_posted("ch", content_hash, mine[0] if mine else None, None)
            self.model.posted.add(content_hash)
            self.model.leases = {
                i: lease for i, lease in self.model.leases.items()
                if lease.content_hash != content_hash
            }  # fmt: skip

    def expire(self) -> None:
        self.harness.clock.now += self.rng.choice([1, LEASE_SECONDS + 1])

    def reclaim(self) -> None:
        self.harness.store.reclaim_expired(100)
        self.model.leases = self.model.running(self.harness.clock.now)

    def check(self, history: list[str]) -> None:
        seen: dict[str, str] = {}
        for state in ("available", "leased", "held", "posted"):
            page = self.harness.store.images("ch", ImageQuery(state, limit=200))
            seen |= {item.image.content_hash: item.state for item in page.items}
        assert seen == self.model.states(), history
        # The pool itself is the ``available`` listing above; the status counts running
        # leases only (one past its time is as good as reclaimed).
        running = self.model.running(self.harness.clock.now)
        assert self.harness.store.channel_status("ch").leased == len(running), history


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pool_is_what_the_rules_say_after_any_operations(harness: Harness, seed: int) -> None:
    channels = [ChannelDef("ch", "lib", when_exhausted="new_cycle"), *CHANNELS[1:]]
    harness.define(LIBRARIES, channels)
    run = Run(harness, seed)
    run.start()
    history: list[str] = []
    for _ in range(60):
        history.append(run.step())
        run.check(history)


def test_a_preview_changes_nothing_the_rules_judge(harness: Harness) -> None:
    run = Run(harness, 0)
    run.start()
    before = run.model.pool()
    chosen = harness.store.select("ch", SelectRequest(LEASE_SECONDS, dry_run=True))
    assert chosen.content_hash in before and chosen.lease is None
    run.check(["preview"])
