"""The pool in memory (``state.sqlite.pool.ChannelPool``), with short made-up hashes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from state.sqlite.channel_pool import ChannelPool
from state.sqlite.slots import Slots


def slots_of(members: list[str]) -> Slots:
    slots = Slots()
    for content_hash in members:
        slots.append(content_hash)
    return slots


def pool_of(policy: str, members: list[str], column: dict[str, str] | None = None) -> ChannelPool:
    keys = {h: (column[h], h) for h in members} if column is not None else {}
    return ChannelPool(policy, slots_of(members), keys)


def test_a_random_pick_is_uniform() -> None:
    pool, rng = pool_of("random", [f"h{n}" for n in range(10)]), random.Random(7)
    counts = Counter(pool.pick_random(rng) for _ in range(20_000))
    assert set(counts) == {f"h{n}" for n in range(10)}
    assert max(counts.values()) - min(counts.values()) < 300  # each about 2,000


def test_a_random_pick_is_the_slot_the_table_would_read() -> None:
    pool = pool_of("random", ["a", "b", "c", "d"])
    seed = random.Random(3)
    slot = random.Random(3).randrange(4)
    assert pool.pick_random(seed) == ["a", "b", "c", "d"][slot]


def test_an_empty_pool_picks_nothing() -> None:
    assert pool_of("random", []).pick_random(random.Random(1)) is None
    assert pool_of("oldest", [], {}).first() is None


def test_a_removal_moves_the_last_member_into_the_hole() -> None:
    pool = pool_of("random", ["a", "b", "c", "d"])
    assert pool.take("b", 1)
    assert list(pool.members) == ["a", "d", "c"]
    assert pool.take("c", 2)  # the last: nothing moves
    assert list(pool.members) == ["a", "d"]
    pool.append("e", None)
    assert list(pool.members) == ["a", "d", "e"]


def test_a_removal_where_memory_disagrees_changes_nothing() -> None:
    pool = pool_of("random", ["a", "b", "c"])
    assert not pool.take("c", 0)
    assert not pool.take("a", 5)
    assert list(pool.members) == ["a", "b", "c"]


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
        assert pool.take(first, list(pool.members).index(first))
    assert order == expected


def test_the_name_policy_sees_members_arrive_leave_and_change_names() -> None:
    names = {"a": "m.jpg", "b": "c.jpg", "c": "x.jpg"}
    pool = pool_of("name", ["a", "b", "c"], names)
    assert pool.first() == "b"
    pool.take("b", 1)
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
        pool.take(f"h{n}", 0)
    assert len(pool) == 0 and pool.first() is None
    assert len(pool._heap) < 200
