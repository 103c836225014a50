"""A database the service cannot trust stops it at start, with a clear reason.

A torn (truncated) file, a file that is not a database, and one written by a newer
schema: ``serve`` exits non-zero with one line saying what is wrong, and the file is
left exactly as it was, never silently replaced.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from state.changes import FileEntry, FileKinds, plan_page
from state.sqlite.schema import SCHEMA_VERSION
from tests.reliability.ledger import Ledger
from tests.sqlite_files import opened
from tests.stores import default_store


def filled_database(path: Path) -> None:
    store = default_store(path, "/p")
    entries = [
        FileEntry(
            f"/p/{n}.jpg",
            f"/p/{n}.jpg",
            f"{n}.jpg",
            f"id:{n}",
            "0123456789",
            1,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            f"{n:064x}",
        )
        for n in range(3_000)
    ]
    store.catalog.begin_listing("default")
    kinds = FileKinds.of([".jpg"], [])
    store.catalog.apply_page("default", plan_page(entries, kinds), "c", has_more=False)
    store.close()


def torn(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def not_a_database(path: Path) -> None:
    path.write_bytes(b"definitely not SQLite\n" * 500)


def newer_schema(path: Path) -> None:
    with opened(path) as db:  # the last connection to close folds the WAL into the file
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(torn, "not a usable"), (not_a_database, "not a usable"), (newer_schema, "schema version")],
)
def test_serve_refuses_a_database_it_cannot_trust(
    tmp_path: Path, damage: object, reason: str, ledger: Ledger
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    database = state / "unposted.sqlite3"
    filled_database(database)
    damage(database)  # type: ignore[operator]
    before = database.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "API_"))}
    env.update(
        DROPBOX_FOLDER="/Photos",
        DROPBOX_ACCESS_TOKEN="t",
        DROPBOX_APP_SECRET="s",
        API_TOKEN="a" * 32,
        STATE_DIR=str(state),
        DROPBOX_BASE_URL="http://127.0.0.1:9",
    )
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    entry = ledger.entry("Torn, foreign or newer database at start")
    entry.trials += 1
    entry.inputs += 1
    entry.wrong += result.returncode == 0 or database.read_bytes() != before
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and reason in result.stderr
    assert database.read_bytes() == before
