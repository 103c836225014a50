"""Console sessions in the store, on every backend: open until ended or expired, ended
for everyone at once, expired records cleaned up, all surviving a reopen."""

from __future__ import annotations

from state.postgres import PostgresStore
from state.sqlite import SqliteStore
from tests.contract.conftest import Harness
from tests.sqlite_files import opened

COUNT = "SELECT count(*) FROM console_sessions"


def records(harness: Harness) -> int:
    """Rows in the sessions table, expired or not: what the clean-up keeps down."""
    store = harness.store
    if isinstance(store, SqliteStore):
        with opened(store.path) as db:
            return int(db.execute(COUNT).fetchone()[0])
    assert isinstance(store, PostgresStore)
    return int(store._read(lambda db: db.execute(COUNT).fetchone())[0])  # type: ignore[index]


def test_a_session_is_open_until_it_ends(harness: Harness) -> None:
    store, now = harness.store, harness.clock.now
    store.sessions.open_session("r1", "holder", now + 60)
    store.sessions.open_session("r2", "holder", now + 60)
    assert store.sessions.session_open("r1") and store.sessions.session_open("r2")
    assert not store.sessions.session_open("never-opened")
    store.sessions.end_session("r1")
    store.sessions.end_session("r1")  # ending twice is no error
    assert not store.sessions.session_open("r1") and harness.reopen().store.sessions.session_open(
        "r2"
    )


def test_a_session_expires_and_its_record_goes_at_the_next_sign_in(harness: Harness) -> None:
    store, now = harness.store, harness.clock.now
    for n in range(5):
        store.sessions.open_session(f"old{n}", "holder", now + 60)
    harness.clock.now += 60
    assert not store.sessions.session_open("old0")
    assert records(harness) == 5
    store.sessions.open_session("new", "holder", harness.clock.now + 60)
    assert records(harness) == 1 and store.sessions.session_open("new")


def test_every_session_ends_at_once(harness: Harness) -> None:
    store, now = harness.store, harness.clock.now
    for n in range(3):
        store.sessions.open_session(f"r{n}", f"holder{n}", now + 60)
    assert store.sessions.end_every_session() == 3
    assert not any(store.sessions.session_open(f"r{n}") for n in range(3))
    assert store.sessions.end_every_session() == 0
