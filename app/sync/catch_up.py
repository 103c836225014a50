"""The catch-up: bring the catalog level with Dropbox by following the cursor.

No cursor yet -> a full ``list_folder`` of the folder; otherwise ``continue`` from the
stored cursor. Each page's operations and the cursor after it commit in one store
transaction, so a crash at any point loses nothing and replays nothing. A ``reset``
cursor starts a full listing whose last page sweeps whatever it did not see (mark and
sweep), while the old catalog keeps serving. A folder that vanished empties the
catalog (posted state stays) and is listed again on the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.errors import CursorReset, FolderNotFound
from app.sync.prefetch import Prefetch
from state.changes import FileKinds, Operation, Page, plan_page
from state.store import CatalogSync, LibraryDef

if TYPE_CHECKING:
    from app.dropbox.client import DropboxClient
    from app.metrics import Metrics

log = logging.getLogger(__name__)
_MAX_RESETS = 3
BATCH_ENTRIES = 10_000


@dataclass
class CatchUpSummary:
    """What one run did; ``progress`` callbacks receive it after every page."""

    entries: int = 0
    pages: int = 0
    files_stored: int = 0
    files_removed: int = 0
    api_calls: int = 0
    resets: int = 0
    listing: bool = False
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        return (
            f"{self.entries} entries in {self.pages} pages, {self.files_stored} stored, "
            f"{self.files_removed} removed, {self.api_calls} API calls, {self.seconds:.1f} s"
        )


Progress = Callable[[CatchUpSummary], None]


class CatchUp:
    """Catches one library up; ``progress`` (if given) hears of every committed batch."""

    def __init__(
        self,
        library: LibraryDef,
        kinds: FileKinds,
        store: CatalogSync,
        dropbox: DropboxClient,
        metrics: Metrics | None = None,
        batch_entries: int = BATCH_ENTRIES,
    ) -> None:
        self.library = library
        self._batch_entries = batch_entries
        self._name = library.name
        self._kinds = kinds
        self._store = store
        self._dropbox = dropbox
        self._metrics = metrics
        self.current: CatchUpSummary | None = None  # the run under way, for progress reports

    def run(self, progress: Progress | None = None) -> CatchUpSummary:
        """Catch up once, until Dropbox says there is nothing more."""
        summary = self.current = CatchUpSummary()
        log.info(
            "catch-up of %s started",
            self._name,
            extra={"event": "catch_up_start", "library": self._name},
        )
        while True:
            try:
                self._follow(summary, progress)
                break
            except CursorReset:
                self._restart_listing(summary)
            except FolderNotFound:
                removed = self._store.forget_folder(self._name)
                log.warning(
                    "the folder %r of library %s is gone; %d files dropped from the catalog",
                    self.library.folder,
                    self._name,
                    removed,
                    extra={"event": "catch_up_folder_gone", "library": self._name},
                )
                raise
        summary.seconds = time.monotonic() - summary.started
        log.info(
            "catch-up of %s complete: %s",
            self._name,
            summary.line(),
            extra={
                "event": "catch_up_complete",
                "library": self._name,
                "entries": summary.entries,
                "pages": summary.pages,
                "seconds": round(summary.seconds, 3),
            },
        )
        return summary

    def _restart_listing(self, summary: CatchUpSummary) -> None:
        summary.resets += 1
        if summary.resets > _MAX_RESETS:
            raise CursorReset(f"cursor reset {summary.resets} times in one run")
        log.warning(
            "cursor reset; listing the folder of %s again",
            self._name,
            extra={"event": "catch_up_reset", "library": self._name},
        )
        if self._metrics:
            self._metrics.catch_up_resets.labels(self._name).inc()
        self._store.begin_listing(self._name)

    def _follow(self, summary: CatchUpSummary, progress: Progress | None) -> None:
        """Apply pages until ``has_more`` is false, committing them batch by batch.

        Pages are gathered until ``batch_entries`` entries or the end, then committed
        with the cursor that follows the last of them: the catalog and the stored cursor
        still always agree, and a long listing pays for far fewer commits. The pages
        after the first are fetched by a thread of their own (``Prefetch``), one call in
        flight at a time as Dropbox wants, while this one plans and commits: the
        listing's time hides the store's work. So what is gathered is committed as soon
        as no page waits, rather than after the next arrives: with Dropbox slower than
        the store, the pages are applied while the listing goes on, not after its end.
        """
        first = self._first_page(summary)
        batch: list[Operation] = []
        entries = 0
        with Prefetch(self._dropbox.list_folder_continue, first) as pages:
            for page in pages:
                if page is not first:
                    summary.api_calls += 1
                batch += plan_page(page.entries, self._kinds)
                entries += self._count(page, summary)
                if entries >= self._batch_entries or not page.has_more or not pages.waiting():
                    self._commit(batch, page, summary)
                    batch, entries = [], 0
                    if progress:
                        progress(summary)

    def _first_page(self, summary: CatchUpSummary) -> Page:
        state = self._store.sync_state(self._name)
        summary.api_calls += 1
        if state.cursor is not None:
            summary.listing = state.listing
            return self._dropbox.list_folder_continue(state.cursor)
        if not state.listing:
            self._store.begin_listing(self._name)
        summary.listing = True
        return self._dropbox.list_folder(self.library.folder, self.library.recursive)

    def _count(self, page: Page, summary: CatchUpSummary) -> int:
        summary.pages += 1
        summary.entries += len(page.entries)
        if self._metrics:
            self._metrics.catch_up_pages.labels(self._name).inc()
            self._metrics.catch_up_entries.labels(self._name).inc(len(page.entries))
        return len(page.entries)

    def _commit(self, operations: list[Operation], page: Page, summary: CatchUpSummary) -> None:
        stats = self._store.apply_page(self._name, operations, page.cursor, page.has_more)
        summary.files_stored += stats.files_stored
        summary.files_removed += stats.files_removed
        if operations or page.has_more:
            log.debug(
                "pages applied up to %d entries",
                summary.entries,
                extra={
                    "event": "catch_up_page",
                    "library": self._name,
                    "operations": len(operations),
                    "entries": summary.entries,
                    "has_more": page.has_more,
                },
            )
