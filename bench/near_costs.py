"""What near-duplicates cost: the catch-up, the background hashing, the index, ``/select``.

- Catch-up: the same initial catch-up (``CatchUp.run`` over an emulator folder) into a
  fresh store with the backlog trigger and, for comparison, with it dropped; alternated,
  ``reps`` times each, medians. The difference is all the catch-up pays: the hashing
  itself happens afterwards, in the worker's thread.
- The index: ``NeighbourIndex`` filled with ``size`` random fingerprints; the time to
  fill it, and p50/p99 of a neighbour search at the default distance.
- ``/select``: ``bench.select_load`` over catalogs whose channel skips near-duplicates,
  with a group for every tenth image and half of those groups posted (``bulk_load``'s
  ``near_every``): the skipped images are out of the pool, and a selection still reads
  one slot. The same catalogs without groups, measured in the same run, for comparison.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.configuration.environment import Settings
from app.dropbox.client import DropboxClient
from app.sync.catch_up import CatchUp
from bench import select_load
from bench.strategies import IMAGE_SIZE
from emulator import Emulator, EmulatorServer
from state.changes import FileKinds
from state.neighbours import NeighbourIndex
from state.similarity import DEFAULT_DISTANCE
from state.sqlite import SqliteStore
from state.store import ChannelDef, LibraryDef

FOLDER = "/Photos"
QUERIES = 50


def catch_up(size: int, reps: int) -> dict[str, Any]:
    emu = Emulator()
    emu.create_folder(FOLDER)
    for meta in emu.bulk_generate(FOLDER, size, ".jpg", IMAGE_SIZE, seed=5):
        _ = meta.content_hash  # Dropbox holds content hashes ready
    runs: dict[str, list[float]] = {"with_backlog": [], "without_backlog": []}
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        for rep in range(reps):
            for mode in runs:
                path = Path(work) / f"{mode}-{rep}"
                runs[mode].append(_one_catch_up(emu, server.base_url, path, mode))
    with_, without = (statistics.median(runs[mode]) for mode in runs)
    return {
        "size": size,
        "reps": reps,
        "with_backlog_seconds": round(with_, 3),
        "without_backlog_seconds": round(without, 3),
        "added_seconds_per_100k": round((with_ - without) * 100_000 / size, 3),
        "added_share": round(with_ / without - 1, 4),
        "runs": runs,
    }


def _one_catch_up(emu: Emulator, base_url: str, state_dir: Path, mode: str) -> float:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dropbox_folder=FOLDER,
        dropbox_base_url=base_url,
        dropbox_access_token=SecretStr(emu.access_token),
        state_dir=state_dir,
    )
    library = LibraryDef("default", FOLDER)
    store = SqliteStore(settings.database_path)
    store.define([library], [ChannelDef("default", "default")])
    if mode == "without_backlog":
        with closing(sqlite3.connect(settings.database_path)) as db:
            db.execute("DROP TRIGGER images_to_fingerprint")
    dropbox = DropboxClient(settings)
    try:
        kinds = FileKinds.of(settings.image_extensions, settings.sidecar_extensions)
        started = time.perf_counter()
        CatchUp(library, kinds, store.catalog, dropbox).run()
        return time.perf_counter() - started
    finally:
        dropbox.close()
        store.close()


def index(size: int) -> dict[str, Any]:
    rng = random.Random(9)
    found = NeighbourIndex()
    started = time.perf_counter()
    for number in range(size):
        found.add(f"{number:064x}", rng.randbytes(32))
    fill = time.perf_counter() - started
    times = []
    for _ in range(QUERIES):
        query = os.urandom(32)
        started = time.perf_counter()
        found.within(query, DEFAULT_DISTANCE)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "size": size,
        "fill_seconds": round(fill, 2),
        "search_p50_ms": round(times[len(times) // 2], 3),
        "search_p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        "bytes_per_image": 32,
    }


def select(
    sizes: tuple[int, ...], seconds: float, rounds: int, generator: str | None = None
) -> dict[str, Any]:
    figures = select_load.run(sizes, seconds, rounds, generator, near_every=10)
    baseline = select_load.run(sizes, seconds, rounds, generator, near_every=0)
    small, large = figures["sizes"][0], figures["sizes"][-1]
    return {
        "near_every": 10,
        "without_groups_p50_ms": {
            str(size["size"]): size["select"]["p50_ms"] for size in baseline["sizes"]
        },
        "p50_ms": {str(size["size"]): size["select"]["p50_ms"] for size in figures["sizes"]},
        "one_connection_p50_ms": {
            str(size["size"]): size["select_one_connection"]["p50_ms"] for size in figures["sizes"]
        },
        "ratio": round(large["select"]["p50_ms"] / small["select"]["p50_ms"], 3),
        "load": figures,
    }


def run(
    catch_up_size: int, reps: int, index_sizes: tuple[int, ...], select_sizes: tuple[int, ...],
    seconds: float, rounds: int, generator: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``generator``: as ``bench.select_load``'s (by default wrk when installed)."""
    return {
        "catch_up": catch_up(catch_up_size, reps),
        "index": [index(size) for size in index_sizes],
        "select": select(select_sizes, seconds, rounds, generator),
    }
