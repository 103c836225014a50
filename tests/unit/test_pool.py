"""The pool in memory (``state.sqlite.pool.ChannelPool``), with short made-up hashes."""

from __future__ import annotations

import pytest

from state.sqlite.channel_pool import ChannelPool


def pool_of(policy: str, members: list[str], column: dict[str, str]) -> ChannelPool:
    return ChannelPool(policy, {h: (column[h], h) for h in members})


def test_an_empty_pool_picks_nothing() -> None:
    assert pool_of("oldest", [], {}).first() is None


def test_a_removal_where_memory_disagrees_changes_nothing() -> None:
    pool = pool_of("name", ["a", "b", "c"], {"a": "x", "b": "y", "c": "z"})
    assert not pool.take("d")
    assert pool.members() == ["a", "b", "c"] and pool.first() == "a"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("oldest", ["b", "c", "a", "d"]), ("newest", ["d", "a", "c", "b"])],
)
def test_the_dated_policies_follow_the_date_then_the_hash(policy: str, expected: list[str]) -> None:
    dates = {"a": "2026-02", "b": "2026-01", "c": "2026-01", "d": "2026-03"}
    pool = pool_of(policy, ["a", "b", "c", "d"], dates)
    order = []
    while (first := pool.first()) is not None:
        order.append(first)
        assert pool.take(first)
    assert order == expected


def test_the_name_policy_sees_members_arrive_leave_and_change_names() -> None:
    names = {"a": "m.jpg", "b": "c.jpg", "c": "x.jpg"}
    pool = pool_of("name", ["a", "b", "c"], names)
    assert pool.first() == "b"
    pool.take("b")
    assert pool.first() == "a"
    pool.append("d", ("a.jpg", "d"))
    assert pool.first() == "d"
    pool.rekey("d", ("z.jpg", "d"))  # its representative file was renamed
    assert pool.first() == "a"
    pool.append("b", ("c.jpg", "b"))  # back in the pool
    assert pool.first() == "b"


def test_stale_entries_do_not_pile_up() -> None:
    pool = pool_of("oldest", [], {})
    for n in range(5_000):
        pool.append(f"h{n}", (f"{n:05}", f"h{n}"))
        pool.take(f"h{n}")
    assert len(pool) == 0 and pool.first() is None
    assert len(pool._heap) < 200
