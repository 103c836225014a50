"""The SQLite backend browses by index: every statement a page, a history or one image runs
is a search, never a scan of a catalog table, so a page costs the same at a million
images as at ten. Checked on the plans SQLite makes (no timings): each statement the store
runs is traced, then explained."""

from __future__ import annotations

from pathlib import Path

from state.changes import plan_page
from state.sqlite import SqliteStore
from state.store import ImageQuery, SelectRequest
from tests.contract.conftest import KINDS, digest, image
from tests.sqlite_files import opened
from tests.stores import DEFAULTS

# Tables that grow with the catalog; ``channels`` and ``libraries`` hold a row per name.
_LARGE = ("files", "images", "queue", "posted", "undone_posts", "leases", "holds")


def test_every_browsing_statement_searches_an_index(tmp_path: Path) -> None:
    path = tmp_path / "unposted.sqlite3"
    statements: list[str] = []
    store = SqliteStore(path, trace=statements.append)
    store.define(*DEFAULTS)
    fill(store)
    statements.clear()  # what browsing runs, from here on
    for state in ("available", "leased", "held", "posted"):
        for prefix in (None, "p"):
            page = store.browsing.images("default", ImageQuery(state, prefix, limit=1))  # type: ignore[arg-type]
            if page.next:
                store.browsing.images("default", ImageQuery(state, prefix, page.next, limit=1))  # type: ignore[arg-type]
    history = store.browsing.history("default", None, 1)
    store.browsing.history("default", history.next, 1)
    store.browsing.image("default", digest("p1"))
    selects = {s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))}
    assert len(selects) > 20
    with opened(path) as database:
        for statement in selects:
            for row in database.execute("EXPLAIN QUERY PLAN " + statement):
                detail = str(row[3])
                scanned = detail.startswith("SCAN") and any(f" {t}" in detail for t in _LARGE)
                # A primary key searched by its library alone is every file of the library.
                walked = detail.endswith("USING PRIMARY KEY (library_id=?)")
                assert not (scanned or walked), f"{detail}\n  in {statement}"
    store.close()


def fill(store: SqliteStore) -> None:
    entries = [image(f"/Photos/p{n}.jpg", f"p{n}") for n in range(8)]
    entries += [image("/Photos/copy.jpg", "p1"), image("/Photos/p1.txt", "caption")]
    store.catalog.begin_listing("default")
    store.catalog.apply_page("default", plan_page(entries, KINDS), "c1", has_more=False)
    store.selections.select("default", SelectRequest(60, name="p0.jpg"))
    store.selections.select("default", SelectRequest(60, name="p2.jpg"))
    for name in ("p3", "p4"):
        store.browsing.hold("default", digest(name))
    for name in ("p5", "p6", "p7"):
        store.selections.mark_posted("default", digest(name), None, None)
    store.selections.unpost("default", digest("p7"), "API_TOKEN")  # the history shows it too
