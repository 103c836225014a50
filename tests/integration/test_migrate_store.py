"""``python -m app migrate-store --to postgresql://...``: a SQLite state moved as a real process.

The SQLite file holds a channel in its second cycle, posts in both cycles, a running
lease, a hold that ends by itself, an unmatched legacy digest and a remembered SHA-256.
After the move the PostgreSQL store, once it has listed the folder, offers exactly what
the SQLite one would have; a second move into the same database is refused in one line. Another file
holds near-duplicates (groups, a split, a post that keeps a group out, content waiting
to be grouped again at another distance): they move too, and group alike. A third
holds webhook events: those still to send and those kept to list move with their ids.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from state.postgres import PostgresStore
from state.rules import iso
from state.sqlite import SqliteStore
from state.store import ChannelDef, Delivery, ImageQuery, Store
from tests.contract.conftest import LIBRARIES, Clock, Harness, digest, image
from tests.contract.test_near_duplicates import Hasher, fingerprint
from tests.reliability.forkserver import forkserver

REPO = Path(__file__).resolve().parents[2]
CHANNELS = [ChannelDef("ch", "lib", when_exhausted="new_cycle"), ChannelDef("ch2", "lib2")]
FILES = [image(f"/p/{n}.jpg", str(n)) for n in range(4)]
HELD_UNTIL = Clock().now + 86_400  # the hold ends by itself, a day after the contract's now


def _sqlite_state(state: Path) -> tuple[str, str]:
    """Fill a SQLite state; returns the lease it leaves running and the one image left."""
    clock = Clock()
    harness = Harness(SqliteStore(state / "unposted.sqlite3", clock=clock), clock, None)
    harness.define(LIBRARIES, CHANNELS)
    harness.listing(*FILES)
    for _ in range(4):  # the whole first cycle
        harness.store.selections.mark_posted("ch", harness.pick(), None, None)
    posted = harness.pick()  # the second cycle begins
    harness.store.selections.mark_posted("ch", posted, None, digest("sha-0"))
    mistaken = min({digest(str(n)) for n in range(4)} - {posted})
    harness.store.selections.mark_posted("ch", mistaken, None, None)
    harness.store.selections.unpost("ch", mistaken, "API_TOKEN")  # back in the pool
    chosen = harness.select(seconds=3600)
    assert chosen.lease is not None
    held, left = sorted({digest(str(n)) for n in range(4)} - {posted, chosen.content_hash})
    harness.store.browsing.hold("ch", held, until=HELD_UNTIL)
    harness.store.posted.import_posted("ch2", [], [digest("unmatched")])
    harness.store.legacy.remember_sha256(digest("big"), digest("its sha256"))
    harness.store.close()
    return chosen.lease.id, left


def _migrate(state: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(PYTHONPATH=str(REPO), STATE_DIR=str(state), DROPBOX_FOLDER="/p")
    return forkserver().run(["migrate-store", "--to", url], env, timeout=60, cwd=state)


def _moved(state: Path, url: str, *printed: str) -> Harness:
    """Move the SQLite state in ``state`` to ``url`` (the command printing each of
    ``printed``); a PostgreSQL store on what it moved."""
    moved = _migrate(state, url)
    assert moved.returncode == 0, moved.stderr
    assert all(part in moved.stdout for part in printed), moved.stdout
    clock = Clock()
    return Harness(PostgresStore(url, clock=clock), clock, None)


def test_posted_state_moves_and_the_catalog_is_listed_again(
    tmp_path: Path, database_url: str
) -> None:
    lease, left = _sqlite_state(tmp_path)
    harness = _moved(tmp_path, database_url, '"posted": 5', '"undone": 1', '"holds": 1')
    try:
        harness.define(LIBRARIES, CHANNELS)
        assert harness.store.catalog.sync_state("lib").ready_at is None  # listed again first
        harness.listing(*FILES)
        status = harness.store.reports.channel_status("ch")
        assert (status.cycle, status.posted, status.leased, status.available) == (2, 1, 1, 1)
        assert harness.pick("ch") == left  # not the posted, the leased nor the held one
        (held,) = harness.store.browsing.images("ch", ImageQuery("held")).items
        assert held.held_until == iso(HELD_UNTIL)  # and it still ends when it did
        assert harness.store.selections.lease_info("ch", lease).state == "active"
        assert harness.store.posted.unresolved_digests("ch2") == {digest("unmatched")}
        assert digest("sha-0") in harness.store.posted.export_posted("ch").hashes
        assert len(harness.store.posted.export_posted("ch").dropbox_content_hashes) == 4
        history = harness.store.browsing.history("ch", None, 10).items
        assert [(e.cycle, e.undone_by) for e in history if e.undone_at] == [(2, "API_TOKEN")]
        assert len(history) == 6  # five posts that stand, one undone
    finally:
        harness.store.close()


def test_a_database_with_posted_state_is_not_overwritten(tmp_path: Path, database_url: str) -> None:
    _sqlite_state(tmp_path)
    assert _migrate(tmp_path, database_url).returncode == 0
    again = _migrate(tmp_path, database_url)
    assert again.returncode != 0
    assert again.stderr.strip().splitlines() == [
        "unposted: the database already holds posted state; refusing to overwrite it"
    ]
    with psycopg.connect(database_url) as db:
        assert db.execute("SELECT count(*) FROM posted").fetchone() == (5,)


def test_the_password_stays_out_of_what_it_prints(tmp_path: Path, database_url: str) -> None:
    _sqlite_state(tmp_path)
    unreachable = "postgresql://unposted:s3cret-pw@127.0.0.1:1/nowhere"
    refused = _migrate(tmp_path, unreachable)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in refused.stderr + refused.stdout


NEAR_CHANNELS = [ChannelDef("ch", "lib"), ChannelDef("close", "lib"), ChannelDef("ch2", "lib2")]
# Another distance for ``close``: its groups wait on the backlog, hashes and all.
CLOSER = [NEAR_CHANNELS[0], ChannelDef("close", "lib", near_duplicate_distance=6), NEAR_CHANNELS[2]]
NEAR_FILES = [image(f"/p/{label}.jpg", label) for label in "abcde"]


def _near_state(state: Path) -> dict[str, Any]:
    """A SQLite state with near-duplicates; returns what its store shows of them."""
    clock = Clock()
    harness = Harness(SqliteStore(state / "unposted.sqlite3", clock=clock), clock, None)
    harness.define(LIBRARIES, NEAR_CHANNELS)
    harness.listing(*NEAR_FILES)
    Hasher(harness).record(
        a=fingerprint(1), b=fingerprint(1, 4), c=fingerprint(1, 8), d=fingerprint(2), e=None
    )
    harness.store.near.split_near_duplicate("ch", digest("c"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.define(LIBRARIES, CLOSER)
    shown = _near_view(harness.store)
    harness.store.close()
    return shown


def _near_view(store: Store) -> dict[str, Any]:
    groups = store.near.near_groups("ch", None, 10).items
    return {
        "groups": [[(m.content_hash, m.leader, m.distance, m.posted) for m in g.members]
                   for g in groups],
        "status": store.reports.channel_status("ch"),
        "library": store.reports.library_status("lib"),
        "backlog": [(w.content_hash, w.hash)
                    for w in store.near.fingerprint_backlog("lib", None, 10)],
        "b": store.browsing.image("ch", digest("b")).item.state,
    }  # fmt: skip


def test_near_duplicates_move_and_keep_their_groups(tmp_path: Path, database_url: str) -> None:
    before = _near_state(tmp_path)
    harness = _moved(tmp_path, database_url, '"fingerprints": 5', '"apart": 2')
    try:
        harness.define(LIBRARIES, CLOSER)
        harness.listing(*NEAR_FILES)
        assert _near_view(harness.store) == before
        assert before["b"] == "near_duplicate" and len(before["backlog"]) == 4
        assert harness.store.near.split_near_duplicate("ch", digest("c")) is False  # still apart
        assert harness.store.reports.channel_status("ch").available == 3
        offered = {harness.pick("ch", dry_run=True) for _ in range(10)}
        assert offered <= {digest("c"), digest("d"), digest("e")}
    finally:
        harness.store.close()


HOOKED = [
    ChannelDef("ch", "lib", notify=("image.posted", "channel.low"), low_water=2),
    ChannelDef("ch2", "lib2"),
]


def _outbox_state(state: Path) -> list[Delivery]:
    """A SQLite state whose outbox holds an event delivered, one failed, one pending, and
    one settled over a week ago; returns the outbox as its store lists it."""
    clock = Clock()
    harness = Harness(SqliteStore(state / "unposted.sqlite3", clock=clock), clock, None)
    harness.define(LIBRARIES, HOOKED)
    harness.listing(*FILES)
    outbox = harness.store.outbox
    for _ in range(3):  # three posts, and channel.low once available falls to 2
        harness.store.selections.mark_posted("ch", harness.pick(), None, None)
    rows = sorted(outbox.deliveries("ch", 10), key=lambda row: row.id)
    assert sorted(row.type for row in rows) == ["channel.low"] + ["image.posted"] * 3
    old, delivered, failed = (row for row in rows if row.type == "image.posted")
    for row, status in ((old, "delivered"), (delivered, "delivered"), (failed, "failed")):
        outbox.settle(row.id, status, 1, time.time(), "HTTP 400" if status == "failed" else None)
    with harness.store._transaction() as db:  # settled longer ago than it is kept
        db.execute("UPDATE outbox SET created = created - 8 * 86400 WHERE id = ?", (old.id,))
    kept = [row for row in outbox.deliveries("ch", 10) if row.id != old.id]
    harness.store.close()
    return kept


def test_the_outbox_moves_with_its_ids(tmp_path: Path, database_url: str) -> None:
    kept = _outbox_state(tmp_path)
    harness = _moved(tmp_path, database_url, '"outbox": 3')
    try:
        harness.define(LIBRARIES, HOOKED)
        outbox = harness.store.outbox
        assert outbox.deliveries("ch", 10) == kept  # ids, payloads, statuses, attempts
        by_status = {row.status: row for row in kept}
        assert sorted(by_status) == ["delivered", "failed", "pending"] and len(kept) == 3
        assert outbox.head("ch") == by_status["pending"]  # channel.low, delivered next
        harness.listing(*FILES)
        harness.store.selections.mark_posted("ch", harness.pick(), None, None)
        latest = outbox.deliveries("ch", 1)[0]  # later events follow the copied ids
        assert latest.type == "image.posted" and latest.id > max(row.id for row in kept)
        assert [row.type for row in outbox.deliveries("ch", 10)].count("channel.low") == 1
        failed = by_status["failed"]
        assert outbox.replay("ch", failed.id).id == failed.id  # the same webhook-id
    finally:
        harness.store.close()
