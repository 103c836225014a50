"""``Metrics.exposition`` writes what prometheus_client's ``generate_latest`` writes,
byte for byte, less the ``_created`` series: every family the service declares, with
label values and help texts that need escaping, and the catalog's gauges."""

from __future__ import annotations

import math

from prometheus_client import Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import WAIT, Metrics

ODD_HELP = 'Help with a back\\slash,\na newline and "quotes"'
AWKWARD = ('quote " here', "back\\slash", "new\nline", "ünïcødé 🙂", "", "plain")


def _used(metrics: Metrics) -> None:
    for value in AWKWARD:
        metrics.selections.labels(value, "selected").inc()
        metrics.catch_up_runs.labels(value, "ok").inc(2)
        metrics.catch_up_last_success.labels(value).set(1_700_000_000.25)
        metrics.dropbox_calls.labels("files/list_folder", value).inc()
    metrics.selection_seconds.observe(0.003)
    metrics.catch_up_seconds.observe(12.5)
    metrics.dropbox_wait_seconds.inc(0.1)
    odd = Gauge("odd_values", ODD_HELP, ["v"], registry=metrics.registry)
    for label, value in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf),
                         ("big", 1e21), ("small", 1e-7), ("int", 3.0)):  # fmt: skip
        odd.labels(label).set(value)
    Counter("unlabelled_things", "A counter without labels", registry=metrics.registry).inc()
    rows = [("library", "plain", "images", 3), ("channel", 'quote " here', "available", 2),
            (WAIT, "new\nline", "", 1.5)]  # fmt: skip
    metrics.watch_catalog(lambda: rows)


def test_the_text_is_generate_latests_without_created_series() -> None:
    metrics = Metrics()
    _used(metrics)
    theirs = generate_latest(metrics.registry).splitlines(keepends=True)
    expected = b"".join(line for line in theirs if b"_created" not in line)
    assert metrics.exposition() == expected
    assert b"_created" in b"".join(theirs), "the comparison must leave something out"


def test_the_text_parses_back_to_the_values_written() -> None:
    metrics = Metrics()
    _used(metrics)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    runs = {s.labels["library"]: s.value for s in families["unposted_catch_up_runs"].samples}
    assert runs == dict.fromkeys(AWKWARD, 2.0)
    seconds = {s.name: s.value for s in families["unposted_catch_up_seconds"].samples
               if "le" not in s.labels}  # fmt: skip
    assert seconds == {"unposted_catch_up_seconds_count": 1.0,
                       "unposted_catch_up_seconds_sum": 12.5}  # fmt: skip
    odd = {s.labels["v"]: s.value for s in families["odd_values"].samples}
    assert math.isnan(odd.pop("nan"))
    assert odd == {"inf": math.inf, "-inf": -math.inf, "big": 1e21, "small": 1e-7, "int": 3.0}
    assert families["odd_values"].documentation == ODD_HELP
    waits = families["unposted_channel_fingerprint_wait_seconds"].samples
    assert [(s.labels, s.value) for s in waits] == [({"channel": "new\nline"}, 1.5)]
