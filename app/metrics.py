"""Prometheus metrics, one registry per app so that several apps can live in one process.

Every family the service exposes is declared here, so an operator reads this one
file to learn what ``/metrics`` shows. Families about a library carry a ``library``
label, those about publishers a ``channel`` label, except the catch-up duration's
histogram: one over all libraries, since per library its 17 series each made most of a
scrape at a thousand libraries (``unposted_catch_up_runs`` and the last success remain
per library). Catalog gauges come from a collector given at start (``watch_catalog``),
never kept in step by hand.

prometheus_client collects the samples; ``exposition`` writes them in Prometheus' text
format (version 0.0.4) itself, as prometheus_client's ``generate_latest`` would but
without its ``_created`` series (each counter's and histogram's creation time, repeated
per label set, of no use to that format: they doubled every family). Its writer checks
every metric and label name for UTF-8 escaping at each sample, about 5 µs a sample, two
fifths of an exposition at one library. Ours writes the names as declared here (all
plain Prometheus names) and escapes label values and help texts as the format says;
``tests/unit/test_metrics_text.py`` holds it to ``generate_latest``'s output byte for
byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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
            "unposted_catch_up_seconds", "Duration of catch-up runs, all libraries", registry=r
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
        """Every family in Prometheus' text format, without ``_created`` samples."""
        lines = []
        for family in self.registry.collect():
            name = family.name + "_total" if family.type == "counter" else family.name
            documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
            lines.append(f"# HELP {name} {documentation}\n# TYPE {name} {family.type}\n")
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    value = floatToGoString(sample.value)  # type: ignore[no-untyped-call]
                    lines.append(f"{sample.name}{_labels(sample.labels)} {value}\n")
        return "".join(lines).encode()


def _labels(labels: Mapping[str, str]) -> str:
    """``{name="value",...}`` in name order, values escaped (backslash, quote, newline)."""
    if not labels:
        return ""
    pairs = (f'{k}="{_escaped(v)}"' for k, v in sorted(labels.items()))
    return "{" + ",".join(pairs) + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


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
