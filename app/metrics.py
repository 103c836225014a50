"""Prometheus metrics, one registry per app so that several apps can live in one process.

Every family the service exposes is declared here, so an operator reads this one
file to learn what ``/metrics`` shows. Catalog gauges are read from the store at
scrape time by a collector, never kept in step by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from state.store import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.selection_considered = Counter(
            "unposted_selection_images_considered", "Images considered by selections", registry=r
        )
        self.selection_downloads = Counter(
            "unposted_selection_downloads",
            "Images downloaded to answer a selection (the design keeps this at 0)",
            registry=r,
        )
        self.selections = Counter(
            "unposted_selections", "Selections by outcome", ["outcome"], registry=r
        )
        self.selection_seconds = Histogram(
            "unposted_selection_seconds",
            "Time to answer a selection",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
        )
        self.leases = Counter("unposted_leases", "Leases by event", ["event"], registry=r)
        self.posted = Counter("unposted_posted", "Images confirmed as posted", registry=r)
        self.catch_up_runs = Counter(
            "unposted_catch_up_runs", "Catch-up runs by result", ["result"], registry=r
        )
        self.catch_up_seconds = Histogram(
            "unposted_catch_up_seconds", "Duration of catch-up runs", registry=r
        )
        self.catch_up_pages = Counter(
            "unposted_catch_up_pages", "list_folder pages applied", registry=r
        )
        self.catch_up_entries = Counter(
            "unposted_catch_up_entries", "list_folder entries applied", registry=r
        )
        self.catch_up_resets = Counter(
            "unposted_catch_up_resets", "Full re-lists after a reset cursor", registry=r
        )
        self.webhooks = Counter(
            "unposted_webhooks", "Webhook notifications by outcome", ["outcome"], registry=r
        )
        self.dropbox_calls = Counter(
            "unposted_dropbox_calls",
            "Dropbox API calls by route and status",
            ["route", "status"],
            registry=r,
        )
        self.dropbox_retries = Counter(
            "unposted_dropbox_retries", "Dropbox calls retried, by reason", ["reason"], registry=r
        )
        self.dropbox_wait_seconds = Counter(
            "unposted_dropbox_wait_seconds", "Seconds spent waiting before retries", registry=r
        )
        self.legacy_downloads = Counter(
            "unposted_legacy_import_downloads",
            "Images over 4 MiB downloaded to match legacy SHA-256 digests",
            registry=r,
        )

    def watch_catalog(self, status: Callable[[], Status]) -> None:
        """Expose the catalog's counts, read from the store at each scrape."""
        self.registry.register(_CatalogCollector(status))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _CatalogCollector(Collector):
    def __init__(self, status: Callable[[], Status]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._status()
        gauge = GaugeMetricFamily("unposted_catalog_images", "Catalog counts", labels=["state"])
        for state in ("images", "unique_images", "available", "leased", "posted"):
            gauge.add_metric([state], getattr(status, state))
        gauge.add_metric(["without_content_hash"], status.without_content_hash)
        yield gauge
