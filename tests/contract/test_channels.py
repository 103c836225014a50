"""The store contract across channels: posted sets, cycles, legacy state and its waiting."""

from __future__ import annotations

import pytest

from state.errors import NoImages, NoNewImages, Pending, UnknownName
from state.hashing import BLOCK_SIZE
from state.store import ChannelDef, LegacyMatch
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, image

CYCLING = [*CHANNELS, ChannelDef("loop", "lib", when_exhausted="new_cycle")]


def test_posted_in_one_channel_is_new_in_another(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    with pytest.raises(NoNewImages):
        harness.pick("ch")
    assert harness.pick("other") == digest("a")
    assert harness.store.reports.channel_status("other").posted == 0


def test_every_status_read_at_once_is_each_read_alone(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(3)))
    harness.store.selections.mark_posted("ch", digest("0"), None, None)
    harness.pick("other")  # leased there
    reports = harness.store.reports
    libraries, channels = reports.statuses(["lib"], ["ch", "other"])
    assert libraries == {"lib": reports.library_status("lib")}
    assert channels == {name: reports.channel_status(name) for name in ("ch", "other")}
    assert (channels["ch"].available, channels["ch"].leased, channels["ch"].posted) == (2, 0, 1)
    assert (channels["other"].available, channels["other"].leased) == (2, 1)
    assert libraries["lib"].unique_images == 3
    counted = [(s.available, s.leased, s.posted, s.awaiting_fingerprint) for s in channels.values()]
    assert {type(count) for counts in counted for count in counts} == {int}  # not numeric
    for unknown in ((["nowhere"], []), ([], ["nobody"])):
        with pytest.raises(UnknownName):
            reports.statuses(*unknown)


def test_leases_are_per_channel(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.pick("ch")
    assert harness.pick("other") == digest("a")


def test_a_new_cycle_serves_every_image_once_then_again(harness: Harness) -> None:
    harness.define(LIBRARIES, CYCLING)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(4)))
    seen: list[list[str]] = []
    for _cycle in range(3):
        served = []
        for _ in range(4):
            chosen = harness.select("loop")
            harness.store.selections.mark_posted("loop", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
            served.append(chosen.content_hash)
        seen.append(served)
    assert all(sorted(served) == sorted(digest(str(n)) for n in range(4)) for served in seen)
    assert harness.store.reports.channel_status("loop").cycle == 3
    exported = harness.store.posted.export_posted("loop").dropbox_content_hashes
    assert len(exported) == 4  # the history holds every post; the export names each once


def test_a_cycle_waits_for_leases_still_out(harness: Harness) -> None:
    harness.define(LIBRARIES, CYCLING)
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    held = harness.lease_id("loop")
    posted = harness.select("loop")
    harness.store.selections.mark_posted("loop", posted.content_hash, posted.lease.id, None)  # type: ignore[union-attr]
    with pytest.raises(NoNewImages, match="1 leased"):
        harness.pick("loop")  # starting over now would offer the posted one before the held one
    harness.store.selections.release("loop", held)
    assert harness.pick("loop") != posted.content_hash
    assert harness.store.reports.channel_status("loop").cycle == 1


def test_an_image_added_mid_cycle_is_available_in_that_cycle(harness: Harness) -> None:
    harness.define(LIBRARIES, CYCLING)
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    first = harness.select("loop", name="a.jpg")
    harness.store.selections.mark_posted("loop", first.content_hash, first.lease.id, None)  # type: ignore[union-attr]
    harness.change(image("/p/c.jpg", "c"))
    rest = set()
    for _ in range(2):
        chosen = harness.select("loop")
        harness.store.selections.mark_posted("loop", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
        rest.add(chosen.content_hash)
    assert rest == {digest("b"), digest("c")}
    assert harness.store.reports.channel_status("loop").cycle == 1
    harness.pick("loop")
    assert harness.store.reports.channel_status("loop").cycle == 2


def test_a_stop_channel_stops(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    with pytest.raises(NoNewImages):
        harness.pick("ch")
    assert harness.store.reports.channel_status("ch").cycle == 1


def test_an_empty_library_has_no_cycle_to_turn(harness: Harness) -> None:
    harness.define(LIBRARIES, CYCLING)
    harness.listing()
    with pytest.raises(NoImages):
        harness.pick("loop")


def test_reset_posted_makes_everything_available(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(5)))
    for n in range(3):
        harness.store.selections.mark_posted("ch", digest(str(n)), None, digest(f"sha{n}"))
    harness.store.selections.mark_posted("other", digest("4"), None, None)
    cleared = harness.store.posted.reset_posted("ch")
    assert len(cleared.dropbox_content_hashes) == 3 and len(cleared.hashes) == 3
    counts = harness.store.reports.channel_status("ch")
    assert (counts.available, counts.posted) == (5, 0)
    assert len({harness.pick() for _ in range(5)}) == 5
    assert harness.store.reports.channel_status("other").posted == 1


def test_legacy_import_and_export(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.posted.import_posted(
        "ch", [LegacyMatch(digest("a"), digest("sha-a"))], [digest("u")]
    )
    exported = harness.store.posted.export_posted("ch")
    assert exported.dropbox_content_hashes == (digest("a"),)
    assert set(exported.hashes) == {digest("sha-a"), digest("u")}
    assert harness.store.posted.unresolved_digests("ch") == {digest("u")}
    assert harness.store.posted.unresolved_digests("other") == set()
    with pytest.raises(NoNewImages):
        harness.pick()


def test_a_content_hash_imported_twice_keeps_its_digest(harness: Harness) -> None:
    """The rows go in sorted by content hash, not as the file lists them: one named by its
    digest and again by itself keeps the digest, whichever of the two comes first."""
    harness.listing()
    named = [LegacyMatch(digest(f"c{n}"), digest(f"sha-c{n}")) for n in range(20)]
    twice = [LegacyMatch(digest(f"c{n}"), None) for n in range(0, 20, 3)]
    harness.store.posted.import_posted("ch", [*named, *twice], [])
    harness.store.posted.import_posted("other", [*twice, *named], [])
    for channel in ("ch", "other"):
        exported = harness.store.posted.export_posted(channel)
        assert set(exported.hashes) == {match.sha256 for match in named}
        assert set(exported.dropbox_content_hashes) == {match.content_hash for match in named}


def test_a_large_image_waits_while_legacy_digests_are_unmatched(harness: Harness) -> None:
    harness.listing(image("/p/small.jpg", "small"))
    harness.store.posted.import_posted("ch", [], [digest("the big one's sha256")])
    harness.change(image("/p/big.jpg", "big", size=BLOCK_SIZE + 1))
    assert harness.store.reports.library_status("lib").pending == 1
    assert [i.content_hash for i in harness.store.catalog.pending_images("lib")] == [digest("big")]
    with pytest.raises(Pending):
        harness.select(name="big.jpg")
    assert harness.pick("other") == digest("small") or True
    assert {harness.pick("ch")} == {digest("small")}
    with pytest.raises(NoNewImages):
        harness.pick("ch")
    harness.store.catalog.resolve_pending("lib", digest("big"), digest("the big one's sha256"))
    assert harness.store.reports.library_status("lib").pending == 0
    with pytest.raises(NoNewImages):
        harness.pick("ch")  # it was the legacy post: posted in ch
    assert digest("big") in harness.store.posted.export_posted("ch").dropbox_content_hashes
    assert harness.store.posted.unresolved_digests("ch") == set()


def test_a_resolved_large_image_that_was_never_posted_is_offered(harness: Harness) -> None:
    harness.listing()
    harness.store.posted.import_posted("ch", [], [digest("someone else")])
    harness.change(image("/p/big.jpg", "big", size=BLOCK_SIZE + 1))
    with pytest.raises(NoNewImages):
        harness.pick("ch")
    harness.store.catalog.resolve_pending("lib", digest("big"), digest("its own sha256"))
    assert harness.pick("ch") == digest("big")
    assert harness.store.posted.unresolved_digests("ch") == {digest("someone else")}


def test_a_large_image_whose_digest_is_known_does_not_wait(harness: Harness) -> None:
    harness.listing()
    harness.store.legacy.remember_sha256(digest("big"), digest("its sha256"))
    harness.store.posted.import_posted("ch", [], [digest("someone else")])
    harness.change(image("/p/big.jpg", "big", size=BLOCK_SIZE + 1))
    assert harness.pick("ch") == digest("big")


def test_without_unmatched_digests_nothing_waits(harness: Harness) -> None:
    harness.listing()
    harness.store.posted.import_posted("ch", [], [digest("u")])
    harness.change(image("/p/big.jpg", "big", size=BLOCK_SIZE + 1))
    harness.store.posted.reset_posted("ch")
    assert harness.store.reports.library_status("lib").pending == 0
    assert harness.pick("ch") == digest("big")
