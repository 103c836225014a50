"""The store contract, balance over folders: a channel with weights spreads its leases
over the folders that have available pictures by a smooth weighted round-robin (exact
shares in every run of a full turn), its policy choosing within the folder; a folder
that runs out drops out until the cycle turns; previews show the next lease's folder."""

from __future__ import annotations

from collections import Counter

import pytest

from state.errors import NoNewImages
from state.store import ChannelDef, LibraryDef, SelectPolicy
from tests.contract.conftest import Harness, digest, gone, image

LIBRARIES = [LibraryDef("lib", "/p"), LibraryDef("lib2", "/q")]


def define(harness: Harness, weights: dict[str, int], **kw: object) -> None:
    channel = ChannelDef("ch", "lib", weights=tuple(sorted(weights.items())), **kw)  # type: ignore[arg-type]
    harness.define(LIBRARIES, [channel, ChannelDef("other", "lib"), ChannelDef("ch2", "lib2")])


def listing(harness: Harness, **counts: int) -> dict[str, str]:
    """``counts`` pictures in each folder ("top": directly in the library's folder);
    returns each content's folder."""
    folder_of, entries = {}, []
    for folder, count in counts.items():
        for n in range(count):
            label = f"{folder}-{n:03d}"
            path = f"/p/{label}.jpg" if folder == "top" else f"/p/{folder}/{label}.jpg"
            entries.append(image(path, label, f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"))
            folder_of[digest(label)] = "." if folder == "top" else folder.lower()
    harness.listing(*entries)
    return folder_of


def lease_folders(harness: Harness, folder_of: dict[str, str], times: int) -> list[str]:
    return [folder_of[harness.pick()] for _ in range(times)]


@pytest.mark.parametrize("policy", ["random", "oldest", "name"])
def test_three_to_one_in_any_four_consecutive_leases(
    harness: Harness, policy: SelectPolicy
) -> None:
    define(harness, {"a": 3}, policy=policy)
    folder_of = listing(harness, a=30, b=10)
    leased = lease_folders(harness, folder_of, 40)
    for start in range(len(leased) - 3):
        assert Counter(leased[start : start + 4]) == {"a": 3, "b": 1}
    with pytest.raises(NoNewImages):
        harness.pick()


def test_unlisted_folders_and_the_top_weigh_one_and_empty_ones_drop_out(harness: Harness) -> None:
    define(harness, {"Travel": 2})  # named as configured: matched folded
    define(harness, {"travel": 2})
    folder_of = listing(harness, travel=20, food=3, top=6)
    leased = lease_folders(harness, folder_of, 12)
    assert Counter(leased[:4]) == {"travel": 2, "food": 1, ".": 1}
    assert Counter(leased) == {"travel": 6, "food": 3, ".": 3}
    # food ran out: travel and the top share 2:1 from here
    rest = lease_folders(harness, folder_of, 9)
    assert Counter(rest) == {"travel": 6, ".": 3}
    assert Counter(lease_folders(harness, folder_of, 8)) == {"travel": 8}


def test_a_preview_shows_the_folder_of_the_next_lease(harness: Harness) -> None:
    define(harness, {"a": 3})
    folder_of = listing(harness, a=20, b=20)
    for _ in range(12):
        previewed = {folder_of[harness.pick(dry_run=True)] for _ in range(3)}
        assert len(previewed) == 1  # a preview leaves the round as it is
        assert folder_of[harness.pick()] == previewed.pop()


def test_the_other_channel_is_not_balanced_and_a_new_cycle_brings_folders_back(
    harness: Harness,
) -> None:
    define(harness, {"a": 1}, when_exhausted="new_cycle")
    folder_of = listing(harness, a=1, b=3)
    for cycle in range(2):
        first = harness.select()
        assert first.lease is not None
        harness.store.selections.mark_posted("ch", first.content_hash, first.lease.id, None)
        leased = [first.content_hash] + [harness.pick() for _ in range(3)]
        assert Counter(folder_of[h] for h in leased) == {"a": 1, "b": 3}, cycle
        for h in leased[1:]:
            harness.store.selections.mark_posted("ch", h, None, None)
    assert {folder_of[harness.pick("other")] for _ in range(4)} == {"a", "b"}


def test_a_picture_moving_to_another_folder_is_picked_from_there(harness: Harness) -> None:
    define(harness, {"a": 1}, policy="name")
    listing(harness, a=2, b=2)
    harness.pick(dry_run=True)  # the pool is in memory (SQLite) before the move
    harness.change(gone("/p/a/a-000.jpg"), image("/p/b/a-000.jpg", "a-000"))
    harness.change(gone("/p/a/a-001.jpg"), image("/p/c/a-001.jpg", "a-001"), cursor="c3")
    assert harness.store.browsing.library_folders("lib") == ["b", "c"]
    by_folder = {"b": {digest("a-000"), digest("b-000"), digest("b-001")}, "c": {digest("a-001")}}
    picked = [harness.pick() for _ in range(4)]
    assert [h in by_folder["b"] for h in picked] == [True, False, True, True]
