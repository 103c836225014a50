"""From start to the first ``/select``: start-to-ready time and the first selections.

A caught-up SQLite catalog of ``images`` pictures is bulk-loaded once (``state.sqlite.bulk``)
and copied for each run; each run starts ``python -m app serve`` on its copy and times,
from the process's start, when ``/readyz`` first answers 200 (and, from its log, how long
the lifespan's startup took, without the interpreter's imports), then the first leasing
``/select``, a second one and a preview, each alone on one connection. The service's
``pool_loaded`` log events say who waited for the pool to be read. ``--code DIR`` runs
the service from another checkout (``git archive COMMIT | tar -x -C DIR``), to set this
tree against an earlier one on the same catalog; ``--catalog FILE`` keeps the loaded
catalog there for the next run (which points its cursor at its own emulator), so that
runs after the first spend their minutes on the services alone.

    python -m bench.warm_start [--images 1000000] [--code DIR ...] [--catalog FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.select_load import FOLDER, latest_cursor, spawn
from bench.strategies import API_TOKEN
from emulator import Emulator, EmulatorServer
from state import DATABASE_FILE
from state.sqlite.bulk import bulk_load

_STARTUP = ("Waiting for application startup.", "Application startup complete.")
_REQUESTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("first_select", {}),
    ("second_select", {}),
    ("first_preview", {"dry_run": True}),
)


def run(
    images: int = 1_000_000, code: tuple[str, ...] = ("",), catalog: Path | None = None
) -> dict[str, Any]:
    """One run per checkout in ``code`` ("": this one), in that order, on one catalog."""
    emu = Emulator()
    emu.create_folder(FOLDER)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        work = Path(tmp)
        catalog = catalog or work / DATABASE_FILE
        started = time.perf_counter()
        _catalog(catalog, images, latest_cursor(server.base_url, emu.access_token))
        loaded = time.perf_counter() - started
        runs = [_one(emu, server.base_url, work, catalog, n, t) for n, t in enumerate(code)]
    return {"benchmark": "warm_start", "images": images, "catalog_seconds": round(loaded, 1),
            "runs": runs}  # fmt: skip


def _catalog(path: Path, images: int, cursor: str) -> None:
    """A caught-up catalog of ``images`` at ``path``: loaded, or kept from a run before
    (its cursor then this emulator's)."""
    if not path.exists():
        bulk_load(path, images, cursor, folder=FOLDER)
        return
    db = sqlite3.connect(path)
    try:
        (held,) = db.execute("SELECT count(*) FROM images").fetchone()
        if held != images:
            raise RuntimeError(f"{path} holds {held} images, not {images}")
        with db:
            db.execute("UPDATE libraries SET cursor = ?", (cursor,))
    finally:
        db.close()


def _one(
    emu: Emulator, emulator_url: str, work: Path, catalog: Path, n: int, tree: str
) -> dict[str, Any]:
    state = work / f"state-{n}"
    state.mkdir()
    shutil.copy(catalog, state / DATABASE_FILE)
    extra = {"LOG_LEVEL": "INFO", "NEAR_DUPLICATE_HASHING": "false"}
    if tree:
        extra["PYTHONPATH"] = f"{tree}:{tree}/client/src"
    started = time.perf_counter()
    with spawn(emu, emulator_url, work, str(n), state, extra) as (process, base_url):
        client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"})
        ready = _until_ready(client, process.poll) - started
        timed = {name: _timed(client, body) for name, body in _REQUESTS}
        client.close()
    events = _events(work / f"service-{n}.log")
    loads = [
        {key: event.get(key) for key in ("on", "images", "seconds")}
        for event in events
        if event.get("event") == "pool_loaded"
    ]
    return {"code": tree or "this tree", "start_to_ready_seconds": round(ready, 2),
            "lifespan_startup_seconds": _startup(events),
            **{f"{k}_ms": v for k, v in timed.items()}, "pool_loads": loads}  # fmt: skip


def _startup(events: list[dict[str, Any]]) -> float:
    """From uvicorn's "Waiting for application startup." to "Application startup
    complete.": the lifespan's own time, without the interpreter's imports."""
    at = {
        event["message"]: datetime.strptime(event["time"], "%Y-%m-%d %H:%M:%S,%f")
        for event in events
        if event.get("message") in _STARTUP and "time" in event
    }
    return round((at[_STARTUP[1]] - at[_STARTUP[0]]).total_seconds(), 2)


def _until_ready(client: httpx.Client, exited: Any) -> float:
    while True:
        if exited() is not None:
            raise RuntimeError("the service exited before it was ready")
        try:
            if client.get("/readyz", timeout=5).status_code == 200:
                return time.perf_counter()
        except httpx.TransportError:
            pass
        time.sleep(0.02)


def _timed(client: httpx.Client, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    reply = client.post("/select", json=body, timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    reply.raise_for_status()
    return round(elapsed, 1)


def _events(log: Path) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            events.append(record)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--code", action="append", help="a checkout to run (repeatable)")
    parser.add_argument("--catalog", type=Path, help="where to keep the loaded catalog")
    args = parser.parse_args()
    code = tuple(args.code or ("",))  # "" is this tree
    print(json.dumps(run(args.images, code, args.catalog), indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
