"""Prometheus metrics, one registry per app so that several apps can live in one process.

Every family the service exposes is declared here, so an operator reads this one
file to learn what ``/metrics`` shows. Families about a library carry a ``library``
label, those about publishers a ``channel`` label. Catalog gauges come from a
collector given at start (``watch_catalog``), never kept in step by hand.

The exposition leaves out prometheus_client's ``_created`` series (each counter's and
histogram's creation time, repeated per label set): Prometheus' text format has no use
for them, and they doubled every family. They are dropped where this registry is
written, not by prometheus_client's process-wide switch, so another registry in the
same process keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CatalogGauge = tuple[str, str, str, float]
"""``(kind, name, state, count)``: kind ``library`` or ``channel``, e.g. ``("channel",
"default", "available", 12)``; see ``_CatalogCollector``."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        channel, library = ["channel"], ["library"]
        self.selection_considered = Counter(
            "unposted_selection_images_considered",
            "Images considered by selections",
            channel,
            registry=r,
        )
        self.selection_downloads = Counter(
            "unposted_selection_downloads",
            "Images downloaded to answer a selection (the design keeps this at 0)",
            registry=r,
        )
        self.selections = Counter(
            "unposted_selections", "Selections by outcome", ["channel", "outcome"], registry=r
        )
        self.selection_seconds = Histogram(
            "unposted_selection_seconds",
            "Time to answer a selection",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
        )
        self.leases = Counter(
            "unposted_leases", "Leases by event", ["channel", "event"], registry=r
        )
        self.posted = Counter("unposted_posted", "Images confirmed as posted", channel, registry=r)
        self.webhook_deliveries = Counter(
            "unposted_webhook_deliveries",
            "Attempts to deliver a channel's webhook events, by result (delivered, retry, failed)",
            ["channel", "result"],
            registry=r,
        )
        self.archive_failures = Counter(
            "unposted_archive_failures", "Posts recorded whose archive move failed", registry=r
        )
        self.catch_up_runs = Counter(
            "unposted_catch_up_runs", "Catch-up runs by result", ["library", "result"], registry=r
        )
        self.catch_up_seconds = Histogram(
            "unposted_catch_up_seconds", "Duration of catch-up runs", library, registry=r
        )
        self.catch_up_last_success = Gauge(
            "unposted_catch_up_last_success_timestamp_seconds",
            "When the library's last catch-up succeeded (Unix time; absent before the first)",
            library,
            registry=r,
        )
        self.catch_up_pages = Counter(
            "unposted_catch_up_pages", "list_folder pages applied", library, registry=r
        )
        self.catch_up_entries = Counter(
            "unposted_catch_up_entries", "list_folder entries applied", library, registry=r
        )
        self.catch_up_resets = Counter(
            "unposted_catch_up_resets", "Full re-lists after a reset cursor", library, registry=r
        )
        self.webhooks = Counter(
            "unposted_webhooks", "Webhook notifications by outcome", ["outcome"], registry=r
        )
        self.unavailable = Counter(
            "unposted_unavailable_answers",
            "Requests answered 503 because the store could not answer now, by code"
            " (busy: held by another process or a long write; full: out of disk)",
            ["code"],
            registry=r,
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
        self.fingerprint_thumbnails = Counter(
            "unposted_fingerprint_thumbnails",
            "Thumbnails taken for perceptual hashing, by source (the console's cache, Dropbox)",
            ["library", "source"],
            registry=r,
        )
        self.fingerprints = Counter(
            "unposted_fingerprints",
            "Contents fingerprinted, by outcome (hashed, or unhashable: never grouped)",
            ["library", "outcome"],
            registry=r,
        )
        self.fingerprint_grace_expired = Counter(
            "unposted_fingerprint_grace_expired",
            "Images offered unfingerprinted: fingerprinting them failed for longer than"
            " NEAR_DUPLICATE_GRACE_SECONDS",
            channel,
            registry=r,
        )
        self.posted_unfingerprinted = Counter(
            "unposted_posted_unfingerprinted",
            "Posted contents gone from Dropbox before they were fingerprinted: their"
            " near-duplicates cannot be kept out",
            library,
            registry=r,
        )
        self.legacy_downloads = Counter(
            "unposted_legacy_import_downloads",
            "Images over 4 MiB downloaded to match legacy SHA-256 digests",
            library,
            registry=r,
        )
        self.renders = Counter(
            "unposted_renders",
            "Pictures rendered for a channel's profile, by outcome (rendered, refused)",
            ["channel", "outcome"],
            registry=r,
        )
        self.render_cache_hits = Counter(
            "unposted_render_cache_hits",
            "Rendered pictures answered from the render cache (nothing downloaded)",
            channel,
            registry=r,
        )
        self.render_download_bytes = Counter(
            "unposted_render_download_bytes",
            "Bytes of originals downloaded to render them",
            library,
            registry=r,
        )

    def watch_catalog(self, read: Callable[[], Iterable[CatalogGauge]]) -> None:
        """Expose catalog counts, read at each scrape: ``read`` yields ``CatalogGauge`` rows."""
        self.registry.register(_CatalogCollector(read))

    def exposition(self) -> bytes:
        return generate_latest(_WithoutCreated(self.registry))


class _WithoutCreated(Collector):
    """A view of a registry whose families carry no ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            kept = Metric(family.name, family.documentation, family.type, family.unit)
            kept.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield kept


WAIT = "wait"
"""The ``CatalogGauge`` kind of a channel's oldest wait for a fingerprint (state unused)."""


class _CatalogCollector(Collector):
    """``unposted_library_images{library, state}``, ``unposted_channel_images{channel, state}``,
    ``unposted_channel_fingerprint_wait_seconds{channel}``."""

    def __init__(self, read: Callable[[], Iterable[CatalogGauge]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for kind, name, state, count in self._read():
            if kind not in families:
                families[kind] = _family(kind)
            families[kind].add_metric([name] if kind == WAIT else [name, state], count)
        yield from families.values()


def _family(kind: str) -> GaugeMetricFamily:
    if kind == WAIT:
        return GaugeMetricFamily(
            "unposted_channel_fingerprint_wait_seconds",
            "How long the image waiting longest for its fingerprint has waited, per channel",
            labels=["channel"],
        )
    return GaugeMetricFamily(
        f"unposted_{kind}_images", f"Images per {kind}, by state", labels=[kind, "state"]
    )
