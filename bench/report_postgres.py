"""The PostgreSQL section of ``docs/benchmarks.md``: what only PostgreSQL measures, beside SQLite.

Rendered from the ``postgres`` section of the results: ``/select`` at each size beside
the ``select_load`` section of the same results file (re-run apart with ``--only``,
each section records when it ran), leasing, replicas and takeover. Its other figures
stand in the targets and beside SQLite's in the earlier sections.
"""

from __future__ import annotations

from typing import Any

from bench.report_format import leasing_text, ms, n


def section(figures: dict[str, Any], sqlite: dict[str, Any]) -> str:
    """The PostgreSQL figures, each beside its SQLite counterpart where there is one."""
    return "\n".join([_select(figures, sqlite), _replica_text(figures), _takeover_text(figures)])


def _select(figures: dict[str, Any], sqlite: dict[str, Any]) -> str:
    sqlite_sizes = {s["size"]: s for s in (sqlite.get("select_load") or {}).get("sizes", [])}
    rows = []
    for size in figures["select"]["sizes"]:
        other = sqlite_sizes.get(size["size"])
        rows.append(
            f"| {n(size['size'])} | {size['bulk_load_seconds']:.1f} s "
            f"| {ms(size['select']['p50_ms'])} / {ms(size['select']['p99_ms'])} "
            f"| {n(size['select']['requests_per_second'])} "
            f"| {ms(size['select_one_connection']['p50_ms'])} "
            + (_beside(other) if other else "| not measured |")
        )
    return (
        f"PostgreSQL {figures['server']}, a throwaway cluster on this machine (`fsync` on, "
        "`synchronous_commit=off`: the counterpart of SQLite's `synchronous=NORMAL`). One "
        "`serve` process per catalog, loaded by `state/postgres/bulk.py`; the same load as "
        "section 2 (16 connections, dry runs).\n\n"
        "| images | bulk load | select p50 / p99 | select req/s | 1 conn p50 "
        "| SQLite (section 2): select p50 / req/s |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n"
        + leasing_text(figures["select"]["leasing"])
        + "\n`/status` and `/metrics`, leases running out at once, memory: section 2; the "
        "initial catch-up at each size: section 3; the webhook burst: section 4.\n"
    )


def _beside(sqlite_size: dict[str, Any]) -> str:
    select = sqlite_size["select"]
    return f"| {ms(select['p50_ms'])} / {n(select['requests_per_second'])} |"


def _replica_text(figures: dict[str, Any]) -> str:
    replicas = figures["replicas"]
    one, both = replicas["one_replica"], replicas["two_replicas"]
    per = ", ".join(f"{n(r['requests_per_second'])} req/s (p50 {ms(r['p50_ms'])})" for r in both)
    return (
        f"\n### Replicas\n\nLeasing `/select` (`{{}}`) in one channel of "
        f"{n(replicas['size'])} images, 16 connections per replica: one replica "
        f"{n(one['requests_per_second'])} req/s (p50 {ms(one['p50_ms'])}); two replicas of "
        f"one database at once: {per}, together "
        f"{n(replicas['two_replicas_requests_per_second'])} req/s "
        f"({replicas['scaling']:.2f}x). Selections at random in one channel lease side by "
        "side, across replicas; here the two cores are shared by both replicas, the server "
        "and the load generator, so what a second replica adds in waiting is measured with "
        "the database 5 ms away (section 9).\n"
    )


def _takeover_text(figures: dict[str, Any]) -> str:
    takeover = figures["takeover"]
    runs = ", ".join(f"{r['seconds']:.1f} s" for r in takeover["runs"])
    return (
        f"\n### Takeover\n\nA replica SIGKILLed a third of the way through the first listing of "
        f"{n(takeover['size'])} files (the emulator taking {takeover['page_delay_seconds']:g} s"
        f" per page, as Dropbox takes its time), with a second replica running: the listing "
        f"was finished by the second {takeover['seconds']:.1f} s after the kill (median; "
        f"runs: {runs}; pages left at the kill: "
        f"{', '.join(str(r['pages_left']) for r in takeover['runs'])}). "
        "That includes up to a second until a poll finds the turn free and the "
        f"{takeover['grace_seconds']:g} s a replica waits before taking over from one that "
        "died, for the dead one's calls still in flight at Dropbox.\n"
    )
