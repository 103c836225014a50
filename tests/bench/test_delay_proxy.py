"""The benchmarks' delay proxy: each way costs its delay, chunks in flight wait side by side."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bench.delay_proxy import DelayProxy

DELAY = 0.05


@pytest.fixture
def echo() -> Iterator[int]:
    """A server on a free port that sends back whatever each connection sends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield int(listener.getsockname()[1])
    stop.set()
    listener.close()


def _round_trip(port: int, payload: bytes) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        started = time.perf_counter()
        connection.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += connection.recv(65536)
        return received, time.perf_counter() - started


def test_a_round_trip_costs_the_delay_each_way(echo: int) -> None:
    with DelayProxy("127.0.0.1", echo, DELAY) as proxy:
        payload = bytes(range(256)) * 1000  # several chunks, in order
        received, seconds = _round_trip(proxy.port, payload)
    assert received == payload
    assert 2 * DELAY <= seconds < 2 * DELAY + 1.0


def test_connections_at_once_wait_side_by_side(echo: int) -> None:
    results: list[float] = []
    with DelayProxy("127.0.0.1", echo, DELAY) as proxy:

        def one(n: int) -> None:
            received, seconds = _round_trip(proxy.port, f"hello {n}".encode())
            assert received == f"hello {n}".encode()
            results.append(seconds)

        started = time.perf_counter()
        threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    assert len(results) == 8 and min(results) >= 2 * DELAY
    assert elapsed < 8 * 2 * DELAY  # not one after another


def test_a_target_that_refuses_closes_the_client() -> None:
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port = int(reserved.getsockname()[1])
    with (
        DelayProxy("127.0.0.1", port, DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as connection,
    ):
        assert connection.recv(10) == b""


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        DelayProxy("127.0.0.1", 1, -0.001)
