"""The ``many_tenants`` benchmark runs and renders: four tenants, no figure asserted."""

from __future__ import annotations

import pytest

from bench import many_tenants
from tests.postgres import missing


@pytest.mark.skipif(missing() is not None, reason="needs the machine's PostgreSQL binaries")
def test_the_section_measures_idleness_memory_and_every_notification() -> None:
    figures = many_tenants.run(count=4, files=1, idle_seconds=0.2, read_seconds=0.2)
    assert figures["libraries"] == 4 and figures["ready_seconds"] > 0
    assert len(figures["idle_cpu_percent"]) == 2 and all(
        p >= 0 for p in figures["idle_cpu_percent"]
    )
    assert all(kib > 0 for kib in figures["rss_kib"]) and figures["single_library_rss_kib"] > 0
    notified = figures["notifications"]
    assert notified["count"] == 4 and notified["statuses"] == {"200": 4}
    assert notified["all_caught_up_seconds"] > 0
    assert figures["status_ms"] > 0 and figures["metrics_ms"] > 0
    page = many_tenants.report(figures)
    assert page.count("(target ") == 3 and "all caught up in" in page
    assert f"`/metrics` {figures['metrics_ms']:g} ms" in page
    assert "| 1 |" in page and "| 2 |" in page
