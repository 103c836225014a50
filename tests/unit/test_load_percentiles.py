"""The benchmark's load generator reports percentiles for any number of requests."""

from __future__ import annotations

from bench.load import percentiles


def test_percentiles_of_many_one_and_none() -> None:
    assert percentiles([float(n) for n in range(1, 101)]) == [50.5, 90.1, 99.01, 100.0]
    assert percentiles([3.0]) == [3.0, 3.0, 3.0, 3.0]  # a connection that sent one request
    assert percentiles([]) == [0.0, 0.0, 0.0, 0.0]
