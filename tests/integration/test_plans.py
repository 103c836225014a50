"""No hot statement walks a library, whatever the planner's statistics say (both stores).

A library of 20,000 files is listed, then every statement that a selection, a preview,
a selection by name, a post, a release, a renewal, the status, the image lists (each
picture's copies counted), the history and the near-duplicates run is planned: on
tables just listed, with no statistics at all, and on tables the store analyzed.
SQLite's statements are traced and explained afterwards; PostgreSQL's plans are the
ones it executed, as ``auto_explain`` reports them (custom or generic, with the rows
each step read). A plan that reads a whole table, or a whole library or channel by its
leading column, fails, and so does a step that filters out rows by a key an index
holds; an index read in order under a ``LIMIT`` reads only as far as its page (the
ordered policies, a list's page).
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from state.changes import plan_page
from state.postgres import PostgresStore
from state.postgres.bulk import bulk_load
from state.postgres.connection import BULK_PLANS, open_pool
from state.postgres.selection import lease_at_random
from state.sqlite import SqliteStore
from state.store import ChannelDef, ImageQuery
from tests.contract.conftest import CHANNELS, KINDS, LIBRARIES, Clock, Harness, digest, gone, image
from tests.contract.test_near_duplicates import Hasher, fingerprint
from tests.integration.test_sqlite_store import _walks
from tests.postgres import catalog_sizes, forget_statistics
from tests.sqlite_files import opened

FILES = 20000
# Tables that grow with the catalog or the posts, and the channels, which grow with the
# tenants: a hosted service holds a thousand libraries with their channels
# (bench.many_tenants). The libraries are read by name or by key.
_LARGE = {
    "files", "images", "queue", "posted", "undone_posts", "leases", "holds", "fingerprints",
    "to_fingerprint", "channels",
    "near_groups", "near_members", "near_apart", "legacy_unresolved", "sha256_by_content_hash",
}  # fmt: skip
# Nodes that read all their input before giving a row: a LIMIT above them stops nothing.
_BLOCKING = {"Sort", "Hash", "Aggregate", "Materialize", "SetOp", "WindowAgg"}
# A library's images waiting for a digest, a channel's running leases and its holds:
# rows made one by one by publishers and operators, never a library's worth; and a
# library's channels, as many as are configured.
_FEW = {
    "images_pending", "leases_running", "leases_channel_expiry", "holds_pkey",
    "channels_by_library",
}  # fmt: skip
# The status counts a channel's pictures waiting for their fingerprint along their own
# index (``queue_awaiting``, whichever statement walks it): as many as the hashing backlog
# (a library's worth only while a first listing is being fingerprinted). Kept counts,
# never counted, are the next step, not taken yet.
_COUNTED = re.compile(r"\bqueue_awaiting\b")
_EXPLAINABLE = ("SELECT", "UPDATE", "DELETE", "WITH")
# ... and a channel's folders out of season: as many as its configured seasons.
_SQLITE_FEW = re.compile(r"channels|leases_by_channel_expiry|leases_running|holds|out_of_season")
_SEARCHABLE = re.compile(r"\((\w+\.)?(content_hash|path_lower|name_lower|stem) = ")
_LEADING = re.compile(r"^\(+(\w+\.)?(library_id|channel_id) = [^=]*$")
_EXPLAINED = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_level": "notice",
    "auto_explain.log_format": "json",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_timing": "off",
    "auto_explain.log_nested_statements": "on",
}


def fill(harness: Harness) -> None:
    harness.define()
    harness.listing(
        *(image(f"/p/{n}.jpg", str(n)) for n in range(FILES)),
        *(image(f"/p/{n}.txt", "") for n in range(0, FILES, 7)),
        image("/p/copy-of-5.jpg", "5"),
    )
    Hasher(harness).record(**{str(n): fingerprint(n % 100, n // 100) for n in range(300)})


def hot_paths(harness: Harness) -> None:
    """Selections in every policy, by name, previews, renewals, releases, posts and an undo; then
    the status, the lists (each picture's copies counted), the history and an image."""
    store = harness.store
    for policy in ("random", "oldest", "newest", "name"):
        harness.define(LIBRARIES, [*CHANNELS[1:], ChannelDef("ch", "lib", policy)])  # type: ignore[arg-type]
        harness.pick(dry_run=True)
        store.selections.release("ch", harness.lease_id())
    chosen = harness.select(name="5.jpg")
    assert chosen.lease is not None and chosen.duplicates == ("/p/copy-of-5.jpg",)
    store.selections.renew("ch", chosen.lease.id, 120)
    store.selections.lease_info("ch", chosen.lease.id)
    store.selections.mark_posted("ch", chosen.content_hash, chosen.lease.id, None)
    store.selections.archive_paths("lib", chosen.content_hash)
    harness.select(name="7.jpg", dry_run=True)
    harness.lease_id()
    store.selections.mark_posted("ch", digest("107"), None, None)
    store.selections.unpost("ch", digest("107"), "API_TOKEN")  # its group back with it
    store.selections.mark_posted("ch", digest("107"), None, None)
    store.near.split_near_duplicate("ch", digest("207"))
    store.near.near_groups("ch", None, 20)
    store.browsing.hold("ch", digest("11"))
    store.reports.library_status("lib")
    store.reports.channel_status("ch")
    for state in ("available", "leased", "held", "posted"):
        for prefix in (None, "1"):
            page = store.browsing.images("ch", ImageQuery(state, prefix, limit=60))  # type: ignore[arg-type]
            if page.next:
                store.browsing.images("ch", ImageQuery(state, prefix, page.next, limit=60))  # type: ignore[arg-type]
    history = store.browsing.history("ch", None, 1)
    store.browsing.history("ch", history.next, 1)
    store.browsing.image("ch", digest("5"))
    harness.change(image("/p/new.jpg", "new"), gone("/p/9.jpg"), image("/p/6.jpg", "6b"))
    store.catalog.pending_images("lib")  # after every catch-up
    Hasher(harness).record(new=fingerprint(7, 3), **{"6b": fingerprint(6, 2)})
    store.browsing.hold("ch", digest("13"), until=harness.clock.now + 60)
    store.browsing.end_due_holds(64)  # none due: the due index says so at once
    harness.clock.now += 60
    store.browsing.end_due_holds(64)


@pytest.mark.parametrize("statistics", ["none", "analyzed"])
def test_sqlite_plans_hold_with_and_without_statistics(tmp_path: Path, statistics: str) -> None:
    path, statements = tmp_path / "db.sqlite3", []
    recording = False

    def trace(statement: str) -> None:
        if recording:
            statements.append(statement)

    clock = Clock()
    harness = Harness(SqliteStore(path, clock=clock, trace=trace), clock, None)
    fill(harness)
    with opened(path) as db:
        if statistics == "analyzed":
            db.execute("ANALYZE")
        analyzed = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert analyzed.fetchone()[0] == (statistics == "analyzed")
    recording = True
    hot_paths(harness)
    recording = False
    harness.store.close()
    problems = {}
    reads = {s for s in statements if s.lstrip().upper().startswith(_EXPLAINABLE)}
    with opened(path) as db:
        for sql in reads:
            plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            first_rows = " LIMIT " in sql and not any("TEMP B-TREE" in step for step in plan)
            if (
                any(_walks(step) and not _SQLITE_FEW.search(step) for step in plan)
                and not first_rows
            ):
                problems[sql] = plan
    assert len(statements) > 100
    assert problems == {}, "\n".join(f"{k} -> {v}" for k, v in problems.items())


@pytest.mark.parametrize("statistics", ["none", "analyzed"])
def test_postgres_plans_hold_with_and_without_statistics(
    database_url: str, statistics: str, caplog: pytest.LogCaptureFixture
) -> None:
    explained = _explaining(database_url)
    clock = Clock()
    store = PostgresStore(explained, clock=clock, rng=random.Random(7), pool_size=4)
    harness = Harness(store, clock, None)
    try:
        sizes = catalog_sizes(database_url)
        fill(harness)
        if statistics == "none":
            forget_statistics(database_url, sizes)
        assert _analyzed(database_url) == (statistics == "analyzed")
        caplog.set_level(logging.DEBUG, logger="state.postgres.connection")
        caplog.clear()
        hot_paths(harness)
        plans = [_plan(record.getMessage()) for record in caplog.records]
    finally:
        store.close()
    plans = [plan for plan in plans if plan is not None]
    assert len(plans) > 100
    problems = {}
    for plan in plans:
        steps = _walking(plan["Plan"], under_limit=False)
        walked = [step for step in steps if not _COUNTED.search(step)]
        if walked:
            problems[plan["Query Text"]] = walked
    assert problems == {}, "\n\n".join(f"{k}\n  -> {v}" for k, v in problems.items())


def _explaining(url: str) -> str:
    """The database set so that each session reports every plan it runs, as a notice."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as admin:
        superuser = admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not superuser.fetchone()[0]:  # type: ignore[index]
            pytest.skip("auto_explain and the statistics' removal need a superuser")
        admin.execute("LOAD 'auto_explain'")
        for setting, value in _EXPLAINED.items():
            admin.execute(f'ALTER DATABASE "{name}" SET {setting} = {value!r}')
    return url


def _analyzed(url: str) -> bool:
    """Whether the catalog's tables have statistics (a first listing's analysis)."""
    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute(
            "SELECT count(DISTINCT starelid) FROM pg_statistic"
            " WHERE starelid = ANY(%s::regclass[])",
            (["files", "images", "queue"],),
        ).fetchone()
    return bool(row and row[0] == 3)


def _plan(message: str) -> dict[str, Any] | None:
    if not message.startswith("server NOTICE: duration:"):
        return None
    found: dict[str, Any] = json.loads(message.split("plan:", 1)[1])
    return found


def _walking(node: dict[str, Any], under_limit: bool) -> Iterator[str]:
    """The steps of a plan that read a whole table, library or channel."""
    kind = node["Node Type"]
    table = node.get("Relation Name")
    if table in _LARGE and _walks_node(node, under_limit):
        yield f"{kind} on {table} {node.get('Index Name', '')} {node.get('Index Cond', '')}"
    ordered = (under_limit or kind == "Limit") and kind not in _BLOCKING
    for child in node.get("Plans", ()):
        yield from _walking(child, ordered)


def _walks_node(node: dict[str, Any], under_limit: bool) -> bool:
    if node["Node Type"] == "Seq Scan":
        return True
    loops = max(int(node.get("Actual Loops", 1)), 1)
    removed = int(node.get("Rows Removed by Filter", 0)) / loops
    filtered = str(node.get("Filter", ""))
    if node["Node Type"] == "Bitmap Heap Scan":
        condition, searched = node.get("Recheck Cond"), True
    else:
        condition, searched = node.get("Index Cond"), "Index Name" in node
    leading_only = condition is None or bool(_LEADING.match(condition)) and " AND " not in condition
    if searched and leading_only and _SEARCHABLE.search(filtered):
        return True  # it skips rows of its own that the key it filters by would have found
    if _index_of(node) in _FEW:
        return False
    checks_state = "SubPlan" in filtered or "hashed" in filtered or "alternatives" in filtered
    first_rows = under_limit and searched and node["Node Type"] != "Bitmap Heap Scan"
    first_rows = first_rows and (not filtered or checks_state)
    if not searched:
        return removed > 20 and not first_rows
    return (leading_only or removed > 20) and not first_rows


def _index_of(node: dict[str, Any]) -> str | None:
    """The index a step reads: its own, or that of the bitmap it visits."""
    children = node.get("Plans", ())
    if node["Node Type"] == "Bitmap Heap Scan" and len(children) == 1:
        return children[0].get("Index Name")
    return node.get("Index Name")


def test_postgres_analyzes_after_a_listing_and_after_many_changes(database_url: str) -> None:
    """The catalog's row counts as the planner knows them move only with an analysis:
    when the first listing ends (not at each of its pages), not after a small change,
    again after many changes."""
    clock = Clock()
    harness = Harness(PostgresStore(database_url, clock=clock, pool_size=2), clock, None)
    try:
        harness.define()
        assert _known_files(database_url) < 0  # never analyzed (autovacuum is off)
        store, files = harness.store, [image(f"/p/{n}.jpg", str(n)) for n in range(1500)]
        store.catalog.begin_listing("lib")
        store.catalog.apply_page("lib", plan_page(files[:1200], KINDS), "c0", has_more=True)
        assert _known_files(database_url) < 0  # a listing is analyzed once, when it ends
        store.catalog.apply_page("lib", plan_page(files[1200:], KINDS), "c1", has_more=False)
        assert _known_files(database_url) == 1500
        harness.change(*(image(f"/p/small-{n}.jpg", f"s{n}") for n in range(20)))
        assert _known_files(database_url) == 1500
        for page in range(3):  # 1,220 files changed: under 1,000 and a tenth of the images
            harness.change(*(image(f"/p/{page}-{n}.jpg", f"{page}-{n}") for n in range(400)))
        assert _known_files(database_url) == 1500
        harness.change(*(image(f"/p/3-{n}.jpg", f"3-{n}") for n in range(400)))
        assert _known_files(database_url) == 3120
    finally:
        harness.store.close()


def test_postgres_leaves_the_tables_alone_after_a_small_librarys_listing(database_url: str) -> None:
    """A library of a few files listed: the shared tables are not analyzed for so few (a
    thousand such libraries listed at start analyzed them a thousand times)."""
    harness = Harness(PostgresStore(database_url, pool_size=2), Clock(), None)
    try:
        harness.define()
        harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(30)))
        assert harness.store.reports.library_status("lib").images == 30
        assert _known_files(database_url) < 0  # never analyzed (autovacuum is off)
    finally:
        harness.store.close()


_PLANS_MADE = (
    "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
    " FROM pg_prepared_statements"
)


def test_postgres_plans_a_small_change_once_per_connection(database_url: str) -> None:
    """A catch-up of a few changes (a webhook's) runs the session's lookup plans, each
    statement planned once for the connection; a page of many is planned afresh each
    time, with the bulk plans (``state.postgres.roles.catalog``)."""
    harness = Harness(PostgresStore(database_url, pool_size=1), Clock(), None)
    store = harness.store

    def made() -> tuple[int, int]:  # on the pool's one connection
        return store._read(lambda db: db.execute(_PLANS_MADE).fetchone())  # type: ignore[no-any-return]

    try:
        harness.define()
        harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(30)))
        for n in range(8):  # psycopg prepares a statement at its fifth run on a connection
            harness.change(image(f"/p/small-{n}.jpg", f"small-{n}"))
        generic, custom = made()
        assert generic > 100 and custom == 0
        for n in range(8):
            harness.change(*(image(f"/p/{n}-{m}.jpg", f"{n}-{m}") for m in range(150)))
        after_generic, after_custom = made()
        assert after_custom > 100 and after_generic - generic < after_custom
        assert store.reports.library_status("lib").images == 30 + 8 + 8 * 150
    finally:
        store.close()


def test_postgres_plans_the_counting_triggers_once_per_connection(
    migrated_database_url: str,
) -> None:
    """Every statement on ``files``, ``images`` and ``posted`` fires a trigger that keeps
    their counts, rows or none: its statement is planned once for the connection (schema
    version 15), not at every firing."""
    statements = [
        "DELETE FROM files WHERE library_id = -1",
        "DELETE FROM images WHERE library_id = -1",
        "DELETE FROM posted WHERE channel_id = -1",
        "UPDATE files SET size = size WHERE library_id = -1",
    ]
    first, then = _plannings(migrated_database_url, statements)
    assert first >= 2 * len(statements)  # the first run plans the statement and its trigger's
    assert then == 0


def test_postgres_plans_the_tally_once_per_connection(migrated_database_url: str) -> None:
    """Every lease that starts or ends adds to its connection's tally (its triggers call
    ``unposted_tally``, as the pool's changes do): the tally's statement is planned once
    for the connection (schema version 16); written in SQL, at every call."""
    first, then = _plannings(migrated_database_url, ["SELECT unposted_tally(-1, 1, 1)"])
    assert first >= 2
    assert then == 0


def _plannings(url: str, statements: list[str], rounds: int = 10) -> tuple[int, int]:
    """How many times the server planned on a connection running ``statements`` once,
    then ``rounds`` times more: it reports each planning to the client
    (``log_planner_stats``); the statements are prepared, so planned once themselves."""
    plannings: list[str] = []
    with psycopg.connect(url, autocommit=True) as db:
        db.add_notice_handler(lambda notice: plannings.append(notice.message_primary or ""))
        for setting in ("plan_cache_mode = force_generic_plan", "client_min_messages = log"):
            db.execute(f"SET {setting}")
        db.execute("SET log_planner_stats = on")
        for statement in statements:
            db.execute(statement, prepare=True)
        first = plannings.count("PLANNER STATISTICS")
        for _ in range(rounds):
            for statement in statements:
                db.execute(statement, prepare=True)
    return first, plannings.count("PLANNER STATISTICS") - first


def test_postgres_lease_reads_its_window_one_row_at_a_time(database_url: str) -> None:
    """A lease picks the row at a random place of a window of pool rows and locks it, or
    the next one round the window that no other transaction holds: it reads the rows in
    that order and stops at the first it locks (one read of the queue's key when the row
    is free), instead of reading all of them before locking one."""
    bulk_load(database_url, 200, "cursor")
    notices: list[str] = []
    pool = open_pool(_explaining(database_url), 1)
    try:
        with pool.connection() as db:
            db.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
            leased = lease_at_random(db, "default", random.Random(3), "lease-1", 4e9)
    finally:
        pool.close()
    assert leased is not None
    plans = [json.loads(n.split("plan:", 1)[1]) for n in notices if n.startswith("duration:")]
    (plan,) = [p for p in plans if "INSERT INTO leases" in p["Query Text"]]
    picked = next(n for n in _nodes(plan["Plan"]) if n.get("Subplan Name") == "CTE picked")
    reads = [n for n in _nodes(picked) if n.get("Index Name") == "queue_pkey"]
    assert [n["Actual Loops"] for n in reads] == [1]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


_OWED = "EXPLAIN (FORMAT JSON) SELECT name FROM libraries WHERE catch_up_wanted > catch_up_served"


def test_postgres_compiles_no_plan_priced_out(migrated_database_url: str) -> None:
    """A plan priced out that remains (the scan of the libraries that the catch-up's
    doorbell polls every second) costs over every JIT threshold: a session compiles
    none (each cost the server a quarter of a second), a bulk transaction plans as the
    server is set to."""
    pool = open_pool(migrated_database_url, 1)
    try:
        with pool.connection() as db:
            threshold = float(db.execute("SHOW jit_above_cost").fetchone()[0])  # type: ignore[index]
            plan = db.execute(_OWED).fetchone()[0][0]  # type: ignore[index]
            assert plan["Plan"]["Total Cost"] > threshold and "JIT" not in plan
            with db.transaction():
                db.execute(BULK_PLANS)
                assert db.execute("SHOW jit").fetchone() == ("on",)
    finally:
        pool.close()


def _known_files(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute("SELECT reltuples FROM pg_class WHERE oid = 'files'::regclass").fetchone()
    assert row is not None
    return float(row[0])
