"""The near-duplicate sections of ``docs/benchmarks.md``, and their targets (SQLite's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.near_duplicates import CAUGHT, NOT_CAUGHT
from bench.report_format import table as _table
from bench.report_targets import section as _section


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def quality(figures: dict[str, Any]) -> str:
    q, api, worker = figures["quality"], figures["api"], figures["worker"]
    false = q["different_photographs"]
    text = (
        f"{figures['photographs']} photographs bundled with scikit-image and "
        f"{figures['scenes']} drawn scenes, each exported as an original and ten variants "
        f"({figures['files']} files), put into the emulator, listed by a catch-up, and "
        "hashed by the service's worker from the emulator's `get_thumbnail_batch` "
        f"thumbnails. Distance {figures['distance']} bits of 256 (the default):\n\n"
    )
    rows = [
        [kind, _pct(q[kind]["recall"]), _pct(q[kind]["precision"]),
         _pct(q[kind].get("grouped_with_original")), str(q[kind]["pairs"])]
        for kind in CAUGHT + NOT_CAUGHT
    ]  # fmt: skip
    text += _table(["variant", "recall", "precision", "grouped with its original", "pairs"], rows)
    text += (
        f"\nDifferent photographs: {false['matches']} of {false['pairs']:,} pairs within the "
        f"distance (rate {false['rate']:.2g}); the nearest two are {false['nearest']} bits "
        f"apart. Unhashable: {len(figures['unhashable'])} files. API calls: "
        f"{api['get_thumbnail_batch']} `get_thumbnail_batch` for {figures['files']} new "
        f"pictures ({api['calls_per_new_image']} a picture), {api['downloads']} downloads. "
        f"The worker took {worker['wall_ms_per_image']} ms a picture (wall, with the "
        f"emulator rendering thumbnails in the same process) and "
        f"{worker['service_cpu_ms_per_image']} ms of its own thread's CPU.\n\n"
    )
    return text + _alternatives(figures["alternatives"])


def _alternatives(alternatives: dict[str, Any]) -> str:
    rows = []
    for label, found in alternatives.items():
        for limit, q in found["by_distance"].items():
            false = q["different_photographs"]
            rows.append(
                [label, limit, *(_pct(q[kind]["recall"]) for kind in CAUGHT),
                 f"{false['matches']}/{false['pairs']:,}", str(false["nearest"])]
            )  # fmt: skip
    return (
        "The choice, on the same thumbnails: recall per variant and false matches between "
        "different photographs, by hash and distance (pHash has 64 bits, PDQ 256):\n\n"
        + _table(["hash", "distance", *CAUGHT, "false matches", "nearest different"], rows)
    )


def costs(figures: dict[str, Any]) -> str:
    catch_up, select = figures["catch_up"], figures["select"]
    rows = [
        [f"{i['size']:,}", f"{i['fill_seconds']} s", f"{i['search_p50_ms']} ms",
         f"{i['search_p99_ms']} ms"]
        for i in figures["index"]
    ]  # fmt: skip
    p50 = select["p50_ms"]
    sizes = list(p50)
    return (
        f"Catch-up of {catch_up['size']:,} new files ({catch_up['reps']} runs each, "
        f"medians): {catch_up['with_backlog_seconds']} s with the hashing backlog, "
        f"{catch_up['without_backlog_seconds']} s without it: "
        f"{catch_up['added_seconds_per_100k']} s per 100k ({catch_up['added_share']:+.1%}). "
        "The hashing runs after, in its own thread.\n\n"
        "Neighbour search (`NeighbourIndex`, vectorised popcount, exact):\n\n"
        + _table(["fingerprints", "fill", "search p50", "search p99"], rows)
        + "\n`/select` with a group for every tenth image, half of them posted and their "
        "near-duplicates skipped (16 connections): p50 "
        + ", ".join(f"{p50[s]} ms at {int(s):,}" for s in sizes)
        + f" ({select['ratio']}x); the same catalogs without groups: "
        + ", ".join(f"{select['without_groups_p50_ms'][s]} ms at {int(s):,}" for s in sizes)
        + "; one connection, with groups: "
        + ", ".join(f"{select['one_connection_p50_ms'][s]} ms at {int(s):,}" for s in sizes)
        + ".\n"
    )


def judge_calls(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _section(sections, "near_duplicates")
    if figures is None:
        return "not run", None
    api, files = figures["api"], figures["files"]
    batches = -(-files // 25)  # the last call of a run carries what is left
    text = (
        f"{api['get_thumbnail_batch']} calls for {files:,} new pictures ({batches} batches "
        f"of at most 25), {api['downloads']} downloads"
    )
    return text, api["get_thumbnail_batch"] <= batches and api["downloads"] == 0


def judge_select(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _section(sections, "near_costs")
    if figures is None:
        return "not run", None
    select = figures["select"]
    sizes = list(select["p50_ms"])
    text = (
        f"{select['p50_ms'][sizes[-1]]} ms at {int(sizes[-1]):,} vs "
        f"{select['p50_ms'][sizes[0]]} ms at {int(sizes[0]):,}: {select['ratio']}x"
    )
    return text, select["ratio"] <= 1.25


def judge_catch_up(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _section(sections, "near_costs")
    if figures is None:
        return "not run", None
    catch_up = figures["catch_up"]
    text = f"{catch_up['added_seconds_per_100k']} s per 100k ({catch_up['added_share']:+.1%})"
    return text, catch_up["added_share"] <= 0.10


TARGETS: list[tuple[str, Callable[[dict[str, Any]], tuple[str, bool | None]]]] = [
    ("near-duplicates: 1 API call per 25 new pictures, 0 downloads", judge_calls),
    ("near-duplicates: `/select` p50 at 1M within 1.25x of 1k, skipping", judge_select),
    ("near-duplicates: catch-up slowed by at most 10%", judge_catch_up),
]
