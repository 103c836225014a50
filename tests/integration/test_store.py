"""SqliteStore on a real file: catalog upkeep, the pool, leases, posted state, schema."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from state.changes import DeletedEntry, Entry, FileEntry, FileKinds, FolderEntry, plan_page
from state.errors import (
    FileNotFound,
    InvalidInput,
    LeaseConflict,
    LeaseNotFound,
    NoImages,
    NoNewImages,
    SchemaTooNew,
    StoreCorrupt,
)
from state.sqlite import SqliteStore
from state.sqlite.schema import SCHEMA_VERSION, migrate
from state.store import LegacyMatch, SelectRequest

KINDS = FileKinds.of([".jpg", ".png"], [".txt"])


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def image(path: str, content: str, modified: str = "2026-01-01T00:00:00Z") -> FileEntry:
    name = path.rsplit("/", 1)[-1]
    return FileEntry(
        path.lower(),
        path,
        name,
        f"id:{path}",
        "0123456789a",
        10,
        modified,
        modified,
        digest(content) if content else None,
    )


def gone(path: str) -> DeletedEntry:
    return DeletedEntry(path.lower(), path, path.rsplit("/", 1)[-1])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteStore:
    opened = SqliteStore(tmp_path / "db.sqlite3", clock=clock, rng=random.Random(7))
    yield opened  # type: ignore[misc]
    opened.close()


def listing(store: SqliteStore, *entries: Entry, cursor: str = "c1") -> None:
    store.begin_listing()
    store.apply_page(plan_page(entries, KINDS), cursor, has_more=False)


def change(store: SqliteStore, *entries: Entry, cursor: str = "c2") -> None:
    store.apply_page(plan_page(entries, KINDS), cursor, has_more=False)


def pick(store: SqliteStore, **kwargs: object) -> str:
    request = SelectRequest(policy="random", lease_seconds=60, **kwargs)  # type: ignore[arg-type]
    return store.select(request).content_hash


def test_not_ready_until_a_listing_completes(store: SqliteStore) -> None:
    assert store.sync_state().ready_at is None
    store.begin_listing()
    store.apply_page(plan_page([image("/p/a.jpg", "a")], KINDS), "c1", has_more=True)
    assert store.sync_state().ready_at is None
    assert store.sync_state().cursor == "c1"
    store.apply_page([], "c2", has_more=False)
    state = store.sync_state()
    assert state.ready_at is not None and state.cursor == "c2" and not state.listing


def test_duplicates_collapse_to_one_image(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "x"), image("/p/sub/b.JPG", "x"), image("/p/c.png", "y"))
    status = store.status()
    assert (status.images, status.unique_images, status.available) == (3, 2, 2)
    chosen = store.select(SelectRequest(policy="name", lease_seconds=60))
    assert chosen.path == "/p/a.jpg" and chosen.duplicates == ("/p/sub/b.JPG",)


def test_sidecars_travel_with_their_image(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "x"), image("/p/a.txt", ""), image("/p/b.txt", ""))
    chosen = store.select(SelectRequest(policy="random", lease_seconds=60))
    assert [car.path for car in chosen.sidecars] == ["/p/a.txt"]
    assert store.status().images == 1


def test_modification_replaces_content(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "old"))
    change(store, image("/p/a.jpg", "new"))
    assert pick(store) == digest("new")
    assert store.status().unique_images == 1


def test_deleting_a_folder_removes_its_files_only(store: SqliteStore) -> None:
    listing(
        store,
        image("/p/sub/a.jpg", "a"),
        image("/p/sub/deep/b.jpg", "b"),
        image("/p/subway.jpg", "c"),
    )
    change(store, gone("/p/sub"))
    assert store.status().unique_images == 1
    assert pick(store) == digest("c")


def test_a_file_replacing_a_folder_drops_its_children(store: SqliteStore) -> None:
    listing(store, image("/p/x.jpg/inner.jpg", "inner"))
    change(store, image("/p/x.jpg", "file"))
    assert store.status().unique_images == 1 and pick(store) == digest("file")


def test_a_folder_replacing_a_file_drops_the_file(store: SqliteStore) -> None:
    listing(store, image("/p/x.jpg", "file"))
    change(store, FolderEntry("/p/x.jpg", "/p/x.jpg", "x.jpg"))
    assert store.status().unique_images == 0


def test_a_move_is_a_delete_and_an_add(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"))
    change(store, gone("/p/a.jpg"), image("/p/renamed.jpg", "a"))
    chosen = store.select(SelectRequest(policy="random", lease_seconds=60))
    assert chosen.path == "/p/renamed.jpg" and store.status().images == 1


def test_files_without_content_hash_are_counted_not_offered(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", ""))
    assert store.status().without_content_hash == 1
    with pytest.raises(NoImages):
        pick(store)


def test_relisting_sweeps_what_is_gone_and_keeps_posted(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), image("/p/c.jpg", "c"))
    store.mark_posted(digest("a"), None, None)
    store.begin_listing()
    store.apply_page(plan_page([image("/p/a.jpg", "a")], KINDS), "r1", has_more=True)
    # Mid-listing, the old catalog keeps serving.
    assert store.status().unique_images == 3
    store.apply_page(plan_page([image("/p/c.jpg", "c")], KINDS), "r2", has_more=False)
    status = store.status()
    assert (status.unique_images, status.available, status.posted) == (2, 1, 1)
    assert pick(store) == digest("c")


def test_random_policy_is_uniform(store: SqliteStore) -> None:
    listing(store, *(image(f"/p/{n}.jpg", str(n)) for n in range(10)))
    counts: Counter[str] = Counter()
    for _ in range(2000):
        counts[pick(store, dry_run=True)] += 1
    assert len(counts) == 10
    assert min(counts.values()) > 120 and max(counts.values()) < 290  # expected 200 each


def test_ordered_policies(store: SqliteStore) -> None:
    listing(
        store,
        image("/p/b.jpg", "b", "2026-01-02T00:00:00Z"),
        image("/p/a.jpg", "a", "2026-01-03T00:00:00Z"),
        image("/p/c.jpg", "c", "2026-01-01T00:00:00Z"),
    )
    by = {
        policy: store.select(SelectRequest(policy=policy, lease_seconds=60, dry_run=True)).name
        for policy in ("oldest", "newest", "name")
    }
    assert by == {"oldest": "c.jpg", "newest": "a.jpg", "name": "a.jpg"}


def test_leases_exhaust_then_expire(store: SqliteStore, clock: Clock) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    taken = {pick(store), pick(store)}
    assert taken == {digest("a"), digest("b")}
    with pytest.raises(NoNewImages, match="2 leased"):
        pick(store)
    clock.now += 61
    assert store.status().available == 2
    assert pick(store) in taken


def test_release_returns_the_image(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"))
    lease = store.select(SelectRequest(policy="random", lease_seconds=60)).lease
    assert lease is not None
    store.release(lease.id)
    assert pick(store) == digest("a")
    with pytest.raises(LeaseNotFound):
        store.release("no-such-lease")


def test_posted_is_never_offered_again_even_under_a_new_name(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    first = store.select(SelectRequest(policy="name", lease_seconds=60))
    assert first.lease is not None
    store.mark_posted(first.content_hash, first.lease.id, None)
    store.mark_posted(first.content_hash, first.lease.id, None)  # idempotent
    change(store, gone("/p/a.jpg"), image("/p/copy-of-a.jpg", "a"))
    assert pick(store) == digest("b")
    with pytest.raises(NoNewImages):
        pick(store)
    assert store.status().posted == 1


def test_posted_with_a_lease_for_another_image_changes_nothing(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = store.select(SelectRequest(policy="name", lease_seconds=60)).lease
    assert lease is not None
    with pytest.raises(InvalidInput):
        store.mark_posted(digest("b"), lease.id, None)
    assert store.status().posted == 0


def test_select_by_name(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/sub/b.jpg", "b"))
    assert (
        store.select(SelectRequest("random", 60, name="B.JPG", dry_run=True)).path == "/p/sub/b.jpg"
    )
    relative = SelectRequest("random", 60, name="sub/b.jpg", folder_lower="/p")
    chosen = store.select(relative)
    assert chosen.lease is not None
    with pytest.raises(LeaseConflict):
        store.select(relative)
    store.mark_posted(chosen.content_hash, None, None)
    again = store.select(relative)
    assert again.posted_at is not None and again.lease is None
    for trick in ("../a.jpg", "/etc/passwd", "nope.jpg", "", "a.jpg\x00"):
        with pytest.raises(FileNotFound):
            store.select(SelectRequest("random", 60, name=trick, folder_lower="/p"))


def test_preview_leaves_the_file_byte_for_byte(store: SqliteStore, clock: Clock) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    pick(store)
    clock.now += 120  # an expired lease the preview must not reclaim
    store.close()
    before = store.path.read_bytes()
    reopened = SqliteStore(store.path, clock=clock)
    for policy in ("random", "oldest", "newest", "name"):
        reopened.select(SelectRequest(policy=policy, lease_seconds=60, dry_run=True))  # type: ignore[arg-type]
    reopened.close()
    assert store.path.read_bytes() == before


def test_reset_posted_makes_everything_available(store: SqliteStore) -> None:
    listing(store, *(image(f"/p/{n}.jpg", str(n)) for n in range(5)))
    for n in range(3):
        store.mark_posted(digest(str(n)), None, digest(f"sha{n}"))
    cleared = store.reset_posted()
    assert len(cleared.dropbox_content_hashes) == 3 and len(cleared.hashes) == 3
    assert store.status().available == 5 and store.status().posted == 0
    assert len({pick(store) for _ in range(5)}) == 5


def test_legacy_import_and_export(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"))
    store.import_posted([LegacyMatch(digest("a"), digest("sha-a"))], [digest("unresolved")])
    exported = store.export_posted()
    assert exported.dropbox_content_hashes == (digest("a"),)
    assert set(exported.hashes) == {digest("sha-a"), digest("unresolved")}
    assert store.unresolved_digests() == {digest("unresolved")}
    with pytest.raises(NoNewImages):
        pick(store)


def test_an_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, str(path), target=1)
    old.execute(
        "INSERT INTO posted VALUES (?, NULL, '2025-01-01T00:00:00Z', 'api')", (digest("a"),)
    )
    old.close()
    store = SqliteStore(path)
    assert store.export_posted().dropbox_content_hashes == (digest("a"),)
    assert store.unresolved_digests() == set()  # a table version 2 added
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="Upgrade unposted"):
        SqliteStore(path)


def test_a_torn_database_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "torn.sqlite3"
    store = SqliteStore(path)
    listing(store, *(image(f"/p/{n}.jpg", str(n)) for n in range(2000)))
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorrupt):
        SqliteStore(path)
    assert path.read_bytes() == data[: len(data) // 2]
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreCorrupt):
        SqliteStore(path)


def test_a_lease_survives_a_move_split_across_two_pages(store: SqliteStore) -> None:
    listing(store, image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    held = store.select(SelectRequest(policy="name", lease_seconds=60))
    assert held.lease is not None and held.name == "a.jpg"
    store.apply_page(plan_page([gone("/p/a.jpg")], KINDS), "c2", has_more=True)
    store.apply_page(plan_page([image("/p/moved/a.jpg", "a")], KINDS), "c3", has_more=False)
    assert pick(store) == digest("b")  # a.jpg is still leased, wherever it went
    with pytest.raises(NoNewImages, match="2 leased"):
        pick(store)
    store.release(held.lease.id)
    assert pick(store) == digest("a")


def test_a_leased_image_that_never_comes_back_leaves_with_its_lease(
    store: SqliteStore, clock: Clock
) -> None:
    listing(store, image("/p/a.jpg", "a"))
    lease = store.select(SelectRequest(policy="random", lease_seconds=60)).lease
    assert lease is not None
    change(store, gone("/p/a.jpg"))
    assert store.status().leased == 1
    store.release(lease.id)
    assert store.status().unique_images == 0
    with pytest.raises(NoImages):
        pick(store)
