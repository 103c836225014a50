"""Webhook acknowledgement latency under a burst, and the catch-ups the burst causes.

Starts the emulator and the service in this process (uvicorn in threads, state in a
temporary directory, or in a PostgreSQL database if given one), and a sender process
of its own (``bench.burst_sender``) that posts ``count`` correctly signed notifications
as fast as ``threads`` keep-alive clients can. Reports:

- ``ack_ms``: p50/p99/max as each sender saw it, request out to reply in, measured in
  the sender process, which shares nothing with the service but the machine.
- ``server_ms``: the same, timed inside the server from the request's arrival at the
  app to the end of its reply: what Dropbox would wait, less the network.
- ``catch_up_requests`` and ``catch_up_runs``: what the whole burst cost.
- ``baseline_ms``: p50/p99/max of the same burst of ``GET /healthz`` just before, by the
  same sender against the same service: what any request costs on this machine at that
  moment, so that a figure can be told from the load it was measured under.

    python -m bench.webhook_burst [--count N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.configuration.environment import Settings
from app.main import create_app
from app.runtime import Runtime
from bench.burst_sender import Burst
from bench.load import probe
from emulator import Emulator, EmulatorServer, signature
from emulator.runner import ThreadedServer

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


class ServerTimer:
    """ASGI wrapper timing each ``/webhook`` request inside the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ms: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/webhook":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.ms.append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)


def run(count: int = 1000, threads: int = 16, database_url: str | None = None) -> dict[str, Any]:
    """Send the burst and measure; returns the figures as a JSON-ready dict. The service
    keeps its state in PostgreSQL with ``database_url`` (an empty database), else SQLite."""
    emulator = Emulator()
    emulator.create_folder("/Photos")
    emulator.bulk_generate("/Photos", 100)
    with tempfile.TemporaryDirectory() as state_dir:
        with _service(emulator, Path(state_dir), database_url) as (runtime, timer, base_url):
            worker, inbox = runtime.workers["default"], runtime.inboxes[0]
            baseline = _burst(base_url, emulator, count, threads, "/healthz")
            runs, requests = worker.health.runs, inbox.requests
            burst = _burst(base_url, emulator, count, threads)
            _wait_for(lambda: not inbox.holding and worker.idle)
            runs = worker.health.runs - runs
            requests = inbox.requests - requests
    figures = {"benchmark": "webhook_burst", "notifications": count, "threads": threads}
    figures.update(_figures(burst, timer.ms))
    figures["baseline_ms"] = _percentiles(baseline.ack_ms)
    figures.update(catch_up_requests=requests, catch_up_runs=runs)
    return figures


@contextmanager
def _service(
    emulator: Emulator, state_dir: Path, database_url: str | None
) -> Iterator[tuple[Runtime, ServerTimer, str]]:
    with EmulatorServer(emulator) as dropbox:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            dropbox_folder="/Photos",
            dropbox_base_url=dropbox.base_url,
            dropbox_access_token=SecretStr(emulator.access_token),
            dropbox_app_key=emulator.app_key,
            dropbox_app_secret=SecretStr(emulator.app_secret),
            api_token=SecretStr("bench-api-token"),
            state_dir=state_dir,
            database_url=SecretStr(database_url) if database_url else None,
            log_level="WARNING",
        )
        app = create_app(settings)
        timer = ServerTimer(app)
        with ThreadedServer(timer) as server:
            _wait_for(lambda: probe(server.base_url + "/readyz").status_code == 200)
            yield app.state.runtime, timer, server.base_url


def _burst(
    base_url: str, emulator: Emulator, count: int, threads: int, path: str = "/webhook"
) -> Burst:
    """Run the senders in a process of their own and read back what they saw."""
    body = emulator.webhooks.body()
    command = [sys.executable, "-m", "bench.burst_sender", base_url,
               "--count", str(count), "--threads", str(threads), "--path", path,
               "--signature", signature(emulator.app_secret, body)]  # fmt: skip
    done = subprocess.run(command, input=body, capture_output=True, check=True, timeout=600)
    seen = json.loads(done.stdout)
    return Burst(seen["ack_ms"], Counter({int(k): v for k, v in seen["statuses"].items()}),
                 seen["seconds"])  # fmt: skip


def _figures(burst: Burst, server_ms: list[float]) -> dict[str, Any]:
    return {
        "burst_seconds": round(burst.seconds, 3),
        "notifications_per_second": round(len(burst.ack_ms) / burst.seconds),
        "ack_ms": _percentiles(burst.ack_ms),
        "server_ms": _percentiles(server_ms),
        "status_codes": {str(code): number for code, number in sorted(burst.statuses.items())},
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 3), "p99": round(cuts[98], 3), "max": round(max(values), 3)}


def _wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(run(args.count, args.threads), indent=2))


if __name__ == "__main__":
    main()
