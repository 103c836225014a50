"""The store contract for pictures waiting for their fingerprint (``skip`` channels).

A channel that skips near-duplicates (and whose service fingerprints) offers new content
only once it is fingerprinted, or once the grace period has run out: whatever the
policy, by name or not, in a preview or a lease, and a cycle does not turn while
something waits. A channel that allows near-duplicates, or one whose service does not
fingerprint, never waits.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from state.errors import AwaitingFingerprint, NoNewImages
from state.store import ChannelDef, SelectPolicy
from tests.contract.conftest import LIBRARIES, Harness, digest, gone, image
from tests.contract.test_near_duplicates import Hasher, fingerprint, listed

WAITING = [
    ChannelDef("ch", "lib", when_exhausted="new_cycle", await_fingerprints=True),
    ChannelDef("other", "lib", near_duplicates="allow", await_fingerprints=True),
    ChannelDef("ch2", "lib2", await_fingerprints=True),
]
LATER = 1e12  # a ``before`` every wait began earlier than


def _with(harness: Harness, policy: SelectPolicy = "random") -> Harness:
    channels = [replace(WAITING[0], policy=policy), *WAITING[1:]]
    harness.define(LIBRARIES, channels)
    return harness


def _offered(harness: Harness, channel: str = "ch") -> set[str]:
    """Everything the channel offers now: leased one by one until none is left, then let
    go again."""
    taken = {}
    while True:
        try:
            chosen = harness.select(channel)
        except NoNewImages:
            break
        assert chosen.lease is not None and chosen.content_hash not in taken
        taken[chosen.content_hash] = chosen.lease.id
    for lease_id in taken.values():
        harness.store.selections.release(channel, lease_id)
    return set(taken)


@pytest.mark.parametrize("policy", ["random", "oldest", "newest", "name"])
def test_a_picture_is_offered_only_once_fingerprinted(
    harness: Harness, policy: SelectPolicy
) -> None:
    _with(harness, policy)
    listed(harness, "a", "b")
    with pytest.raises(NoNewImages):
        harness.pick(dry_run=True)  # a preview
    with pytest.raises(NoNewImages):
        harness.pick()  # a lease
    with pytest.raises(AwaitingFingerprint):
        harness.pick(name="a.jpg", dry_run=True)
    with pytest.raises(AwaitingFingerprint):
        harness.pick(name="a.jpg")
    assert _offered(harness, "other") == {digest("a"), digest("b")}  # allow: no wait
    status = harness.store.reports.channel_status("ch")
    assert (status.available, status.awaiting_fingerprint) == (0, 2)
    assert status.oldest_awaiting_since is not None
    assert time.time() - status.oldest_awaiting_since < 60
    Hasher(harness).record(a=fingerprint(1))
    assert _offered(harness) == {digest("a")}
    assert harness.store.reports.channel_status("ch").awaiting_fingerprint == 1
    Hasher(harness).record(b=None)  # Dropbox made no thumbnail: fingerprinted as unhashable
    assert _offered(harness) == {digest("a"), digest("b")}
    status = harness.store.reports.channel_status("ch")
    assert (status.available, status.awaiting_fingerprint) == (2, 0)
    assert status.oldest_awaiting_since is None


def test_a_near_duplicate_of_a_posted_picture_waits_then_stays_out(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a")
    hasher = Hasher(harness)
    hasher.record(a=fingerprint(1))
    harness.store.selections.mark_posted("ch", digest("a"), harness.lease_id(), None)
    harness.change(image("/p/a-q60.jpg", "a-q60"), image("/p/c.jpg", "c"))
    with pytest.raises(NoNewImages):
        harness.pick(dry_run=True)  # both wait: neither is offered before its fingerprint
    hasher.record(**{"a-q60": fingerprint(1, 6), "c": fingerprint(9)})
    assert _offered(harness) == {digest("c")}
    assert harness.store.reports.channel_status("ch").near_duplicates_skipped == 1


def test_the_grace_period_offers_what_waited_too_long_once(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a", "b")
    assert harness.store.near.offer_unfingerprinted(time.time() - 3600, 10) == []
    expired = harness.store.near.offer_unfingerprinted(LATER, 10)
    assert sorted((e.channel, e.content_hash) for e in expired) == sorted(
        [("ch", digest("a")), ("ch", digest("b"))]
    )
    assert {e.path for e in expired} == {"/p/a.jpg", "/p/b.jpg"}
    assert all(0 < time.time() - e.since < 60 for e in expired)  # when each began to wait
    assert harness.store.near.offer_unfingerprinted(LATER, 10) == []  # offered once, never again
    assert _offered(harness) == {digest("a"), digest("b")}
    assert harness.store.reports.channel_status("ch").awaiting_fingerprint == 0
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(2))  # late fingerprints change nothing
    assert _offered(harness) == {digest("a"), digest("b")}


def test_the_grace_period_is_taken_a_batch_at_a_time(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a", "b", "c")
    assert len(harness.store.near.offer_unfingerprinted(LATER, 2)) == 2
    assert len(harness.store.near.offer_unfingerprinted(LATER, 2)) == 1
    assert harness.store.reports.channel_status("ch").available == 3


def test_a_cycle_does_not_turn_while_a_picture_waits(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a")
    Hasher(harness).record(a=fingerprint(1))
    harness.store.selections.mark_posted("ch", digest("a"), harness.lease_id(), None)
    harness.change(image("/p/b.jpg", "b"))
    with pytest.raises(NoNewImages):
        harness.pick()  # b may yet be offered in this cycle: no new cycle
    assert harness.store.reports.channel_status("ch").cycle == 1
    Hasher(harness).record(b=fingerprint(2))
    assert harness.pick() == digest("b")
    harness.store.selections.mark_posted("ch", digest("b"), None, None)
    assert harness.pick() in {digest("a"), digest("b")}  # now the cycle turns
    assert harness.store.reports.channel_status("ch").cycle == 2


def test_content_back_in_the_library_with_a_fingerprint_does_not_wait(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a")
    Hasher(harness).record(a=fingerprint(1))
    harness.change(gone("/p/a.jpg"))
    harness.change(image("/p/a-again.jpg", "a"))
    assert _offered(harness) == {digest("a")}


def test_without_fingerprinting_nothing_waits(harness: Harness) -> None:
    listed(harness, "a")
    _with(harness)  # waits from now on: what is not fingerprinted is held back
    with pytest.raises(NoNewImages):
        harness.pick(dry_run=True)
    harness.define()  # the service stopped fingerprinting: everything is offered again
    assert _offered(harness) == {digest("a")}
    harness.change(image("/p/b.jpg", "b"))
    assert _offered(harness) == {digest("a"), digest("b")}
    assert harness.store.reports.channel_status("ch").awaiting_fingerprint == 0


def test_an_archived_post_is_fingerprinted_at_its_archive_path(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a", "b")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.fingerprint_elsewhere("lib", digest("a"), "/archive/a.jpg")
    harness.change(gone("/p/a.jpg"), gone("/p/b.jpg"))
    waiting = {w.content_hash: w for w in harness.store.near.fingerprint_backlog("lib", None, 10)}
    archived, deleted = waiting[digest("a")], waiting[digest("b")]
    assert (archived.path, archived.archived, archived.gone) == ("/archive/a.jpg", True, False)
    assert (deleted.path, deleted.gone, deleted.posted) == (None, True, False)
    Hasher(harness).record(a=fingerprint(1))
    harness.store.selections.fingerprint_elsewhere(
        "lib", digest("a"), "/elsewhere/a.jpg"
    )  # no-op now
    assert [w.content_hash for w in harness.store.near.fingerprint_backlog("lib", None, 10)] == [
        digest("b")
    ]


def _waiting(harness: Harness) -> tuple[int, int, int]:
    """What ``/status`` says waits, in ``ch``, ``other`` and ``ch2``."""
    reports = harness.store.reports
    return tuple(reports.channel_status(c).awaiting_fingerprint for c in ("ch", "other", "ch2"))


def test_the_count_of_waiting_pictures_follows_every_start_and_end_of_a_wait(
    harness: Harness,
) -> None:
    """The count is kept by the statements that change waits, never counted: each way a
    wait starts or ends moves it, in the channel it happened in only."""
    _with(harness)
    listed(harness, "a", "b", "c")  # a first listing
    harness.listing(image("/q/x.jpg", "x"), library="lib2")
    assert _waiting(harness) == (3, 0, 1)
    harness.change(image("/p/d.jpg", "d"), image("/p/e.jpg", "e"))  # a later catch-up
    assert _waiting(harness) == (5, 0, 1)
    Hasher(harness).record(a=fingerprint(1))  # fingerprinted
    assert _waiting(harness) == (4, 0, 1)
    harness.change(gone("/p/b.jpg"))  # a waiting picture leaves the library
    assert _waiting(harness) == (3, 0, 1)
    harness.change(gone("/p/a.jpg"))  # one that did not wait: nothing moves
    assert _waiting(harness) == (3, 0, 1)
    assert len(harness.store.near.offer_unfingerprinted(LATER, 1)) == 1  # the grace period
    assert sum(_waiting(harness)) == 3
    harness.define()  # the service stops fingerprinting: nothing waits
    assert _waiting(harness) == (0, 0, 0)
    _with(harness)  # and starts again: what has no fingerprint waits again
    assert _waiting(harness) == (3, 0, 1)
    assert harness.store.catalog.forget_folder("lib") == 3  # the folder is gone
    assert _waiting(harness) == (0, 0, 1)
    harness.listing(image("/p/f.jpg", "f"), image("/p/c.jpg", "c"))  # listed afresh
    assert _waiting(harness) == (2, 0, 1)
    assert _waiting(harness.reopen()) == (2, 0, 1)
