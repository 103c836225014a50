"""The catch-up: an initial listing of a large folder, and one change reaching ``/select``.

- Initial: ``CatchUp.run()`` into an empty store over an emulator folder of ``size``
  images (the emulator's content hashes computed beforehand, as Dropbox's are), timed
  ``reps`` times with a fresh store each: seconds, entries per second, microseconds per
  entry, API calls. Each rep first pages through the same listing storing nothing,
  which splits the time into Dropbox's share (SDK decoding and the emulator, in this
  process) and the store's. The same at other sizes, to see whether the cost of an
  entry grows with the folder (a million files: once, and about 1.3 GB of memory for
  the emulator's folder).
- Hidden: with ``latency`` seconds added to every Dropbox call (the emulator's delay
  fault), the initial catch-up against the same pages listed alone: the pages after
  the first are fetched while the store applies the ones before, so the ratio shows
  how much of the store's work the listing hides (1.0: all of it).
- One change: the service (uvicorn in a thread) holds the caught-up folder and is
  registered as the emulator's webhook. A new image is written; the emulator sends its
  signed notification; the clock stops when ``POST /select`` by that name (a dry run)
  answers 200. The Dropbox calls each change cost are counted once the catch-up it
  caused has finished (should be one ``list_folder/continue``). Changes are spaced
  beyond the webhook inbox's burst window, so each is a single change, not a burst.

    python -m bench.catch_up [--size 100000] [--changes 20] [--other-sizes 10000,1000000]
                             [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.dropbox.client import DropboxClient
from app.sync.catch_up import CatchUp
from bench.strategies import IMAGE_SIZE, RunningService, running_service, wait_for
from emulator import Emulator, EmulatorServer
from state.changes import FileKinds
from state.sqlite import SqliteStore
from state.store import ChannelDef, LibraryDef, Store
from webhooks.inbox import QUIET_SECONDS

FOLDER = "/Photos"
# A channel as the service defines one by default (``NEAR_DUPLICATE_HASHING`` on).
CHANNEL = ChannelDef("default", "default", near_duplicates="skip", await_fingerprints=True)
ONE_REP_FROM = 1_000_000  # a catch-up of a million files takes minutes: timed once


def run(
    size: int = 100_000,
    changes: int = 20,
    reps: int = 3,
    other_sizes: tuple[int, ...] = (),
    latency: float = 0.1,
) -> dict[str, Any]:
    """The initial catch-up and one change at ``size``; the initial one at ``other_sizes``,
    and at ``size`` again with ``latency`` seconds added to every Dropbox call (0: not)."""
    emu = _folder(size)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        runs = _reps(emu, server.base_url, Path(work), reps)
        hidden = _reps(emu, server.base_url, Path(work) / "hidden", 1, latency=latency)
        with running_service(emu, server.base_url, FOLDER, Path(work) / "service") as service:
            one_change = _changes(emu, service, changes)
    calls = {"api_calls": runs[0]["api_calls"], "pages": runs[0]["pages"]}
    return {
        "benchmark": "catch_up",
        "size": size,
        "initial": {**_summary(size, runs), **calls},
        "other_sizes": at_sizes(other_sizes, reps),
        "with_latency": _hidden(size, hidden, latency) if latency else None,
        "one_change": one_change,
    }


def with_latency(
    size: int, latency: float, open_store: Callable[[], Store] | None = None
) -> dict[str, Any]:
    """The initial catch-up with ``latency`` seconds added to every Dropbox call."""
    emu = _folder(size)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        runs = _reps(emu, server.base_url, Path(work), 1, open_store, latency)
    return _hidden(size, runs, latency)


def _hidden(size: int, runs: list[dict[str, Any]], latency: float) -> dict[str, Any]:
    summary = _summary(size, runs)
    ratio = summary["seconds"] / summary["listing_only_seconds"]
    return {**summary, "latency_ms": round(latency * 1000), "ratio_to_listing": round(ratio, 3)}


def _folder(size: int) -> Emulator:
    """An emulator holding ``size`` images in ``FOLDER``, their content hashes computed
    beforehand, as Dropbox holds them ready."""
    emu = Emulator()
    emu.create_folder(FOLDER)
    for meta in emu.bulk_generate(FOLDER, size, ".jpg", IMAGE_SIZE, seed=3):
        _ = meta.content_hash
    return emu


def _settings(emu: Emulator, base_url: str, state_dir: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dropbox_folder=FOLDER,
        dropbox_base_url=base_url,
        dropbox_access_token=SecretStr(emu.access_token),
        state_dir=state_dir,
    )


def initial(size: int, reps: int, open_store: Callable[[], Store] | None = None) -> dict[str, Any]:
    """The initial catch-up alone, into stores that ``open_store`` makes (one per rep;
    by default a SQLite file in a directory of the rep's own)."""
    emu = _folder(size)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        return _summary(size, _reps(emu, server.base_url, Path(work), reps, open_store))


def at_sizes(
    sizes: tuple[int, ...], reps: int, open_store: Callable[[], Store] | None = None
) -> list[dict[str, Any]]:
    """``initial`` at each size; from ``ONE_REP_FROM`` files on, once."""
    return [initial(size, 1 if size >= ONE_REP_FROM else reps, open_store) for size in sizes]


def _reps(
    emu: Emulator,
    base_url: str,
    work: Path,
    reps: int,
    open_store: Callable[[], Store] | None = None,
    latency: float = 0.0,
) -> list[dict[str, Any]]:
    if latency:
        emu.faults.delay("*", latency)
    try:
        return [
            _initial(emu, base_url, work / f"initial-{rep}", open_store() if open_store else None)
            for rep in range(reps)
        ]
    finally:
        emu.faults.clear()


def _summary(size: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = statistics.median(run["seconds"] for run in runs)
    return {
        "size": size,
        "reps": len(runs),
        "seconds": round(seconds, 3),
        "listing_only_seconds": statistics.median(r["listing_only_seconds"] for r in runs),
        "entries_per_second": round(size / seconds),
        "us_per_entry": round(seconds / size * 1e6, 1),
        "runs": runs,
    }


def _initial(
    emu: Emulator,
    base_url: str,
    state_dir: Path,
    store: Store | None = None,
    channel: ChannelDef | None = None,
) -> dict[str, Any]:
    """One initial catch-up into a fresh store, of one channel: by default as the service
    defines one (near-duplicates skipped, new pictures waiting for their fingerprint), and
    without a webhook (``bench.webhooks_out`` passes channels of its own)."""
    settings = _settings(emu, base_url, state_dir)
    store = store or SqliteStore(settings.database_path)
    dropbox = DropboxClient(settings)
    try:
        started = time.perf_counter()
        page = dropbox.list_folder(FOLDER, recursive=False)
        while page.has_more:  # the same pages with nothing stored: Dropbox's share of the time
            page = dropbox.list_folder_continue(page.cursor)
        listing = time.perf_counter() - started
        emu.counters.reset()
        started = time.perf_counter()
        library = LibraryDef("default", FOLDER)
        store.define([library], [channel or CHANNEL])
        kinds = FileKinds.of(settings.image_extensions, settings.sidecar_extensions)
        summary = CatchUp(library, kinds, store.catalog, dropbox).run()
        seconds = time.perf_counter() - started
        images = store.reports.library_status("default").images
    finally:
        dropbox.close()
        store.close()
    print(f"  catch_up: {summary.line()}", file=sys.stderr, flush=True)
    return {
        "seconds": round(seconds, 3),
        "listing_only_seconds": round(listing, 3),
        "entries": summary.entries,
        "images": images,
        "pages": summary.pages,
        "api_calls": _calls(emu),
    }


def _changes(emu: Emulator, service: RunningService, count: int) -> dict[str, Any]:
    emu.register_webhook(service.base_url + "/webhook")
    sync = service.runtime.workers["default"]
    wait_for(lambda: sync.idle, timeout=60)
    samples = []
    for index in range(count):
        if index:
            time.sleep(2 * QUIET_SECONDS)  # single changes, not a burst the inbox would fold
        name = f"new_{index:03d}.jpg"
        emu.counters.reset()
        started = time.perf_counter()
        emu.put_file(f"{FOLDER}/{name}", size=IMAGE_SIZE, seed=1_000_000 + index)
        _wait_selectable(service.client, name)
        ms = (time.perf_counter() - started) * 1000
        wait_for(lambda: emu.webhooks.pending() == 0 and sync.idle, timeout=60)
        samples.append(
            {
                "ms": round(ms, 3),
                "continue_calls": emu.counters.calls("files/list_folder/continue"),
                "api_calls": _calls(emu),
            }
        )
    times = [sample["ms"] for sample in samples]
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    return {
        "changes": count,
        "p50_ms": round(statistics.median(times), 3),
        "p90_ms": round(cuts[89], 3),
        "max_ms": round(max(times), 3),
        "continue_calls": sorted({sample["continue_calls"] for sample in samples}),
        "api_calls": sorted({sample["api_calls"] for sample in samples}),
        "samples": samples,
    }


def _wait_selectable(client: httpx.Client, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.post("/select", json={"name": name, "dry_run": True}).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not selectable within {timeout} s")
        time.sleep(0.001)


def _calls(emu: Emulator) -> int:
    return sum(sum(by_status.values()) for by_status in emu.counters.snapshot().values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--other-sizes", default="", help="e.g. 10000,1000000")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="0: not measured")
    args = parser.parse_args()
    others = tuple(int(size) for size in args.other_sizes.split(",") if size)
    figures = run(args.size, args.changes, args.reps, others, args.latency_ms / 1000)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
