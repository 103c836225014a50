"""The rendering section of ``docs/benchmarks.md`` and its two targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_format import mb, ms, ratio, table
from bench.report_targets import section


def body(figures: dict[str, Any]) -> str:
    header = ["picture", "input", "render (median)", "peak memory added", "output"]
    rows = [_row(name, cell) for name, cell in figures["pictures"].items()]
    first, *later = figures["downloads_per_request"]
    return (
        'Each picture rendered to a 1080-pixel 4:5 JPEG (`aspect = "4:5"`, `max_side = '
        f"1080`), {figures['reps']} times in a process of its own: the median time, and the "
        "peak memory the renders added to it (`VmHWM`).\n\n"
        + table(header, rows)
        + f"\nThrough the service and the emulator: the first `/select` with `render: true` "
        f"downloaded {first} original(s); the same picture in a second channel of the same "
        f"profile, then again in the first: {', '.join(str(d) for d in later)}. On the "
        f"cached picture, {figures['requests']} previews of each, alternating: "
        f"{ms(figures['select_render_cached_ms'])} with `render: true`, "
        f"{ms(figures['select_ms'])} without ({ratio(figures['render_cached_vs_plain'])}).\n"
    )


def _row(name: str, cell: dict[str, Any]) -> list[str]:
    made = cell["output"]
    return [
        f"{cell['megapixels']:g}-megapixel {name.upper()}",
        mb(cell["input_bytes"]),
        ms(cell["render_seconds"] * 1000),
        f"{cell['peak_added_mib']:.0f} MiB",
        f"{made['width']}x{made['height']} JPEG, {mb(made['bytes'])}",
    ]


def judge_downloads(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = section(sections, "render")
    if figures is None:
        return "not run", None
    downloads = figures["downloads_per_request"]
    return ", ".join(str(d) for d in downloads), downloads[0] == 1 and not any(downloads[1:])


def judge_select(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = section(sections, "render")
    if figures is None:
        return "not run", None
    share = figures["render_cached_vs_plain"]
    return f"{ratio(share)} ({ms(figures['select_render_cached_ms'])})", share <= 1.5


TARGETS: list[tuple[str, Callable[[dict[str, Any]], tuple[str, bool | None]]]] = [
    ("rendering: downloads per rendered picture 1 the first time, 0 after", judge_downloads),
    ("rendering: `/select` with `render: true` on a cached picture within 1.5x", judge_select),
]
