"""The ``postgres_parallel`` benchmark runs and renders: tiny sizes, no figure asserted."""

from __future__ import annotations

import pytest

from bench import postgres_parallel
from tests.postgres import missing


@pytest.mark.skipif(missing() is not None, reason="needs the machine's PostgreSQL binaries")
def test_the_section_measures_both_ratios_through_the_proxy() -> None:
    figures = postgres_parallel.run(3_000, 0.1, generator="python")  # runs under a second
    assert figures["delay_ms_each_way"] == 5
    for run in (figures["one_connection"], figures["many_connections"], *figures["two_replicas"]):
        assert run["requests"] > 0 and run["failures"] == 0
    assert figures["connections_scaling"] > 0 and figures["replicas_scaling"] > 0
    page = postgres_parallel.report(figures)
    assert "16 connections ÷ 1" in page and "two replicas ÷ one" in page
