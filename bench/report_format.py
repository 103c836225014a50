"""How figures are written on ``docs/benchmarks.md``: counts, times, sizes, ratios, tables,
and the sentence on leasing selects that both stores' sections use."""

from __future__ import annotations

from typing import Any

Row = list[str]


def n(value: float) -> str:
    return f"{value:,.0f}"


def ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.2f} ms"


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f} MB" if value >= 1e5 else f"{value / 1e3:,.1f} kB"


def ratio(value: Any) -> str:
    if value == "inf":
        return "∞ (C: 0)"
    return "n/a" if value is None else f"{value:,.0f}x" if value >= 10 else f"{value:.2f}x"


def table(header: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else "**met**" if met else "**missed**"


def target_line(measured: str, target: str, met: bool) -> str:
    """One figure against its target, as a list item: ``- measured (target t): verdict``."""
    return f"- {measured} (target {target}): {verdict(met)}"


def p50_p99(figures: dict[str, Any]) -> str:
    """A load run's median and 99th percentile latency."""
    return f"{ms(figures['p50_ms'])} / {ms(figures['p99_ms'])}"


def leasing_text(leasing: dict[str, Any]) -> str:
    share = leasing.get("vs_healthz_throughput")
    return (
        f"Real leasing selects (`{{}}`: each takes an image out of the pool) on "
        f"{n(leasing['size'])} images: p50 {ms(leasing['p50_ms'])}, p99 "
        f"{ms(leasing['p99_ms'])}, {n(leasing['requests_per_second'])} req/s"
        + (f" ({share:.0%} of that service's `/healthz`)" if share is not None else "")
        + f", {n(leasing['requests'])} leases, {leasing['failures']} failures.\n"
    )
