"""The store contract, folders: each queue row knows the first-level subfolder of its
content's representative file (``state.rules.folder_of``), as Dropbox folds it, with
``"."`` for the files directly in the library's folder; kept as the representative file
changes, whether the catalog was built by a first listing or page by page."""

from __future__ import annotations

import psycopg
import pytest

from state.postgres import PostgresStore
from state.rules import folder_of
from state.sqlite import SqliteStore
from tests.contract.conftest import Harness, digest, gone, image
from tests.sqlite_files import opened

FOLDERS = (
    "SELECT q.content_hash, q.folder, i.folder FROM queue AS q"
    " JOIN channels AS c ON c.id = q.channel_id"
    " JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
    " WHERE c.name = 'ch'"
)


def folders(harness: Harness) -> dict[str, str]:
    """Each content's folder on the channel's queue row (and the same on ``images``)."""
    store = harness.store
    if isinstance(store, SqliteStore):
        with opened(store.path) as db:
            rows = db.execute(FOLDERS).fetchall()
    else:
        assert isinstance(store, PostgresStore)
        rows = store._read(lambda db: db.execute(FOLDERS).fetchall())  # type: ignore[assignment]
    assert all(row[1] == row[2] for row in rows)
    return {row[0]: row[1] for row in rows}


def test_folder_of_a_path() -> None:
    assert folder_of("/p", "/p/a.jpg") == "."
    assert folder_of("/p", "/p/travel/a.jpg") == "travel"
    assert folder_of("/p", "/p/travel/2024/deep/a.jpg") == "travel"
    assert folder_of("", "/a.jpg") == "."
    assert folder_of("", "/food/a.jpg") == "food"


def test_a_first_listing_gives_each_row_its_folder(harness: Harness) -> None:
    harness.listing(
        image("/p/top.jpg", "top"), image("/p/Travel/a.jpg", "a"),
        image("/p/Ölüdeniz/Deep/b.jpg", "b"), image("/p/food/c.txt", ""),
    )  # fmt: skip
    assert folders(harness) == {digest("top"): ".", digest("a"): "travel", digest("b"): "ölüdeniz"}


def test_changes_keep_the_folder_of_the_representative_file(harness: Harness) -> None:
    harness.listing(image("/p/top.jpg", "top"))
    harness.change(image("/p/b/x.jpg", "x"), image("/p/a/y.jpg", "y"))
    assert folders(harness) == {digest("top"): ".", digest("x"): "b", digest("y"): "a"}
    # a copy at a path that sorts first becomes the representative: its folder wins
    harness.change(image("/p/a/x-copy.jpg", "x"), cursor="c3")
    assert folders(harness)[digest("x")] == "a"
    harness.change(gone("/p/a/x-copy.jpg"), cursor="c4")
    assert folders(harness)[digest("x")] == "b"
    harness.change(gone("/p/b/x.jpg"), image("/p/x.jpg", "x"), cursor="c5")
    assert folders(harness)[digest("x")] == "."


# Then what later versions added, made again with them: the count of waiting pictures.
_BEFORE_FOLDERS = (
    "DROP INDEX queue_by_folder; DROP INDEX images_by_folder; DROP TABLE out_of_season;"
    " ALTER TABLE channels DROP COLUMN weights; ALTER TABLE queue DROP COLUMN folder;"
    " ALTER TABLE images DROP COLUMN folder; ALTER TABLE channels DROP COLUMN n_awaiting;"
    " {version}"
)


def test_the_migration_gives_rows_already_there_their_folders(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    """A catalog from before folders were kept (its columns dropped, its version set back):
    opened, the migration works out every row's folder from its representative file."""
    harness.listing(image("/p/top.jpg", "top"), image("/p/a/x.jpg", "x"), image("/p/b/y.jpg", "y"))
    store = harness.store
    if isinstance(store, SqliteStore):
        with opened(store.path) as db:
            db.executescript(_BEFORE_FOLDERS.format(version="PRAGMA user_version = 14;"))
    else:
        url = request.getfixturevalue("migrated_database_url")  # the harness's database
        later = "DROP INDEX channels_by_library;"  # version 14's, made again with it
        version = f"{later} UPDATE unposted_schema SET version = 12;"
        with psycopg.connect(url) as db:
            db.execute(_BEFORE_FOLDERS.format(version=version).encode())
    harness.reopen()
    assert folders(harness) == {digest("top"): ".", digest("x"): "a", digest("y"): "b"}


def test_a_library_lists_its_folders_once_listed(harness: Harness) -> None:
    assert harness.store.browsing.library_folders("lib") is None  # not listed yet
    harness.listing(
        image("/p/top.jpg", "top"), image("/p/b/x.jpg", "x"), image("/p/a/y.jpg", "y"),
        image("/p/a/z.jpg", "z"), image("/p/c/w.txt", ""),
    )  # fmt: skip
    assert harness.store.browsing.library_folders("lib") == [".", "a", "b"]
    harness.change(gone("/p/b/x.jpg"))
    assert harness.store.browsing.library_folders("lib") == [".", "a"]
