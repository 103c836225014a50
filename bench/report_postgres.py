"""The PostgreSQL part of ``docs/benchmarks.md``: its targets and its section, beside SQLite's.

Rendered from the ``postgres`` section of the results; the SQLite figures it sets
beside are the ``select_load`` and ``catch_up`` sections of the same results file
(re-run apart with ``--only``, each section records when it ran).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Judge = Callable[[dict[str, Any]], tuple[str, bool | None]]


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.2f} ms"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _figures(sections: dict[str, Any], name: str = "postgres") -> dict[str, Any] | None:
    figures = sections.get(name)
    return figures if figures and figures.get("status") == "ok" else None


def _scale(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _figures(sections)
    if figures is None:
        return "not run", None
    small, large = figures["select"]["sizes"][0], figures["select"]["sizes"][-1]
    ratio = large["select"]["p50_ms"] / small["select"]["p50_ms"]
    text = (
        f"{_ms(large['select']['p50_ms'])} at {_n(large['size'])} vs "
        f"{_ms(small['select']['p50_ms'])} at {_n(small['size'])}: {ratio:.2f}x"
    )
    return text, ratio <= 1.25


def _replicas(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _figures(sections)
    if figures is None:
        return "not run", None
    replicas = figures["replicas"]
    one = replicas["one_replica"]["requests_per_second"]
    two = replicas["two_replicas_requests_per_second"]
    return f"leasing selects: {_n(one)} req/s on one, {_n(two)} req/s on two", None


def _catch_up(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _figures(sections)
    if figures is None:
        return "not run", None
    initial = figures["catch_up"]
    return f"{initial['seconds']:.1f} s for {_n(initial['size'])} files", initial["seconds"] < 10


def _takeover(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = _figures(sections)
    if figures is None:
        return "not run", None
    takeover = figures["takeover"]
    return (
        f"{takeover['seconds']:.1f} s from the SIGKILL to the listing of "
        f"{_n(takeover['size'])} files finished (a {takeover['grace_seconds']:g} s grace included)",
        None,
    )


TARGETS: list[tuple[str, Judge]] = [
    ("PostgreSQL: `/select` p50 at 1M within 1.25x of p50 at 1k", _scale),
    ("PostgreSQL: one replica, and two on one database", _replicas),
    ("PostgreSQL: initial catch-up of 100k files under 10 s", _catch_up),
    ("PostgreSQL: a replica's death to another's finished catch-up", _takeover),
]


def section(figures: dict[str, Any], sqlite: dict[str, Any]) -> str:
    """The PostgreSQL figures, each beside its SQLite counterpart where there is one."""
    return "\n".join(
        [_select(figures, sqlite), _replica_text(figures), _catch_up_text(figures, sqlite)]
    )


def _select(figures: dict[str, Any], sqlite: dict[str, Any]) -> str:
    sqlite_sizes = {s["size"]: s for s in (sqlite.get("select_load") or {}).get("sizes", [])}
    rows = []
    for size in figures["select"]["sizes"]:
        other = sqlite_sizes.get(size["size"])
        rows.append(
            f"| {_n(size['size'])} | {size['bulk_load_seconds']:.1f} s "
            f"| {_ms(size['select']['p50_ms'])} / {_ms(size['select']['p99_ms'])} "
            f"| {_n(size['select']['requests_per_second'])} "
            f"| {_ms(size['select_one_connection']['p50_ms'])} "
            + (_beside(other) if other else "| not measured |")
        )
    leasing = figures["select"]["leasing"]
    return (
        f"PostgreSQL {figures['server']}, a throwaway cluster on this machine (`fsync` on, "
        "`synchronous_commit=off`: the counterpart of SQLite's `synchronous=NORMAL`). One "
        "`serve` process per catalog, loaded by `state/postgres/bulk.py`; the same load as "
        "section 2 (16 connections, dry runs).\n\n"
        "| images | bulk load | select p50 / p99 | select req/s | 1 conn p50 "
        "| SQLite (section 2): select p50 / req/s |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nLeasing selects on {_n(leasing['size'])} images: p50 {_ms(leasing['p50_ms'])}, "
        f"{_n(leasing['requests_per_second'])} req/s, {leasing['failures']} failures.\n"
    )


def _beside(sqlite_size: dict[str, Any]) -> str:
    select = sqlite_size["select"]
    return f"| {_ms(select['p50_ms'])} / {_n(select['requests_per_second'])} |"


def _replica_text(figures: dict[str, Any]) -> str:
    replicas = figures["replicas"]
    one, both = replicas["one_replica"], replicas["two_replicas"]
    per = ", ".join(f"{_n(r['requests_per_second'])} req/s (p50 {_ms(r['p50_ms'])})" for r in both)
    return (
        f"\n### Replicas\n\nLeasing `/select` (`{{}}`) in one channel of "
        f"{_n(replicas['size'])} images, 16 connections per replica: one replica "
        f"{_n(one['requests_per_second'])} req/s (p50 {_ms(one['p50_ms'])}); two replicas of "
        f"one database at once: {per}, together "
        f"{_n(replicas['two_replicas_requests_per_second'])} req/s "
        f"({replicas['scaling']:.2f}x). Selections in one channel take the channel's row "
        "lock in turn, across replicas; on two cores shared by both replicas, the server "
        "and the load generator, a second replica adds availability, not throughput.\n"
    )


def _catch_up_text(figures: dict[str, Any], sqlite: dict[str, Any]) -> str:
    initial, takeover = figures["catch_up"], figures["takeover"]
    sqlite_initial = (sqlite.get("catch_up") or {}).get("initial")
    beside = (
        f" (SQLite, section 3: {sqlite_initial['seconds']:.2f} s for "
        f"{_n((sqlite.get('catch_up') or {}).get('size', 0))} files)"
        if sqlite_initial
        else ""
    )
    runs = ", ".join(f"{r['seconds']:.1f} s" for r in takeover["runs"])
    return (
        f"\n### Catch-up and takeover\n\nInitial catch-up of {_n(initial['size'])} files into "
        f"an empty PostgreSQL store (median of {initial['reps']}): {initial['seconds']:.2f} s, "
        f"{_n(initial['entries_per_second'])} entries/s{beside}.\n\n"
        f"A replica SIGKILLed a third of the way through the first listing of "
        f"{_n(takeover['size'])} files (the emulator taking {takeover['page_delay_seconds']:g} s"
        f" per page, as Dropbox takes its time), with a second replica running: the listing "
        f"was finished by the second {takeover['seconds']:.1f} s after the kill (median; "
        f"runs: {runs}; pages left at the kill: "
        f"{', '.join(str(r['pages_left']) for r in takeover['runs'])}). "
        "That includes up to a second until a poll finds the turn free and the "
        f"{takeover['grace_seconds']:g} s a replica waits before taking over from one that "
        "died, for the dead one's calls still in flight at Dropbox.\n"
    )
