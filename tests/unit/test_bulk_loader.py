"""The benchmarks' bulk loader writes a catalog the store treats as its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from state.changes import RemovePath
from state.errors import InvalidInput
from state.sqlite import SqliteStore
from state.sqlite.bulk import bulk_load, content_hash_of, name_of
from state.store import ChannelDef, LibraryDef, SelectRequest
from tests.sqlite_files import opened

COUNT = 500
PREVIEW = SelectRequest(60, dry_run=True)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "unposted.sqlite3"
    loaded = bulk_load(path, COUNT, cursor="AAEcursor", folder="/Photos", seed=7, sidecar_every=10)
    assert (loaded.images, loaded.files) == (COUNT, COUNT + COUNT // 10)
    return path


@pytest.fixture
def store(database: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(database)
    yield store
    store.close()


def _slots(path: Path) -> list[int]:
    with opened(path) as db:
        return [row[0] for row in db.execute("SELECT slot FROM queue WHERE slot IS NOT NULL")]


def test_the_catalog_is_caught_up_and_every_image_is_available(store: SqliteStore) -> None:
    status, state = store.reports.library_status("default"), store.catalog.sync_state("default")
    counts = store.reports.channel_status("default")
    assert (status.images, status.unique_images, counts.available) == (COUNT, COUNT, COUNT)
    assert (counts.posted, counts.leased, status.without_content_hash) == (0, 0, 0)
    assert state.cursor == "AAEcursor" and state.ready_at is not None
    assert not state.listing and state.last_sync_at is None


def test_pool_slots_are_dense(database: Path) -> None:
    assert sorted(_slots(database)) == list(range(COUNT))


@pytest.mark.parametrize("waits", [False, True])
def test_the_channel_defined_as_loaded_finds_nothing_to_change(tmp_path: Path, waits: bool) -> None:
    """Defined as the loader was told the service defines it (waiting for fingerprints:
    the service's default), the channel keeps its settings and its pool: a start does
    not renumber a million slots."""
    path = tmp_path / "unposted.sqlite3"
    bulk_load(path, COUNT, cursor="AAEcursor", folder="/Photos", await_fingerprints=waits)

    def channel_and_slots() -> tuple[object, ...]:
        with opened(path) as db:
            row = db.execute("SELECT * FROM channels WHERE name = 'default'").fetchone()
            slots = db.execute("SELECT content_hash, slot FROM queue ORDER BY content_hash")
            return row, slots.fetchall()

    loaded = channel_and_slots()
    store = SqliteStore(path)
    store.define(
        [LibraryDef("default", "/Photos")],
        [ChannelDef("default", "default", await_fingerprints=waits)],
    )
    store.close()
    assert channel_and_slots() == loaded


def test_the_schema_matches_a_store_created_the_usual_way(database: Path, tmp_path: Path) -> None:
    SqliteStore(tmp_path / "fresh" / "unposted.sqlite3").close()

    def schema(path: Path) -> set[tuple[str, str]]:
        with opened(path) as db:
            rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
            return set(rows)

    assert schema(database) == schema(tmp_path / "fresh" / "unposted.sqlite3")
    with opened(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_selection_by_name_finds_the_image_and_its_sidecar(store: SqliteStore) -> None:
    chosen = store.selections.select("default", SelectRequest(60, dry_run=True, name=name_of(10)))
    assert chosen.path == f"/Photos/{name_of(10)}"
    assert chosen.content_hash == content_hash_of(7, 10)
    assert [ref.name for ref in chosen.sidecars] == ["img_0000010.txt"]


def test_random_selection_leases_and_release_restores(store: SqliteStore) -> None:
    hashes = {content_hash_of(7, index) for index in range(COUNT)}
    assert store.selections.select("default", PREVIEW).content_hash in hashes
    leased = store.selections.select("default", SelectRequest(60))
    assert leased.lease is not None
    assert store.reports.channel_status("default").available == COUNT - 1
    store.selections.release("default", leased.lease.id)
    assert store.reports.channel_status("default").available == COUNT


def test_catalog_changes_apply_on_top_of_a_loaded_catalog(
    store: SqliteStore, database: Path
) -> None:
    store.catalog.apply_page("default", [RemovePath(f"/photos/{name_of(3)}")], "AAEnext", False)
    assert store.reports.library_status("default").unique_images == COUNT - 1
    assert sorted(_slots(database)) == list(range(COUNT - 1))
    assert store.catalog.sync_state("default").cursor == "AAEnext"


def test_a_library_that_holds_files_is_refused_another_is_added(database: Path) -> None:
    with pytest.raises(InvalidInput):
        bulk_load(database, 10, cursor="AAEcursor")
    bulk_load(database, 10, cursor="AAEsecond", library="second", channel="second")
    store = SqliteStore(database)
    try:
        assert store.reports.channel_status("second").available == 10
        assert store.reports.channel_status("default").available == COUNT
    finally:
        store.close()


def test_an_empty_load_is_a_ready_empty_catalog(tmp_path: Path) -> None:
    bulk_load(tmp_path / "empty.sqlite3", 0, cursor="AAEcursor")
    store = SqliteStore(tmp_path / "empty.sqlite3")
    try:
        assert store.reports.library_status("default").images == 0
        assert store.catalog.sync_state("default").ready_at is not None
    finally:
        store.close()
