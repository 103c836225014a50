"""Selection against the old approaches: (A) download and hash, (B) list with content_hash,
(C) unposted's ``POST /select``, side by side on one emulator.

Each strategy is asked for ONE new image in folders of ``sizes`` images of which a
fraction was already posted; every cell runs once with no added latency and once with a
fixed delay injected in front of every emulator call.

- (A) The publisher's original path: list the folder (``list_folder`` + ``continue``),
  shuffle the images (a random pick, as the publisher's default), then download them one
  by one and SHA-256 the bytes until one is not in the posted set of SHA-256 digests.
  The posted images are a uniformly random subset, so A downloads about (N+1)/(U+1)
  files for U unposted (all N when none is left): A's most favourable realistic case.
  A cell whose expected cost exceeds the time budget is not run; its download count is
  computed and its time estimated from the per-download cost measured in the same run.
- (B) Feature 006's metadata path: list the whole folder with ``content_hash`` on every
  run and filter it against the posted set of content hashes. No downloads.
- (C) ``POST /select`` on the service (in this process, uvicorn in a thread), whose
  catalog was filled by its own catch-up of the same emulator folder and whose posted
  state was set through ``/posted/import``. Each lease is released (untimed) so every
  repetition sees the same fractions. ``C+link`` asks for a temporary link too.

A and B drive the real ``dropbox`` SDK directly: they stand in for the publisher's own
program, which called the SDK itself, so this module is the one place outside
``app.dropbox.client`` that imports ``dropbox``.

    python -m bench.strategies [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import dropbox
import httpx
from dropbox import files as sdk_files
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.dropbox.transport import base_url_session
from app.main import create_app
from app.runtime import Runtime
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer

IMAGE_SIZE = 16 * 1024
FRACTIONS = (0.0, 0.5, 0.99, 1.0)
API_TOKEN = "bench-api-token-0123456789abcdefghij"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    latencies: tuple[float, ...]  # seconds added in front of every emulator call
    reps: int  # repetitions of A and B, fewer (at least 3 of B) past half the budget
    c_reps: int
    a_budget_seconds: float  # longest A cell we run; beyond it, an estimate


FULL = Plan((1_000, 10_000, 100_000), (0.0, 0.02), reps=5, c_reps=40, a_budget_seconds=30)
QUICK = Plan((1_000, 2_000), (0.0, 0.02), reps=3, c_reps=15, a_budget_seconds=4)


@dataclass
class Attempt:
    """One selection by one strategy, as the emulator's counters saw it."""

    ms: float
    api_calls: int
    downloads: int
    bytes_downloaded: int
    metadata_bytes: int
    found: bool


@dataclass(frozen=True)
class Folder:
    """A generated folder and what each strategy needs to know about its files."""

    path: str
    paths: tuple[str, ...]
    sha256: dict[str, str]
    content_hash: dict[str, str]

    def posted(self, fraction: float, seed: int) -> list[str]:
        """A uniformly random ``fraction`` of the paths (nested as ``fraction`` grows)."""
        order = list(self.paths)
        random.Random(seed).shuffle(order)
        return order[: round(fraction * len(order))]


# -- the strategies ---------------------------------------------------------------------


def sdk_client(base_url: str, access_token: str) -> dropbox.Dropbox:
    """The real SDK, pointed at the emulator, as the publisher's program built it."""
    return dropbox.Dropbox(
        oauth2_access_token=access_token,
        session=base_url_session(base_url),
        user_agent="publisher-bench",
    )


def list_images(sdk: dropbox.Dropbox, folder: str) -> list[Any]:
    """Every image's ``FileMetadata`` in ``folder``: ``list_folder`` then ``continue``."""
    result = sdk.files_list_folder(folder)
    entries = list(result.entries)
    while result.has_more:
        result = sdk.files_list_folder_continue(result.cursor)
        entries.extend(result.entries)
    return [
        entry
        for entry in entries
        if isinstance(entry, sdk_files.FileMetadata)
        and entry.name.lower().endswith(IMAGE_EXTENSIONS)
    ]


class Stopwatch:
    """Time spent inside ``with stopwatch:`` blocks, summed: A's downloads alone."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


def download_and_hash(
    sdk: dropbox.Dropbox, folder: str, posted: set[str], seed: int, stopwatch: Stopwatch
) -> bool:
    """(A): True when a never-posted image was found by downloading candidates."""
    candidates = list_images(sdk, folder)
    random.Random(seed).shuffle(candidates)
    for entry in candidates:
        with stopwatch:
            _, response = sdk.files_download(entry.path_lower)
            try:
                digest = hashlib.sha256(response.content).hexdigest()
            finally:
                response.close()
        if digest not in posted:
            return True
    return False


def list_and_filter(sdk: dropbox.Dropbox, folder: str, posted: set[str], seed: int) -> bool:
    """(B): True when a never-posted image was found in a full listing's content hashes."""
    fresh = [entry for entry in list_images(sdk, folder) if entry.content_hash not in posted]
    if fresh:
        random.Random(seed).choice(fresh)
    return bool(fresh)


def select_once(client: httpx.Client, link: bool = False) -> bool:
    """(C): True when ``POST /select`` handed out an image; its lease is given back."""
    response = client.post("/select", json={"link": link} if link else {})
    if response.status_code == 404:
        return False
    response.raise_for_status()
    lease = response.json()["lease"]
    client.post("/release", json={"lease_id": lease["id"]}).raise_for_status()
    return True


def measure(emu: Emulator, attempt: Callable[[], bool]) -> Attempt:
    """Run one selection, timing it and reading the emulator's counters around it."""
    emu.counters.reset()
    started = time.perf_counter()
    found = attempt()
    ms = (time.perf_counter() - started) * 1000
    calls = sum(sum(by_status.values()) for by_status in emu.counters.snapshot().values())
    counters = emu.counters
    metadata = sum(
        counters.bytes_served(route)
        for route in ("files/list_folder", "files/list_folder/continue")
    )
    return Attempt(
        ms=ms,
        api_calls=calls,
        downloads=counters.calls("files/download"),
        bytes_downloaded=counters.bytes_served("files/download"),
        metadata_bytes=metadata,
        found=found,
    )


def summarize(attempts: list[Attempt]) -> dict[str, Any]:
    """Medians over the repetitions (C's timed part excludes the untimed release)."""
    rows = [asdict(attempt) for attempt in attempts]
    summary: dict[str, Any] = {"status": "run", "reps": len(rows)}
    for key in ("ms", "api_calls", "downloads", "bytes_downloaded", "metadata_bytes"):
        value = statistics.median(row[key] for row in rows)
        summary[key] = round(value, 3) if key == "ms" else int(value)
    summary["found"] = all(row["found"] for row in rows)
    return summary


# -- the service (C), in this process ---------------------------------------------------


@dataclass
class RunningService:
    runtime: Runtime
    client: httpx.Client
    base_url: str


@contextmanager
def running_service(
    emu: Emulator, emulator_url: str, folder: str, state_dir: Path
) -> Iterator[RunningService]:
    """unposted over ``folder`` of the emulator, caught up and ready."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dropbox_folder=folder,
        dropbox_base_url=emulator_url,
        dropbox_access_token=SecretStr(emu.access_token),
        dropbox_app_key=emu.app_key,
        dropbox_app_secret=SecretStr(emu.app_secret),
        api_token=SecretStr(API_TOKEN),
        state_dir=state_dir,
        log_level="WARNING",
        near_duplicate_hashing=False,  # measured in its own section; its calls are not these
    )
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with (
        ThreadedServer(app) as server,
        httpx.Client(base_url=server.base_url, headers=headers, timeout=300) as client,
    ):
        wait_for(lambda: client.get("/readyz").status_code == 200, timeout=600)
        yield RunningService(app.state.runtime, client, server.base_url)


def set_posted(client: httpx.Client, content_hashes: list[str]) -> None:
    """Make exactly ``content_hashes`` the service's posted state."""
    client.post("/admin/reset-posted", json={"confirm": "RESET"}).raise_for_status()
    body = {"hashes": [], "dropbox_content_hashes": content_hashes}
    client.post("/posted/import", json=body).raise_for_status()


def wait_for(check: Callable[[], bool], timeout: float = 30.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(every)


# -- the grid ---------------------------------------------------------------------------


def make_folder(emu: Emulator, path: str, count: int, seed: int) -> Folder:
    """Generate ``count`` distinct images; hash each (SHA-256 and content_hash) once."""
    emu.create_folder(path)
    metas = emu.bulk_generate(path, count, ".jpg", IMAGE_SIZE, seed=seed)
    sha256, content_hash = {}, {}
    for meta in metas:
        sha256[meta.path_lower] = hashlib.sha256(meta.source.read()).hexdigest()
        content_hash[meta.path_lower] = meta.content_hash  # computed now, cached by the emulator
    return Folder(path, tuple(m.path_lower for m in metas), sha256, content_hash)


def run(plan: Plan = FULL, seed: int = 8) -> dict[str, Any]:
    """The whole grid; returns a JSON-ready dict (cells, per-download costs, plan)."""
    emu = Emulator()
    cells: list[dict[str, Any]] = []
    per_download: dict[float, float] = {}  # latency -> ms per download, measured
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as state:
        sdk = sdk_client(server.base_url, emu.access_token)
        for size in plan.sizes:
            folder = make_folder(emu, f"/f{size}", size, seed + size)
            with running_service(emu, server.base_url, folder.path, Path(state) / str(size)) as svc:
                for latency in plan.latencies:
                    emu.faults.clear()
                    if latency:
                        emu.faults.delay("*", latency)
                    for fraction in FRACTIONS:
                        cost = per_download.get(latency, 0.0)
                        started = time.perf_counter()
                        cell = _cell(emu, sdk, svc, folder, fraction, latency, plan, seed, cost)
                        cell["seconds"] = round(time.perf_counter() - started, 1)
                        cells.append(cell)
                        _progress(cell)
                        per_download[latency] = cell["A"].get("per_download_ms") or cost
                emu.faults.clear()
        sdk.close()
    return {
        "benchmark": "strategies",
        "image_bytes": IMAGE_SIZE,
        "latencies_ms": [latency * 1000 for latency in plan.latencies],
        "reps": plan.reps,
        "c_reps": plan.c_reps,
        "a_budget_seconds": plan.a_budget_seconds,
        "cells": cells,
    }


def _cell(
    emu: Emulator,
    sdk: dropbox.Dropbox,
    svc: RunningService,
    folder: Folder,
    fraction: float,
    latency: float,
    plan: Plan,
    seed: int,
    per_download_ms: float,
) -> dict[str, Any]:
    posted = folder.posted(fraction, seed)
    posted_sha = {folder.sha256[path] for path in posted}
    posted_hashes = {folder.content_hash[path] for path in posted}
    set_posted(svc.client, sorted(posted_hashes))
    size = len(folder.paths)
    b: list[Attempt] = []
    deadline = time.monotonic() + plan.a_budget_seconds / 2
    while len(b) < plan.reps and (len(b) < 3 or time.monotonic() < deadline):
        b.append(measure(emu, partial(list_and_filter, sdk, folder.path, posted_hashes, len(b))))
    a = _strategy_a(emu, sdk, folder, posted_sha, plan, b, per_download_ms)
    c = [measure(emu, lambda: select_once(svc.client)) for _ in range(plan.c_reps)]
    c_link = [measure(emu, lambda: select_once(svc.client, link=True)) for _ in range(5)]
    cell: dict[str, Any] = {
        "size": size,
        "posted_fraction": fraction,
        "posted": len(posted),
        "latency_ms": latency * 1000,
        "A": a,
        "B": summarize(b),
        "C": summarize(c),
        "C_link": summarize(c_link),
        "A_listing_order_downloads": len(posted) + 1 if len(posted) < size else size,
    }
    cell["ratios"] = _ratios(cell)
    return cell


def _progress(cell: dict[str, Any]) -> None:
    a, b, c = cell["A"], cell["B"], cell["C"]
    print(
        f"  strategies: {cell['size']} images, {cell['posted_fraction']:.0%} posted, "
        f"+{cell['latency_ms']:g} ms: A {a.get('ms', a.get('ms_estimate'))} ms ({a['status']}),"
        f" B {b['ms']} ms, C {c['ms']} ms; {cell['seconds']} s",
        file=sys.stderr,
        flush=True,
    )


def expected_downloads(size: int, posted: int) -> float:
    """Downloads A makes on average when candidates come in random order."""
    unposted = size - posted
    return float(size) if unposted == 0 else (size + 1) / (unposted + 1)


def _strategy_a(
    emu: Emulator,
    sdk: dropbox.Dropbox,
    folder: Folder,
    posted_sha: set[str],
    plan: Plan,
    b: list[Attempt],
    per_download_ms: float,
) -> dict[str, Any]:
    """Run A within the budget, or say it was not run and estimate it."""
    size, listing = len(folder.paths), summarize(b)
    downloads = expected_downloads(size, len(posted_sha))
    # Until a cell has measured it, a download is assumed to cost 5 ms (only to decide).
    estimate_ms = listing["ms"] + downloads * (per_download_ms or 5.0)
    if estimate_ms > plan.a_budget_seconds * 1000:
        return {
            "status": "not_run",
            "downloads": round(downloads),
            "api_calls": listing["api_calls"] + round(downloads),
            "bytes_downloaded": round(downloads) * IMAGE_SIZE,
            "ms_estimate": round(estimate_ms, 1),
            "estimate_basis_ms_per_download": round(per_download_ms, 3),
        }
    reps = max(1, min(plan.reps, int(plan.a_budget_seconds * 1000 // max(estimate_ms, 1))))
    stopwatch = Stopwatch()
    attempts = [
        measure(emu, partial(download_and_hash, sdk, folder.path, posted_sha, rep, stopwatch))
        for rep in range(reps)
    ]
    summary = summarize(attempts)
    fetched = sum(attempt.downloads for attempt in attempts)
    summary["per_download_ms"] = (
        round(stopwatch.seconds * 1000 / fetched, 3) if fetched >= 50 else None
    )
    return summary


def _ratios(cell: dict[str, Any]) -> dict[str, Any]:
    c, ratios = cell["C"], {}
    for name in ("A", "B"):
        other = cell[name]
        ms = other.get("ms", other.get("ms_estimate"))
        ratios[f"{name}/C_ms"] = round(ms / c["ms"], 1) if c["ms"] else None
        calls = other["api_calls"]
        ratios[f"{name}/C_api_calls"] = (
            round(calls / c["api_calls"], 1) if c["api_calls"] else ("inf" if calls else None)
        )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 2k")
    args = parser.parse_args()
    print(json.dumps(run(QUICK if args.quick else FULL), indent=2))


if __name__ == "__main__":
    main()
