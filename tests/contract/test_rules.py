"""The store against the rules (``state.rules``): after any sequence of operations, each
image of the channel is in the state ``image_state`` gives for its facts, and the pool
(what ``select`` may offer) is exactly what ``is_available`` says.

A plain model keeps the facts (which content the library holds, holds, leases, posts in
the current cycle, what waits for its fingerprint, what waits for ``repeat_after`` and
what ``max_posts`` retired) as each operation changes them, the rules judge it
(``turns_cycle`` included), and both backends must agree with the judgement, operation
after operation.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from state.errors import NoImages, NoNewImages
from state.rules import (
    ImageInChannel,
    image_state,
    is_available,
    is_retired,
    returns_at,
    turns_cycle,
)
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
    repeat_after: float | None = None
    max_posts: int | None = None
    cycle: int = 1
    posts: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # every cycle's
    returns: dict[str, float] = field(default_factory=dict)  # waiting for repeat_after

    def library(self) -> set[str]:
        return set(self.paths.values())

    def retired(self, content_hash: str) -> bool:
        return is_retired(len(self.posts.get(content_hash, [])), self.max_posts)

    def back_at(self, content_hash: str, now: float) -> float | None:
        """When content posted in an earlier cycle comes back, judged at ``now``."""
        posts = self.posts.get(content_hash, [])
        if self.retired(content_hash) or not posts or max(y for _, y in posts) >= self.cycle:
            return None
        return returns_at(max(t for t, _ in posts), self.repeat_after, now)

    def facts(self, content_hash: str) -> ImageInChannel:
        return ImageInChannel(
            in_library=content_hash in self.library(),
            pending=False,
            held=content_hash in self.held,
            leased=any(lease.content_hash == content_hash for lease in self.leases.values()),
            posted_in_cycle=content_hash in self.posted,
            awaiting_fingerprint=content_hash in self.awaiting(),
            waiting=content_hash in self.returns,
            retired=self.retired(content_hash),
        )

    def awaiting(self) -> set[str]:
        return self.library() - self.fingerprinted - self.graced if self.waits else set()

    def pool(self) -> set[str]:
        return {h for h in self.library() if is_available(self.facts(h))}

    def states(self) -> dict[str, str]:
        """As the listings show them: one awaiting its fingerprint, otherwise available,
        is in none (``image_state`` calls it available; it is not offered), nor one
        waiting for ``repeat_after`` or retired."""
        states = {h: image_state(self.facts(h)) for h in self.library()}
        unlisted = {(h, kept) for h in states for kept in ("waiting", "retired")}
        return {h: state for h, state in states.items()
                if (h, state) not in self._waiting() | unlisted}  # fmt: skip

    def left(self) -> None:
        """Content that left the library forgets its grace: back, it waits again (a
        fingerprint, once taken, is kept); it forgets its return too (judged again when
        it is back)."""
        self.graced &= self.library()
        self.returns = {h: t for h, t in self.returns.items() if h in self.library()}

    def arrived(self, content_hash: str) -> None:
        """Content new to the library is judged for ``repeat_after`` as it arrives, at the
        time of day (the catalog has no other clock; the tests' runs ahead of it)."""
        back = self.back_at(content_hash, time.time())
        if back is not None:
            self.returns[content_hash] = back

    def _waiting(self) -> set[tuple[str, str]]:
        return {(h, "available") for h in self.awaiting()}

    def running(self, now: float) -> dict[str, Lease]:
        return {i: lease for i, lease in self.leases.items() if lease.expires_at > now}


class Run:
    """One random sequence of operations on the store and on the model alike."""

    def __init__(self, harness: Harness, seed: int, waits: bool = False, **rotation: Any) -> None:
        self.harness, self.rng = harness, random.Random(seed)
        self.model = Model(waits=waits, **rotation)

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
        arrives = digest(content) not in self.model.library()
        self.model.paths[path] = digest(content)
        self.harness.change(image(path, content))
        self.model.left()
        if arrives:
            self.model.arrived(digest(content))

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
        model, now = self.model, self.harness.clock.now
        leases, posted, cycle, returns = model.leases, model.posted, model.cycle, model.returns
        model.leases = model.running(now)
        library = model.library()
        retired = sum(model.retired(h) for h in library)
        if not model.pool() and turns_cycle(
            "new_cycle", len(model.leases), len(library), len(model.awaiting()),
            len(model.returns), retired,
        ):  # fmt: skip
            model.posted, model.cycle = set(), cycle + 1
            model.returns = {h: t for h in library if (t := model.back_at(h, now)) is not None}
        if not model.pool() and not model.returns:  # undone, unless pictures wait
            model.leases, model.posted, model.cycle, model.returns = leases, posted, cycle, returns
        return model.pool()

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
            now = self.harness.clock.now
            self.model.posts.setdefault(content_hash, []).append((now, self.model.cycle))
            if self.model.retired(content_hash):
                self.model.returns.pop(content_hash, None)
            self.model.leases = {
                i: lease for i, lease in self.model.leases.items()
                if lease.content_hash != content_hash
            }  # fmt: skip

    def expire(self) -> None:
        self.harness.clock.now += self.rng.choice([1, LEASE_SECONDS + 1])

    def reclaim(self) -> None:
        self.harness.store.selections.reclaim_expired(100)
        now = self.harness.clock.now
        self.model.leases = self.model.running(now)
        self.model.returns = {h: t for h, t in self.model.returns.items() if t > now}

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
        for content_hash in self.model.library():  # waiting and retired ones too
            shown = self.harness.store.browsing.image("ch", content_hash).item.state
            if content_hash not in self.model.awaiting():
                assert shown == image_state(self.model.facts(content_hash)), history
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


@pytest.mark.parametrize(
    ("seed", "repeat_after", "max_posts"),
    [(6, 90.0, None), (7, 90.0, None), (8, None, 2), (9, 90.0, 2), (10, 30.0, 3)],
)
def test_the_pool_is_what_the_rules_say_with_repeat_after_and_max_posts(
    harness: Harness, seed: int, repeat_after: float | None, max_posts: int | None
) -> None:
    chosen = ChannelDef("ch", "lib", when_exhausted="new_cycle", repeat_after=repeat_after,
                        max_posts=max_posts)  # fmt: skip
    harness.define(LIBRARIES, [chosen, *CHANNELS[1:]])
    run = Run(harness, seed, repeat_after=repeat_after, max_posts=max_posts)
    run.start()
    history: list[str] = []
    for _ in range(80):
        history.append(run.step())
        run.check(history)
