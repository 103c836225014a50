"""A balanced pool in memory (``state.sqlite.channel_pool``): each folder's members and
order stay those of a plain model through random additions, removals, new keys and
moves between folders; a folder with no member left is no longer active."""

from __future__ import annotations

import random

import pytest

from state.sqlite.channel_pool import ChannelPool

FOLDERS = (".", "a", "b", "c")


class Model:
    """The same pool as plain dictionaries: member -> (folder, key)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}

    def in_folder(self, folder: str) -> set[str]:
        return {h for h, (f, _) in self.rows.items() if f == folder}

    def first(self, folder: str, policy: str) -> str | None:
        found = [(key, h) for h, (f, key) in self.rows.items() if f == folder]
        if not found:
            return None
        return (max(found) if policy == "newest" else min(found))[1]


@pytest.mark.parametrize("policy", ["random", "oldest", "newest", "name"])
def test_each_folder_keeps_its_members_and_order(policy: str) -> None:
    rng, model = random.Random(11), Model()
    ordered = policy != "random"
    pool = ChannelPool(policy, {}, {})
    for step in range(3_000):
        action = rng.random()
        if action < 0.5 or not model.rows:
            h, folder, key = f"h{step}", rng.choice(FOLDERS), f"k{rng.randrange(500):03d}"
            pool.append(h, (key, h) if ordered else None, folder)
            model.rows[h] = (folder, key)
        elif action < 0.8:
            h = rng.choice(sorted(model.rows))
            assert pool.take(h)
            del model.rows[h]
        elif action < 0.9 and ordered:
            h, key = rng.choice(sorted(model.rows)), f"k{rng.randrange(500):03d}"
            pool.rekey(h, (key, h))
            model.rows[h] = (model.rows[h][0], key)
        else:
            h, folder = rng.choice(sorted(model.rows)), rng.choice(FOLDERS)
            pool.refolder(h, folder)
            model.rows[h] = (folder, model.rows[h][1])
        if step % 50 == 0:
            check(pool, model, policy, rng)
    check(pool, model, policy, rng)


def check(pool: ChannelPool, model: Model, policy: str, rng: random.Random) -> None:
    assert sorted(pool.members()) == sorted(model.rows)
    assert sorted(pool.active()) == sorted({f for f, _ in model.rows.values()})
    for folder in FOLDERS:
        picked = pool.pick_in(folder, rng)
        if policy == "random":
            assert picked in model.in_folder(folder) or (
                picked is None and not model.in_folder(folder)
            )
        else:
            assert picked == model.first(folder, policy)
