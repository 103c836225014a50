"""A first listing built set-wise, on both stores: interrupted at any page, it resumes and
ends with the catalog an uninterrupted listing makes; later catch-ups stay incremental.

An interruption is a batch that never commits, as when the process dies before the
commit: the store underneath is the real one, reopened afterwards as a restart would.
Between the interruption and the resumption the folder changes (deletions, a folder
removed, a modification, a move, additions), so the resumed listing also applies
removals to what it staged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from app.dropbox.client import DropboxClient
from app.sync.catch_up import BATCH_ENTRIES, CatchUp, CatchUpSummary
from emulator import Emulator, EmulatorServer
from state.postgres import PostgresStore
from state.sqlite import SqliteStore
from state.store import CatalogSync, LibraryDef, PageStats, Store
from tests.conftest import MakeSettings
from tests.integration.conftest import FAST_RETRY
from tests.integration.test_catch_up import KINDS, truth
from tests.stores import DEFAULTS
from tests.waiting import wait_until

LIBRARY = LibraryDef("default", "/Photos", recursive=True)
PAGES = 3  # 2,000 entries a page: the tree below lists in three


class Interrupted(Exception):
    """The process "died" before this batch committed."""


class StopsBefore:
    """The real store's catalog role, except that its ``commit``-th batch never commits."""

    def __init__(self, store: Store, commit: int) -> None:
        self.catalog, self.left = store.catalog, commit

    def __getattr__(self, name: str) -> Any:
        return getattr(self.catalog, name)

    def apply_page(self, *args: Any) -> PageStats:
        self.left -= 1
        if self.left == 0:
            raise Interrupted
        return self.catalog.apply_page(*args)


class Stores:
    """The stores a test opens by name (a SQLite file, or a database of its own), each
    closed once: by ``restart``, which opens it again, or at the end."""

    def __init__(self, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.backend, self.tmp_path, self.request = backend, tmp_path, request
        self.urls: dict[str, str] = {}
        self.open: list[Store] = []

    def __call__(self, name: str) -> Store:
        store: Store
        if self.backend == "sqlite":
            store = SqliteStore(self.tmp_path / name / "unposted.sqlite3")
        else:
            server = self.request.getfixturevalue("postgres_server")
            store = PostgresStore(self.urls.setdefault(name, server.fresh_database()), pool_size=4)
        store.define([LIBRARY], DEFAULTS[1])
        self.open.append(store)
        return store

    def restart(self, store: Store, name: str) -> Store:
        self.close(store)
        return self(name)

    def close(self, store: Store) -> None:
        self.open.remove(store)
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    stores = Stores(request.param, tmp_path, request)
    yield stores
    for store in list(stores.open):
        stores.close(store)


def tree(emulator: Emulator) -> None:
    """About 5,000 files in three pages: duplicates, sidecars, subfolders, an empty image."""
    emulator.bulk_generate("/Photos", count=4_000, ext=".jpg", size=64, duplicate_every=10)
    for n in range(300):
        emulator.put_file(f"/Photos/sub{n % 3}/deep/p{n}.jpg", f"deep {n}".encode())
        emulator.put_file(f"/Photos/sub{n % 3}/deep/p{n}.txt", f"caption {n}".encode())
    emulator.put_file("/Photos/gone/g.jpg", b"in a folder that goes")
    emulator.put_file("/Photos/empty.jpg", b"")
    emulator.put_file("/Photos/notes.pdf", b"not an image")


def change(emulator: Emulator) -> None:
    """What happens to the folder while the listing is interrupted."""
    emulator.delete("/Photos/img_000001.jpg")  # listed on the first page
    emulator.delete("/Photos/gone")
    emulator.put_file("/Photos/img_000002.jpg", b"modified")
    emulator.move("/Photos/sub1/deep/p1.jpg", "/Photos/moved.jpg")
    emulator.delete("/Photos/sub0/deep")
    emulator.put_file("/Photos/sub0/deep", b"a file where a folder was")  # not an image
    for n in range(50):
        emulator.put_file(f"/Photos/new/n{n}.png", f"new {n}".encode())


def catalog(store: Store) -> tuple[Any, ...]:
    """Everything the catalog says about the library and its channel."""
    library, channel = (
        store.reports.library_status("default"),
        store.reports.channel_status("default"),
    )
    kept = (library.images, library.unique_images, library.skipped, library.pending,
            library.ready, library.listing, library.awaiting_fingerprint)  # fmt: skip
    return store.reports.catalog_files("default"), kept, (channel.available, channel.posted)


def catch_up(
    store: Store | StopsBefore,
    emulator: Emulator,
    server: EmulatorServer,
    make_settings: MakeSettings,
    batch_entries: int = 1,
) -> CatchUp:
    settings = make_settings(
        dropbox_base_url=server.base_url, dropbox_access_token=emulator.access_token
    )
    dropbox = DropboxClient(settings, retry=FAST_RETRY)
    catalog = store if isinstance(store, StopsBefore) else store.catalog
    return CatchUp(LIBRARY, KINDS, cast(CatalogSync, catalog), dropbox, batch_entries=batch_entries)


def listed_by_one_run(
    emulator: Emulator, open_store: Stores, make: MakeSettings, posted: str
) -> tuple[Any, ...]:
    """The catalog of one uninterrupted first listing of the folder as it is now."""
    store = open_store("uninterrupted")
    store.selections.mark_posted("default", posted, None, None)
    with EmulatorServer(emulator) as server:
        catch_up(store, emulator, server, make).run()
    return catalog(store)


@pytest.mark.parametrize("page", range(1, PAGES + 1))
def test_a_first_listing_interrupted_at_any_page_ends_as_one_uninterrupted(
    page: int, open_store: Stores, make_settings: MakeSettings
) -> None:
    emulator = Emulator()
    tree(emulator)
    store = open_store("interrupted")
    posted = truth(emulator)["/photos/img_000003.jpg"]
    store.selections.mark_posted("default", posted, None, None)  # posted before the catalog existed
    with EmulatorServer(emulator) as server:
        stopped = StopsBefore(store, page)
        with pytest.raises(Interrupted):
            catch_up(stopped, emulator, server, make_settings).run()
        assert store.reports.catalog_files("default") == {}  # staged, not built: nothing half-made
        assert not store.reports.library_status("default").ready
        change(emulator)
        store = open_store.restart(store, "interrupted")
        catch_up(store, emulator, server, make_settings).run()
    # Resumed from the cursor of the last batch that committed, not started over.
    assert emulator.counters.calls("files/list_folder") == (2 if page == 1 else 1)
    assert store.reports.catalog_files("default") == truth(emulator, recursive=True)
    assert catalog(store) == listed_by_one_run(emulator, open_store, make_settings, posted)
    ready, posts = catalog(store)[1][4], catalog(store)[2][1]
    assert ready and posts == 1  # the post made before the catalog existed is kept out
    kept_as_counted(store, emulator)


def test_what_arrived_is_committed_while_the_next_page_is_on_its_way(
    open_store: Stores, make_settings: MakeSettings
) -> None:
    """Dropbox slower than the store: the first page is staged, with its cursor, while the
    second is still being fetched, although a batch could hold the whole listing."""
    emulator = Emulator()
    tree(emulator)
    store = open_store("slow-dropbox")
    committed: list[int] = []
    ran: list[CatchUpSummary] = []
    with EmulatorServer(emulator) as server:
        run = catch_up(store, emulator, server, make_settings, batch_entries=BATCH_ENTRIES)
        second_page = emulator.faults.hold("files/list_folder/continue", times=1)
        listing = threading.Thread(
            target=lambda: ran.append(run.run(lambda s: committed.append(s.entries)))
        )
        listing.start()
        try:
            wait_until(lambda: committed)
            wait_until(lambda: emulator.counters.in_flight("files/list_folder/continue"))
            assert committed == [2_000]  # and the second page held at Dropbox meanwhile
            assert store.catalog.sync_state("default").cursor is not None  # resumable there
        finally:
            second_page.release()
            listing.join(timeout=30)
    assert len(committed) >= 2 and committed[-1] == ran[0].entries < BATCH_ENTRIES
    assert store.reports.catalog_files("default") == truth(emulator, recursive=True)
    assert store.reports.library_status("default").ready


def kept_as_counted(store: Store, emulator: Emulator) -> None:
    """The counts ``/status`` reads are the rows' (a first listing makes them once, not
    row by row): images, contents, files skipped (the empty image), the hashing backlog,
    the pool."""
    files = emulator.files("/Photos", recursive=True).values()
    kinds = [(KINDS.kind_of(meta.name), meta) for meta in files]
    images = [meta.content_hash for kind, meta in kinds if kind == "image" and meta.size]
    library = store.reports.library_status("default")
    assert (library.images, library.unique_images) == (len(images), len(set(images)))
    assert library.skipped == 1
    assert library.awaiting_fingerprint == len(set(images))  # none fingerprinted yet
    assert store.reports.channel_status("default").available == len(set(images)) - 1


def test_later_catch_ups_are_incremental_and_a_restart_does_not_list_again(
    open_store: Stores, make_settings: MakeSettings
) -> None:
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=100, ext=".jpg", size=64)
    store = open_store("service")
    with EmulatorServer(emulator) as server:
        catch_up(store, emulator, server, make_settings).run()
        emulator.create_folder("/Photos/more")
        emulator.bulk_generate("/Photos/more", count=4_500, ext=".jpg", size=64, seed=1)
        store = open_store.restart(store, "service")  # after the completed listing
        with pytest.raises(Interrupted):
            catch_up(StopsBefore(store, 2), emulator, server, make_settings).run()
        # The first page of changes is in the catalog already, with its cursor.
        first_page = store.reports.catalog_files("default")
        assert 100 < len(first_page) < 4_600 and store.reports.library_status("default").ready
        catch_up(store, emulator, server, make_settings).run()
        assert emulator.counters.calls("files/list_folder") == 1  # never listed again
    assert store.reports.catalog_files("default") == truth(emulator, recursive=True)
    assert store.reports.library_status("default").unique_images == 4_600
    assert store.reports.channel_status("default").available == 4_600
