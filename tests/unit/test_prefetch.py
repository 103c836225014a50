"""``Prefetch``: pages in order, one fetch at a time, failures where their page would be."""

from __future__ import annotations

import threading
import time

import pytest

from app.sync.prefetch import Prefetch
from state.changes import Page


class Listing:
    """Pages ``c0 -> c1 -> ...``; counts fetches in flight, and fails at ``fail_at``."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.in_flight = self.most_in_flight = self.fetched = 0
        self.lock = threading.Lock()

    def page(self, number: int) -> Page:
        return Page((), f"c{number}", number < self.pages - 1)

    def fetch(self, cursor: str) -> Page:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.001)
        number = int(cursor[1:]) + 1
        with self.lock:
            self.in_flight -= 1
            self.fetched += 1
        if number == self.fail_at:
            raise RuntimeError(f"page {number} failed")
        return self.page(number)


def test_pages_arrive_in_order_one_fetch_at_a_time() -> None:
    listing = Listing(30)
    with Prefetch(listing.fetch, listing.page(0), depth=4) as pages:
        cursors = [page.cursor for page in pages]
    assert cursors == [f"c{n}" for n in range(30)]
    assert listing.most_in_flight == 1


def test_a_single_page_fetches_nothing() -> None:
    listing = Listing(1)
    with Prefetch(listing.fetch, listing.page(0)) as pages:
        assert [page.cursor for page in pages] == ["c0"]
    assert listing.fetched == 0


def test_a_failure_reaches_the_caller_after_the_pages_before_it() -> None:
    listing = Listing(10, fail_at=4)
    seen: list[str] = []
    with (
        pytest.raises(RuntimeError, match="page 4"),
        Prefetch(listing.fetch, listing.page(0)) as pages,
    ):
        for page in pages:
            seen.append(page.cursor)
    assert seen == ["c0", "c1", "c2", "c3"]


def test_leaving_early_stops_fetching() -> None:
    listing = Listing(1_000)
    with Prefetch(listing.fetch, listing.page(0), depth=2) as pages:
        for page in pages:
            if page.cursor == "c1":
                break
    fetched = listing.fetched
    time.sleep(0.05)
    assert listing.fetched == fetched <= 4  # at most the depth, the one in hand, one in flight
