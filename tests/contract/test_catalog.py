"""The store contract, catalog side: pages, listings, libraries and where they come from."""

from __future__ import annotations

import pytest

from state.changes import FolderEntry, plan_page
from state.errors import NoImages, NotReady
from state.store import LibraryDef
from tests.contract.conftest import CHANNELS, KINDS, LIBRARIES, Harness, digest, gone, image


def test_not_ready_until_a_listing_completes(harness: Harness) -> None:
    store = harness.store
    assert store.catalog.sync_state("lib").ready_at is None
    store.catalog.begin_listing("lib")
    store.catalog.apply_page("lib", plan_page([image("/p/a.jpg", "a")], KINDS), "c1", has_more=True)
    assert (
        store.catalog.sync_state("lib").ready_at is None
        and store.catalog.sync_state("lib").cursor == "c1"
    )
    with pytest.raises(NotReady):
        harness.pick()
    store.catalog.apply_page("lib", [], "c2", has_more=False)
    state = store.catalog.sync_state("lib")
    assert state.ready_at is not None and state.cursor == "c2" and not state.listing


def test_the_last_page_of_a_catch_up_stamps_its_sync(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    listed = harness.store.catalog.sync_state("lib").last_sync_at
    assert listed is not None
    harness.clock.now += 60
    more = plan_page([image("/p/b.jpg", "b")], KINDS)
    harness.store.catalog.apply_page("lib", more, "c2", has_more=True)
    assert harness.store.catalog.sync_state("lib").last_sync_at == listed
    harness.store.catalog.apply_page("lib", [], "c3", has_more=False)
    state = harness.store.catalog.sync_state("lib")
    assert state.last_sync_at is not None and state.last_sync_at > listed and state.cursor == "c3"
    assert harness.store.catalog.sync_state("lib2").last_sync_at is None


def test_duplicates_collapse_to_one_image(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "x"), image("/p/sub/b.JPG", "x"), image("/p/c.png", "y"))
    status = harness.store.reports.library_status("lib")
    assert (status.images, status.unique_images) == (3, 2)
    assert harness.store.reports.channel_status("ch").available == 2


def test_sidecars_travel_with_their_image(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "x"), image("/p/a.txt", ""), image("/p/b.txt", ""))
    assert [car.path for car in harness.select().sidecars] == ["/p/a.txt"]
    assert harness.store.reports.library_status("lib").images == 1


def test_modification_replaces_content(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "old"))
    harness.change(image("/p/a.jpg", "new"))
    assert harness.pick() == digest("new")
    assert harness.store.reports.library_status("lib").unique_images == 1


def test_deleting_a_folder_removes_its_files_only(harness: Harness) -> None:
    harness.listing(
        image("/p/sub/a.jpg", "a"), image("/p/sub/deep/b.jpg", "b"), image("/p/subway.jpg", "c")
    )
    harness.change(gone("/p/sub"))
    assert harness.store.reports.library_status("lib").unique_images == 1
    assert harness.pick() == digest("c")


def test_a_file_replacing_a_folder_drops_its_children(harness: Harness) -> None:
    harness.listing(image("/p/x.jpg/inner.jpg", "inner"))
    harness.change(image("/p/x.jpg", "file"))
    assert harness.store.reports.library_status("lib").unique_images == 1
    assert harness.pick() == digest("file")


def test_a_folder_replacing_a_file_drops_the_file(harness: Harness) -> None:
    harness.listing(image("/p/x.jpg", "file"))
    harness.change(FolderEntry("/p/x.jpg", "/p/x.jpg", "x.jpg"))
    assert harness.store.reports.library_status("lib").unique_images == 0


def test_a_move_is_a_delete_and_an_add(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.change(gone("/p/a.jpg"), image("/p/renamed.jpg", "a"))
    assert harness.select().path == "/p/renamed.jpg"
    assert harness.store.reports.library_status("lib").images == 1


def test_files_without_content_hash_are_counted_not_offered(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", ""))
    assert harness.store.reports.library_status("lib").without_content_hash == 1
    with pytest.raises(NoImages):
        harness.pick()


def test_empty_and_undownloadable_files_are_skipped_not_offered(harness: Harness) -> None:
    harness.listing(
        image("/p/empty1.jpg", "", size=0),
        image("/p/empty2.jpg", "", size=0),
        image("/p/cloud.jpg", "cloud", downloadable=False),
        image("/p/real.jpg", "real"),
    )
    status = harness.store.reports.library_status("lib")
    assert (status.images, status.unique_images, status.skipped) == (1, 1, 3)
    assert harness.pick() == digest("real")


def test_relisting_sweeps_what_is_gone_and_keeps_posted(harness: Harness) -> None:
    store = harness.store
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), image("/p/c.jpg", "c"))
    store.selections.mark_posted("ch", digest("a"), None, None)
    store.catalog.begin_listing("lib")
    store.catalog.apply_page("lib", plan_page([image("/p/a.jpg", "a")], KINDS), "r1", has_more=True)
    assert store.reports.library_status("lib").unique_images == 3  # the old catalog keeps serving
    store.catalog.apply_page(
        "lib", plan_page([image("/p/c.jpg", "c")], KINDS), "r2", has_more=False
    )
    counts = store.reports.channel_status("ch")
    assert store.reports.library_status("lib").unique_images == 2
    assert (counts.available, counts.posted) == (1, 1)
    assert harness.pick() == digest("c")


def test_libraries_keep_their_catalogs_apart(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.listing(image("/q/b.jpg", "b"), library="lib2")
    assert harness.pick("ch") == digest("a")
    assert harness.pick("ch2") == digest("b")
    assert harness.store.reports.catalog_files("lib") == {"/p/a.jpg": digest("a")}
    assert harness.store.catalog.sync_state("lib2").cursor == "c1"


def test_a_library_on_another_folder_is_relisted_from_scratch(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    moved = [LibraryDef("lib", "/elsewhere"), LIBRARIES[1]]
    relisted = harness.reopen().define(moved, CHANNELS)
    assert [r.library for r in relisted] == ["lib"] and "/elsewhere" in relisted[0].now
    state = harness.store.catalog.sync_state("lib")
    assert state.ready_at is None and state.cursor is None and state.listing
    with pytest.raises(NotReady):
        harness.pick()
    harness.store.catalog.apply_page(
        "lib", plan_page([image("/elsewhere/c.jpg", "c")], KINDS), "n", False
    )
    assert harness.store.reports.catalog_files("lib") == {"/elsewhere/c.jpg": digest("c")}
    assert harness.store.posted.export_posted("ch").dropbox_content_hashes == (digest("a"),)
    assert harness.define(moved, CHANNELS) == []  # the same source again: nothing to do


def test_recursion_is_part_of_the_source(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    relisted = harness.define([LibraryDef("lib", "/p", recursive=True), LIBRARIES[1]], CHANNELS)
    assert [r.library for r in relisted] == ["lib"]


def test_credentials_of_another_account_relist_from_scratch(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    assert harness.store.catalog.learn_account("lib", "dbid:first") is None
    assert harness.store.catalog.learn_account("lib", "dbid:first") is None
    relisting = harness.store.catalog.learn_account("lib", "dbid:second")
    assert relisting is not None and "dbid:second" in relisting.now
    assert harness.store.catalog.sync_state("lib").ready_at is None
    assert harness.store.catalog.sync_state("lib").account_id == "dbid:second"
