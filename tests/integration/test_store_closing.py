"""Closing never frees a connection under a call: the store waits for the reads and
writes under way, and a stopping worker for the catch-up turn under way.

A SQLite connection closed while another thread is inside one of its calls is freed under
that call, and the whole process dies of a segmentation fault (it happened once in a
full run: a service's catch-up thread read on while the service's stop closed its store).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from app.dropbox.client import DropboxClient
from app.metrics import Metrics
from app.sync.catch_up import CatchUp
from app.sync.worker import SyncWorker
from emulator import Emulator, EmulatorServer
from state.errors import StoreClosed
from state.sqlite import connections
from state.sqlite.connections import Connections
from state.store import Store
from tests.conftest import MakeSettings
from tests.integration.conftest import FAST_RETRY
from tests.integration.test_catch_up import KINDS
from tests.stores import DEFAULTS, default_store

BUSY_SECONDS = 5.0


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.db"
    default_store(path).close()  # the schema, migrated
    return path


def hold_a_read(opened: Connections) -> tuple[threading.Thread, threading.Event, list[Any]]:
    """A thread inside a read until the event is set; what it read, in the list."""
    inside, release, rows = threading.Event(), threading.Event(), []

    def read() -> None:
        with opened.reading() as db:
            inside.set()
            release.wait(30)
            rows.append(db.execute("SELECT count(*) FROM channels").fetchone()[0])

    thread = threading.Thread(target=read)
    thread.start()
    assert inside.wait(10)
    return thread, release, rows


def test_close_waits_for_a_read_under_way_then_refuses_new_ones(database: Path) -> None:
    opened = Connections(database, BUSY_SECONDS)
    reader, release, rows = hold_a_read(opened)
    closing = threading.Thread(target=opened.close)
    closing.start()
    closing.join(0.5)
    assert closing.is_alive(), "close did not wait for the read under way"
    with pytest.raises(StoreClosed), opened.reading():
        pass  # refused at once, while the close waits
    release.set()
    reader.join(10)
    closing.join(10)
    assert not closing.is_alive()
    assert rows == [1]  # the read finished on its connection, whole
    with pytest.raises(StoreClosed), opened.writing():
        pass


def test_a_read_stuck_past_the_wait_leaves_the_store_open_rather_than_crash(
    database: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(connections, "CLOSE_WAIT_SECONDS", 0.2)
    opened = Connections(database, BUSY_SECONDS)
    reader, release, rows = hold_a_read(opened)
    with caplog.at_level(logging.WARNING, logger=connections.__name__):
        opened.close()
    assert [record.event for record in caplog.records] == ["store_left_open"]  # type: ignore[attr-defined]
    release.set()
    reader.join(10)
    assert rows == [1]  # its connection was not freed under it


class PausedCatalog:
    """The real catalog role, except that asking for a catch-up waits to be let go."""

    def __init__(self, store: Store) -> None:
        self.catalog = store.catalog
        self.asking, self.go = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.catalog, name)

    def want_catch_up(self, library: str) -> None:
        self.asking.set()
        self.go.wait(30)
        self.catalog.want_catch_up(library)


def test_a_stopping_worker_waits_for_the_turn_under_way(
    tmp_path: Path, make_settings: MakeSettings, emulator: Emulator, emulator_server: EmulatorServer
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    settings = make_settings(
        dropbox_base_url=emulator_server.base_url, dropbox_access_token=emulator.access_token
    )
    store = default_store(tmp_path / "worker.db")
    catalog = PausedCatalog(store)
    dropbox = DropboxClient(settings, retry=FAST_RETRY)
    catch_up = CatchUp(DEFAULTS[0][0], KINDS, catalog, dropbox)  # type: ignore[arg-type]
    metrics, stop = Metrics(), threading.Event()

    async def stop_during_the_turn() -> bool:
        worker = SyncWorker(settings, catalog, dropbox, catch_up, metrics, stop)  # type: ignore[arg-type]
        await worker.start()
        assert await asyncio.to_thread(catalog.asking.wait, 10)  # the turn began, not yet running
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.5)
        waited = not stopping.done()
        catalog.go.set()
        await stopping
        assert worker.health.last_error is None
        return waited

    try:
        assert asyncio.run(stop_during_the_turn()), "stop did not wait for the turn under way"
        assert store.reports.catalog_files("default")  # the turn finished its catch-up
    finally:
        catalog.go.set()
        dropbox.close()
        store.close()
