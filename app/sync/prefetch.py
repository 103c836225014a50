"""Pages of a listing fetched ahead: a thread follows the cursor while the caller applies.

``Prefetch`` starts from a page already fetched and calls ``fetch(cursor)`` for the
next one as soon as the previous has arrived, one call in flight at a time (Dropbox
wants one listing per user at a time), keeping at most ``depth`` pages waiting: the
listing runs at Dropbox's pace while the store works, and memory stays bounded. A
failure of a fetch reaches the caller where its page would have, in order; leaving the
``with`` block early stops the thread after the call it is making.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType

from state.changes import Page

DEPTH = 8
_POLL_SECONDS = 0.1


class Prefetch:
    def __init__(self, fetch: Callable[[str], Page], first: Page, depth: int = DEPTH) -> None:
        self._fetch, self._first = fetch, first
        self._pages: queue.Queue[Page | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="catch-up-fetch", daemon=True)

    def __enter__(self) -> Prefetch:
        if self._first.has_more:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __iter__(self) -> Iterator[Page]:
        page = self._first
        yield page
        while page.has_more:
            item = self._pages.get()
            if isinstance(item, BaseException):
                raise item
            page = item
            yield page

    def waiting(self) -> bool:
        """Is a page here already? If not, the caller would wait for the next one."""
        return not self._pages.empty()

    def _follow(self) -> None:
        page = self._first
        try:
            while page.has_more and not self._stop.is_set():
                page = self._fetch(page.cursor)
                self._hand_over(page)
        except BaseException as exc:  # the caller raises it where the page would have been
            self._hand_over(exc)

    def _hand_over(self, item: Page | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue
