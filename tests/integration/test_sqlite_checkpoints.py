"""The log's checkpoints run on a thread of their own, after every commit, never inside
one (``state.sqlite.checkpoints``)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from state.sqlite import SqliteStore
from tests.contract.conftest import Clock, Harness, image
from tests.waiting import wait_until

# A listing far under the 1,000 pages at which a commit would checkpoint by itself: only
# the thread copies it into the file while the store is open.
IMAGES = 200


def _images_in_the_file_alone(path: Path, copy: Path) -> int | None:
    """The images a copy of the database file holds without its log (``-wal``); None
    before the schema itself got there, or if the copy caught a checkpoint half done."""
    shutil.copyfile(path, copy)
    db = sqlite3.connect(copy)
    try:
        return int(db.execute("SELECT count(*) FROM images").fetchone()[0])
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
        copy.unlink()


def test_commits_reach_the_database_file_while_the_store_is_open(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "db.sqlite3"
    store = SqliteStore(path, clock=clock)
    try:
        harness = Harness(store, clock, None)
        harness.define()
        harness.listing(*(image(f"/p/{n}.jpg", f"content {n}") for n in range(IMAGES)))
        wait_until(lambda: _images_in_the_file_alone(path, tmp_path / "copy") == IMAGES, 10)
    finally:
        store.close()
