"""``python -m bench``: every benchmark in one run, written to a page and a JSON file.

    python -m bench [--quick] [--out docs/benchmarks.md] [--json bench/results.json]
                    [--only strategies,select_load,catch_up,webhook_burst]

``--quick`` runs small sizes (the whole run in under two minutes) and is what CI smoke
tests; the full run takes about twenty minutes. ``--only`` re-runs some sections and
keeps the others from the existing JSON file (each section records when it ran). A
section that fails is recorded as failed, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import catch_up, report, select_load, strategies

Section = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Mode:
    name: str
    sections: dict[str, Section]


def _webhook_burst(count: int) -> Section:
    def section() -> dict[str, Any]:
        from bench import webhook_burst  # another engineer's module; may be absent

        return webhook_burst.run(count=count)

    return section


FULL = Mode(
    "full",
    {
        "strategies": lambda: strategies.run(strategies.FULL),
        "select_load": lambda: select_load.run((1_000, 100_000, 1_000_000), 10.0, 2),
        "catch_up": lambda: catch_up.run(100_000, changes=20, reps=3),
        "webhook_burst": _webhook_burst(1_000),
    },
)
QUICK = Mode(
    "quick",
    {
        "strategies": lambda: strategies.run(strategies.QUICK),
        "select_load": lambda: select_load.run((1_000, 10_000), 3.0, 1),
        "catch_up": lambda: catch_up.run(5_000, changes=10, reps=2),
        "webhook_burst": _webhook_burst(200),
    },
)


def run_sections(mode: Mode, only: list[str], results: dict[str, Any]) -> bool:
    """Run the chosen sections into ``results["sections"]``; False if any failed."""
    ok = True
    for name, section in mode.sections.items():
        if only and name not in only:
            continue
        print(f"bench: {name} ({mode.name}) ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figures: dict[str, Any] = {"status": "ok", **section()}
        except Exception as exc:  # one broken benchmark must not hide the others
            ok = False
            figures = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        figures["seconds"] = round(time.perf_counter() - started, 1)
        figures["ran_at"] = report.now()
        results["sections"][name] = figures
        print(f"bench: {name} {figures['status']} in {figures['seconds']} s", file=sys.stderr)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--only", default="", help="comma-separated sections to re-run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the services' own warnings are not results
    mode = QUICK if args.quick else FULL
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(mode.sections)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    results = _previous(args.json, mode.name) if only else {}
    results.update(mode=mode.name, machine=report.machine(), sections=results.get("sections", {}))
    results["command"] = "python -m bench" + (" --quick" if args.quick else "")
    started = time.perf_counter()
    ok = run_sections(mode, only, results)
    results["machine"]["load_average_after"] = report.load_average()
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
