"""The SQLite store's watch on its own file: damage found underneath is ``StoreDamaged``.

The service-level checks (a real process under load) are in
``tests/reliability/test_holes_damage.py``; these drive one ``SqliteStore`` directly.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from pathlib import Path

import pytest

from state.errors import StoreDamaged
from state.sqlite import SqliteStore
from state.sqlite.checkpoints import Checkpoints
from state.sqlite.damage import READ_CHECK_SECONDS, FileWatch
from tests.reliability.test_database_refusal import filled_database
from tests.sqlite_files import opened
from tests.stores import default_store
from tests.waiting import wait_until


def _opened(tmp_path: Path) -> tuple[SqliteStore, Path]:
    """A store over 3,000 files, its log all copied into the file: the store's checkpoints
    then find nothing to copy (their schema was read as the store opened), and the damage
    a test does is found by what the test checks."""
    database = tmp_path / "unposted.sqlite3"
    filled_database(database)  # all in the file itself (the store was closed)
    store = default_store(database, "/p")
    wait_until(lambda: _log_copied(database), 5, 0.01)
    return store, database


def _log_copied(database: Path) -> bool:
    with opened(database) as beside:
        _, pages, copied = beside.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return bool(pages == copied)


def test_pages_zeroed_in_place_are_found_by_sqlite_and_refused(tmp_path: Path) -> None:
    """Same file, same size, same header: only SQLite can tell, and its error is ours."""
    store, database = _opened(tmp_path)
    try:
        size = database.stat().st_size
        with database.open("r+b") as file:
            file.seek(4096)
            file.write(b"\0" * (size - 4096))
        with pytest.raises(StoreDamaged, match=str(database)):
            store.reports.catalog_files("default")
        with pytest.raises(StoreDamaged, match="restart"):  # for good, writes too
            store.selections.mark_posted("default", secrets.token_hex(32), None, None)
    finally:
        store.close()


def test_a_write_into_a_file_moved_away_is_not_committed(tmp_path: Path) -> None:
    store, database = _opened(tmp_path)
    moved = tmp_path / "moved.sqlite3"
    content_hash = secrets.token_hex(32)
    try:
        database.rename(moved)
        with pytest.raises(StoreDamaged, match="deleted or moved away"):
            store.selections.mark_posted("default", content_hash, None, None)
    finally:
        store.close()
    moved.rename(database)
    again = SqliteStore(database)
    try:
        assert content_hash not in again.posted.export_posted("default").dropbox_content_hashes
    finally:
        again.close()


def test_reads_alone_notice_within_a_second(tmp_path: Path) -> None:
    store, database = _opened(tmp_path)
    try:
        store.posted.export_posted("default")
        database.rename(tmp_path / "moved.sqlite3")
        moved_at = time.monotonic()

        def refused() -> bool:
            try:
                store.posted.export_posted("default")
            except StoreDamaged:
                return True
            return False

        wait_until(refused, 5, 0.01)
        noticed_after = time.monotonic() - moved_at
    finally:
        store.close()
    assert noticed_after <= READ_CHECK_SECONDS + 0.25, noticed_after


def test_a_file_that_grows_and_changes_is_not_damage(tmp_path: Path) -> None:
    """Checkpoints grow the file and rewrite its pages: many writes, never a false alarm,
    even with another process's connection writing beside ours."""
    store, database = _opened(tmp_path)
    other = default_store(database, "/p")
    size = database.stat().st_size
    try:
        # At least 300, and until checkpoints have grown the file: a first listing built
        # set-wise leaves free pages, filled first.
        posts = 0
        while database.stat().st_size <= size or posts < 300:
            assert posts < 5_000, "the file never grew"
            writer = store if posts % 2 else other
            writer.selections.mark_posted("default", secrets.token_hex(32), None, None)
            posts += 1
            if posts % 50 == 0:  # as a short command beside the service might
                with opened(database) as outsider:
                    outsider.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.utime(database)  # a touch is not damage either
        store.selections.mark_posted("default", secrets.token_hex(32), None, None)
        assert len(store.posted.export_posted("default").dropbox_content_hashes) == posts + 1
    finally:
        other.close()
        store.close()


def test_a_vacuum_beside_the_store_is_not_damage(tmp_path: Path) -> None:
    """SQLite itself makes the file shorter, and says so in its header first."""
    store, database = _opened(tmp_path)
    try:
        store.catalog.forget_folder("default")  # free pages for a VACUUM to give back
        size = database.stat().st_size
        with opened(database) as outsider:
            outsider.execute("VACUUM")
            outsider.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert database.stat().st_size < size
        content_hash = secrets.token_hex(32)
        store.selections.mark_posted("default", content_hash, None, None)
        assert store.posted.export_posted("default").dropbox_content_hashes == (content_hash,)
        os.truncate(database, database.stat().st_size - 4096)  # but a page cut off is
        with pytest.raises(StoreDamaged, match="truncated"):
            store.selections.mark_posted("default", secrets.token_hex(32), None, None)
    finally:
        store.close()


def test_a_truncation_a_checkpoint_in_flight_grew_back_is_damage(tmp_path: Path) -> None:
    """A checkpoint copying pages while the file is cut short writes its last pages at
    their places past the cut: the file has its size again, and its header, with a hole
    where the cut pages were. SQLite writes every page it extends a file by, so a hole
    is the cut."""
    if not _holes_seen(tmp_path):
        pytest.skip("this filesystem does not say where a file's holes are (SEEK_HOLE)")
    store, database = _opened(tmp_path)
    try:
        size = database.stat().st_size
        with database.open("rb") as file:
            file.seek(size - 4096)
            last = file.read()
        os.truncate(database, size // 3)
        with database.open("r+b") as file:  # the checkpoint's write, after the cut
            file.seek(size - 4096)
            file.write(last)
        assert database.stat().st_size == size
        with pytest.raises(StoreDamaged, match="truncated"):
            store.selections.mark_posted("default", secrets.token_hex(32), None, None)
    finally:
        store.close()


def test_a_checkpoint_that_finds_the_file_cut_short_condemns_the_store(tmp_path: Path) -> None:
    """SQLite refuses to copy the log into a file far shorter than the database the log
    describes ("database disk image is malformed"). The checkpoints' thread may be the
    first to meet the damage: it then condemns the store, as any other connection's
    finding does, instead of leaving a line in the log."""
    database = tmp_path / "unposted.sqlite3"
    filled_database(database)
    watch = FileWatch(database)
    checkpoints = Checkpoints(sqlite3.connect(database, check_same_thread=False), watch)
    try:
        with opened(database) as writer:  # committed as it closes: pages in the log
            writer.execute("PRAGMA wal_autocheckpoint = 0")
            writer.execute("UPDATE files SET rev = 'changed'")
        os.truncate(database, database.stat().st_size // 3)
        checkpoints.committed()

        def condemned() -> bool:
            try:
                watch.refuse_if_damaged()
            except StoreDamaged:
                return True
            return False

        wait_until(condemned, 5, 0.01)
    finally:
        checkpoints.close()
        watch.close()
    with pytest.raises(StoreDamaged, match="damaged by SQLite"):
        watch.refuse_if_damaged()


def _holes_seen(folder: Path) -> bool:
    probe = folder / "sparse"
    with probe.open("wb") as file:
        file.seek(1 << 20)
        file.write(b"x")
    with probe.open("rb") as file:
        return os.lseek(file.fileno(), 0, os.SEEK_HOLE) < probe.stat().st_size
