"""The store contract, seasons: the pictures of a folder out of season in a channel are
not available there (``out_of_season``), whichever way they arrive, and come back when
the season opens; other channels of the library are not touched."""

from __future__ import annotations

import pytest

from state.errors import NoNewImages
from state.store import ChannelDef, LibraryDef
from tests.contract.conftest import Harness, digest, gone, image

XMAS, TOP = digest("xmas"), digest("top")


def state(harness: Harness, content_hash: str, channel: str = "ch") -> str:
    return harness.store.browsing.image(channel, content_hash).item.state


def picks(harness: Harness, times: int, channel: str = "ch") -> set[str]:
    return {harness.pick(channel, dry_run=True) for _ in range(times)}


@pytest.fixture
def library(harness: Harness) -> Harness:
    harness.listing(image("/p/Christmas/xmas.jpg", "xmas"), image("/p/top.jpg", "top"))
    return harness


def test_a_folder_out_of_season_is_not_offered_until_it_opens(library: Harness) -> None:
    browsing = library.store.browsing
    assert browsing.keep_seasons("ch", frozenset({"christmas"})) == ([], ["christmas"])
    assert browsing.keep_seasons("ch", frozenset({"christmas"})) == ([], [])  # no change
    assert state(library, XMAS) == "out_of_season" and state(library, TOP) == "available"
    assert library.store.reports.channel_status("ch").available == 1
    assert picks(library, 8) == {TOP}
    assert state(library, XMAS, "other") == "available"  # the other channel has no seasons
    library.pick()  # top leased: nothing is left in season
    with pytest.raises(NoNewImages):
        library.pick()
    assert browsing.keep_seasons("ch", frozenset()) == (["christmas"], [])
    assert state(library, XMAS) == "available"
    assert library.pick() == XMAS


def test_pictures_arriving_in_a_closed_folder_wait_for_its_season(library: Harness) -> None:
    library.store.browsing.keep_seasons("ch", frozenset({"christmas"}))
    library.change(image("/p/christmas/tree.jpg", "tree"), image("/p/new.jpg", "new"))
    assert state(library, digest("tree")) == "out_of_season"
    assert state(library, digest("new")) == "available"
    # content moving into the closed folder leaves the pool; moving out of it, joins it
    library.change(gone("/p/new.jpg"), image("/p/Christmas/new.jpg", "new"), cursor="c3")
    assert state(library, digest("new")) == "out_of_season"
    library.change(gone("/p/Christmas/xmas.jpg"), image("/p/xmas.jpg", "xmas"), cursor="c4")
    assert state(library, XMAS) == "available"
    assert picks(library, 12) == {TOP, XMAS}


def test_a_new_cycle_keeps_the_closed_folders_out(harness: Harness) -> None:
    harness.define(
        [LibraryDef("lib", "/p"), LibraryDef("lib2", "/q")],
        [ChannelDef("ch", "lib", when_exhausted="new_cycle"), ChannelDef("ch2", "lib2")],
    )
    harness.listing(image("/p/Christmas/xmas.jpg", "xmas"), image("/p/top.jpg", "top"))
    harness.store.browsing.keep_seasons("ch", frozenset({"christmas"}))
    for _ in range(3):  # each cycle offers top alone
        lease = harness.select()
        assert lease.content_hash == TOP and lease.lease is not None
        harness.store.selections.mark_posted("ch", TOP, lease.lease.id, None)
    assert state(harness, XMAS) == "out_of_season"
