"""``python -m bench``: every benchmark in one run, written to a page and a JSON file.

    python -m bench [--quick] [--out docs/benchmarks.md] [--json bench/results.json]
                    [--only strategies,select_load,catch_up,webhook_burst,postgres,
                            near_duplicates,near_costs,channels,fresh_plans,render,
                            postgres_parallel,webhooks_out,rotation,many_tenants]

``--quick`` runs small sizes (the whole run in about three minutes) and is what CI smoke
tests; the full run takes about forty minutes, eight minutes of it the initial catch-up
of a million files into each store. ``--only`` re-runs some sections and keeps the
others from the existing JSON file (each section records when it ran). A section that
fails is recorded as failed, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import (
    catch_up,
    channels,
    fresh_plans,
    many_tenants,
    near_costs,
    near_duplicates,
    postgres,
    postgres_parallel,
    render,
    report,
    rotation,
    select_load,
    strategies,
)

Section = Callable[[], dict[str, Any]]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, Any]:
    """What the run ran on: a shared, noisy machine is part of the result."""
    cpu = _first_line_with("/proc/cpuinfo", "model name")
    memory_kib = _first_line_with("/proc/meminfo", "MemTotal").split()[0]
    wrk = shutil.which("wrk")
    wrk_version = (
        subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
        if wrk
        else None
    )
    return {
        "date": now(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(memory_kib) / 1024**2, 1) if memory_kib.isdigit() else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "dropbox_sdk": metadata.version("dropbox"),
        "wrk": wrk_version.split(" [")[0] if wrk_version else None,
        "load_average_before": load_average(),
        "commit": _commit(),
    }


def _commit() -> str | None:
    """The checkout measured: its commit, and whether it had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" with uncommitted changes" if dirty else "")


def _first_line_with(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


@dataclass(frozen=True)
class Mode:
    name: str
    sections: dict[str, Section]


def _webhooks_out(**sizes: Any) -> Section:
    def section() -> dict[str, Any]:
        from bench import webhooks_out  # the whole service: only for this section

        return webhooks_out.run(**sizes)

    return section


def _webhook_burst(count: int) -> Section:
    def section() -> dict[str, Any]:
        from bench import webhook_burst

        return webhook_burst.run(count=count)

    return section


FULL = Mode(
    "full",
    {
        "strategies": lambda: strategies.run(strategies.FULL),
        "select_load": lambda: select_load.run(
            (1_000, 100_000, 1_000_000), 5.0, 4, expiring=10_000
        ),
        "catch_up": lambda: catch_up.run(
            100_000, changes=20, reps=3, other_sizes=(10_000, 1_000_000)
        ),
        "webhook_burst": _webhook_burst(1_000),
        "postgres": lambda: postgres.run(
            (1_000, 1_000_000),
            5.0,
            2,
            100_000,
            200_000,
            100_000,
            expiring=10_000,
            catch_up_other_sizes=(10_000, 1_000_000),
            burst=1_000,
        ),
        "near_duplicates": lambda: near_duplicates.run(scenes=40),
        "near_costs": lambda: near_costs.run(
            100_000, 5, (100_000, 1_000_000), (1_000, 1_000_000), 5.0, 4
        ),
        "channels": lambda: channels.run(50, 50_000, 5.0, 3),
        "postgres_parallel": lambda: postgres_parallel.run(200_000, 5.0),
        "fresh_plans": lambda: fresh_plans.run(100_000, 5.0, 3),
        "render": lambda: render.run(reps=3, requests=200),
        "webhooks_out": _webhooks_out(rounds=1_000, catch_up_size=100_000, events=10_000),
        "rotation": lambda: rotation.run(1_000, 100, 300, 3),
        "many_tenants": lambda: many_tenants.run(1_000, 3, 30.0),
    },
)
QUICK = Mode(
    "quick",
    {
        "strategies": lambda: strategies.run(strategies.QUICK),
        "select_load": lambda: select_load.run((1_000, 20_000), 3.0, 1, expiring=1_000),
        "catch_up": lambda: catch_up.run(5_000, changes=10, reps=2, other_sizes=(1_000, 20_000)),
        "webhook_burst": _webhook_burst(200),
        "postgres": lambda: postgres.run(
            (1_000, 20_000),
            3.0,
            1,
            5_000,
            10_000,
            50_000,  # 10,000 files were all listed before the second replica started
            expiring=1_000,
            catch_up_other_sizes=(1_000, 20_000),
            burst=200,
        ),
        "near_duplicates": lambda: near_duplicates.run(scenes=8),
        "near_costs": lambda: near_costs.run(5_000, 2, (10_000,), (1_000, 10_000), 3.0, 1),
        "channels": lambda: channels.run(10, 5_000, 2.0, 1),
        "postgres_parallel": lambda: postgres_parallel.run(20_000, 3.0),
        "fresh_plans": lambda: fresh_plans.run(20_000, 3.0, 2),
        "render": lambda: render.run(reps=1, requests=30),
        "webhooks_out": _webhooks_out(
            rounds=200, catch_up_size=5_000, events=2_000, reps=2, paced=200
        ),
        "rotation": lambda: rotation.run(200, 20, 50, 1),
        "many_tenants": lambda: many_tenants.run(50, 3, 5.0, 1.0),
    },
)


def run_sections(
    mode: Mode, only: list[str], results: dict[str, Any], isolated: bool = False
) -> bool:
    """Run the chosen sections into ``results["sections"]``; False if any failed.

    ``isolated``: each section in a fresh process of its own (``--section``). Several
    sections run the service or the emulator inside the benchmark's process; after a
    section that held a million files' metadata, the objects it left behind slow the
    next one's garbage collections, and the service in it with them (one change took
    173 ms to reach ``/select`` there, 11 ms in a fresh process)."""
    ok = True
    for name, section in mode.sections.items():
        if only and name not in only:
            continue
        print(f"bench: {name} ({mode.name}) ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            run = partial(_in_a_process, name, mode) if isolated else section
            figures: dict[str, Any] = {"status": "ok", **run()}
        except Exception as exc:  # one broken benchmark must not hide the others
            ok = False
            figures = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        figures["seconds"] = round(time.perf_counter() - started, 1)
        figures["finished_at"] = now()
        results["sections"][name] = figures
        print(f"bench: {name} {figures['status']} in {figures['seconds']} s", file=sys.stderr)
    return ok


def _in_a_process(name: str, mode: Mode) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-section-") as work:
        out = Path(work) / "figures.json"
        command = [sys.executable, "-m", "bench", "--section", name, "--section-out", str(out)]
        subprocess.run(command + (["--quick"] if mode is QUICK else []), check=True)
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--only", default="", help="comma-separated sections to re-run")
    parser.add_argument("--section", help=argparse.SUPPRESS)  # one section, in this process
    parser.add_argument("--section-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the services' own warnings are not results
    mode = QUICK if args.quick else FULL
    if args.section:
        args.section_out.write_text(json.dumps(mode.sections[args.section]()))
        return 0
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(mode.sections)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    results = _previous(args.json, mode.name) if only else {}
    results.update(mode=mode.name, machine=machine(), sections=results.get("sections", {}))
    results["command"] = "python -m bench" + (" --quick" if args.quick else "")
    started = time.perf_counter()
    ok = run_sections(mode, only, results, isolated=True)
    results["machine"]["load_average_after"] = load_average()
    results["runtime_seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report.render(results))
    print(f"bench: wrote {args.out} and {args.json} in {results['runtime_seconds']} s")
    return 0 if ok else 1


def _previous(path: Path, mode: str) -> dict[str, Any]:
    """The existing results of the same mode, to keep the sections not re-run."""
    if not path.exists():
        return {}
    previous: dict[str, Any] = json.loads(path.read_text())
    return previous if previous.get("mode") == mode else {}


if __name__ == "__main__":
    sys.exit(main())
