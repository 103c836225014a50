"""A balanced channel's pool in memory (``state.sqlite.channel_pool.ChannelPool``), in one
folder, with short made-up hashes: each folder's order, removals, renamed members."""

from __future__ import annotations

import random

import pytest

from state.sqlite.channel_pool import ChannelPool

FOLDER = "."
RNG = random.Random(1)


def pool_of(policy: str, members: list[str], column: dict[str, str]) -> ChannelPool:
    folders = dict.fromkeys(members, FOLDER)
    return ChannelPool(policy, folders, {h: (column[h], h) for h in members})


def first(pool: ChannelPool) -> str | None:
    return pool.pick_in(FOLDER, RNG)


def test_an_empty_pool_picks_nothing() -> None:
    assert first(pool_of("oldest", [], {})) is None
    assert first(pool_of("random", [], {})) is None


def test_a_removal_where_memory_disagrees_changes_nothing() -> None:
    pool = pool_of("name", ["a", "b", "c"], {"a": "x", "b": "y", "c": "z"})
    assert not pool.take("d")
    assert pool.members() == ["a", "b", "c"] and first(pool) == "a"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("oldest", ["b", "c", "a", "d"]), ("newest", ["d", "a", "c", "b"])],
)
def test_the_dated_policies_follow_the_date_then_the_hash(policy: str, expected: list[str]) -> None:
    dates = {"a": "2026-02", "b": "2026-01", "c": "2026-01", "d": "2026-03"}
    pool = pool_of(policy, ["a", "b", "c", "d"], dates)
    order = []
    while (picked := first(pool)) is not None:
        order.append(picked)
        assert pool.take(picked)
    assert order == expected


def test_the_name_policy_sees_members_arrive_leave_and_change_names() -> None:
    names = {"a": "m.jpg", "b": "c.jpg", "c": "x.jpg"}
    pool = pool_of("name", ["a", "b", "c"], names)
    assert first(pool) == "b"
    pool.take("b")
    assert first(pool) == "a"
    pool.append("d", ("a.jpg", "d"), FOLDER)
    assert first(pool) == "d"
    pool.rekey("d", ("z.jpg", "d"))  # its representative file was renamed
    assert first(pool) == "a"
    pool.append("b", ("c.jpg", "b"), FOLDER)  # back in the pool
    assert first(pool) == "b"


def test_stale_entries_do_not_pile_up() -> None:
    pool = pool_of("oldest", ["keep"], {"keep": "99999"})
    for n in range(5_000):
        pool.append(f"h{n}", (f"{n:05}", f"h{n}"), FOLDER)
        pool.take(f"h{n}")
    assert len(pool) == 1 and first(pool) == "keep"
    assert len(pool._folders[FOLDER].heap) < 200
