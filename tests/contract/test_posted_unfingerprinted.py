"""The store contract for a posted picture that waits for its own fingerprint.

In a channel that skips near-duplicates, a posted picture without a fingerprint (posted
by content hash, from a sibling channel, after its grace, or imported) cannot keep its
re-exports out: they are compared with the posted fingerprints, and it has none. So
while such posted content waits, the channel's new pictures keep waiting even once
fingerprinted: until the posted one is fingerprinted (its re-exports then stay out, the
rest are offered), refused for good, or gone, or until the grace period offers them.
"""

from __future__ import annotations

from state.store import GraceExpired
from tests.contract.conftest import Harness, digest, gone, image
from tests.contract.test_fingerprint_wait import LATER, _offered, _with
from tests.contract.test_near_duplicates import Hasher, fingerprint, listed


def _posted_unfingerprinted(harness: Harness) -> Hasher:
    """``a`` posted in ``ch`` before its fingerprint; its re-export and ``c`` arrive."""
    _with(harness)
    listed(harness, "a")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.change(image("/p/a-q60.jpg", "a-q60"), image("/p/c.jpg", "c"))
    return Hasher(harness)


def _waiting_in_ch(expired: list[GraceExpired]) -> set[str]:
    return {e.content_hash for e in expired if e.channel == "ch"}


def test_a_re_export_waits_until_the_posted_picture_is_fingerprinted(harness: Harness) -> None:
    hasher = _posted_unfingerprinted(harness)
    hasher.record(**{"a-q60": fingerprint(1, 6), "c": fingerprint(9)})
    assert _offered(harness) == set()  # a's fingerprint may yet group the re-export with it
    assert _offered(harness, "other") == {digest("a"), digest("a-q60"), digest("c")}  # allow
    hasher.record(a=fingerprint(1))
    assert _offered(harness) == {digest("c")}  # the re-export stays out as a's near-duplicate
    status = harness.store.reports.channel_status("ch")
    assert (status.near_duplicates_skipped, status.awaiting_fingerprint) == (1, 0)


def test_the_grace_period_still_offers_what_waits_behind_a_posted_picture(
    harness: Harness,
) -> None:
    hasher = _posted_unfingerprinted(harness)
    hasher.record(**{"a-q60": fingerprint(1, 6)})
    assert _offered(harness) == set()
    expired = harness.store.near.offer_unfingerprinted(LATER, 10)
    assert _waiting_in_ch(expired) == {digest("a"), digest("a-q60"), digest("c")}
    assert _offered(harness) == {digest("a-q60"), digest("c")}


def test_a_posted_picture_refused_for_good_lets_the_waiting_pictures_go(harness: Harness) -> None:
    hasher = _posted_unfingerprinted(harness)
    hasher.record(**{"a-q60": fingerprint(1, 6)})
    assert _offered(harness) == set()
    hasher.record(a=None)  # Dropbox makes no thumbnail of it: nothing to compare with
    assert _offered(harness) == {digest("a-q60")}  # c is not fingerprinted yet
    hasher.record(c=fingerprint(9))
    assert _offered(harness) == {digest("a-q60"), digest("c")}


def test_a_posted_picture_archived_unfingerprinted_still_holds_its_re_exports(
    harness: Harness,
) -> None:
    _with(harness)
    listed(harness, "a")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.fingerprint_elsewhere("lib", digest("a"), "/archive/a.jpg")
    harness.change(gone("/p/a.jpg"), image("/p/a-q60.jpg", "a-q60"), image("/p/c.jpg", "c"))
    hasher = Hasher(harness)
    hasher.record(**{"a-q60": fingerprint(1, 6), "c": fingerprint(9)})
    assert _offered(harness) == set()
    hasher.record(a=fingerprint(1))  # from the archive path
    assert _offered(harness) == {digest("c")}
    assert harness.store.reports.channel_status("ch").near_duplicates_skipped == 1


def test_a_posted_picture_gone_unfingerprinted_holds_nothing(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.change(gone("/p/a.jpg"), image("/p/c.jpg", "c"))
    Hasher(harness).record(c=fingerprint(9))
    assert _offered(harness) == {digest("c")}  # nothing left to fetch a's fingerprint from


def test_a_post_of_an_earlier_cycle_holds_nothing(harness: Harness) -> None:
    _with(harness)
    listed(harness, "a")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.near.offer_unfingerprinted(LATER, 10)  # a's wait ends; the cycle may turn
    assert harness.pick() == digest("a")  # a new cycle: a is new again
    harness.change(image("/p/c.jpg", "c"))
    Hasher(harness).record(c=fingerprint(9))
    assert digest("c") in _offered(harness)


def test_every_unfingerprinted_post_holds_the_waits_until_the_last_is_fingerprinted(
    harness: Harness,
) -> None:
    _with(harness)
    listed(harness, "a", "b")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.mark_posted("ch", digest("b"), None, None)
    harness.change(image("/p/b-q60.jpg", "b-q60"), image("/p/c.jpg", "c"))
    hasher = Hasher(harness)
    hasher.record(**{"b-q60": fingerprint(2, 6), "c": fingerprint(9)})
    hasher.record(a=fingerprint(1))
    assert _offered(harness) == set()  # b, still unfingerprinted, may group with b-q60
    hasher.record(b=fingerprint(2))
    assert _offered(harness) == {digest("c")}
