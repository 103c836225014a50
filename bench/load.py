"""HTTP load on one route of a running service: ``wrk`` in its own process, or Python threads.

``measure`` drives one ``Target`` (a route, or several picked at random for each request,
its method and body, and whether it sends the operator's bearer token) for some seconds
over some keep-alive connections and returns the request count, throughput, latency
percentiles and failures (errors and non-2xx replies). ``wrk`` (one thread, a Lua script
that prints its own percentiles as JSON) shares nothing with the service but the machine,
and runs whole seconds only; the Python stand-in, used when wrk is not installed (and by
the test suite's smoke, for runs shorter than a second), runs in the benchmark's process
and is labelled as such.
"""

from __future__ import annotations

import atexit
import http.client
import json
import random
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.strategies import API_TOKEN

CONNECTIONS = 16
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d,'
    .. ' "max_us": %d, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Target:
    """One kind of request: its path, its JSON body (a POST) or none (a GET), its token;
    with ``paths``, each request goes to one of them picked at random instead."""

    name: str
    path: str
    body: str | None = None
    token: bool = True
    paths: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"

    def next_path(self) -> str:
        return random.choice(self.paths) if self.paths else self.path


# One client for every poll of a service (is it ready yet?): each ``httpx.get`` builds a
# client and its TLS context, some 20 ms of CPU, taken from the very service it waits for.
# Closed at exit: the connection it keeps to the last service polled would be left open.
_PROBES = httpx.Client(timeout=5)
atexit.register(_PROBES.close)


def probe(url: str, **options: Any) -> httpx.Response:
    """``GET url`` on the client shared by every poll (``options``: as ``httpx.get``'s)."""
    return _PROBES.get(url, **options)


HEALTHZ = Target("healthz", "/healthz", token=False)
PREVIEW = Target("select", "/select", '{"dry_run": true}')
LEASING = Target("select_leasing", "/select", "{}")
STATUS = Target("status", "/status")
METRICS = Target("metrics", "/metrics")  # the operator's token only


def default_generator() -> str:
    """``wrk`` when it is installed, else ``python``."""
    return "wrk" if shutil.which("wrk") else "python"


def measure(
    base_url: str, target: Target, seconds: float, connections: int, generator: str, work: Path
) -> dict[str, Any]:
    """``generator`` is ``wrk`` or ``python``; ``work`` holds wrk's script."""
    if generator == "wrk":
        return _wrk(base_url, target, seconds, connections, work)
    return _python_load(base_url, target, seconds, connections)


def _wrk(
    base_url: str, target: Target, seconds: float, connections: int, work: Path
) -> dict[str, Any]:
    script = work / f"{target.name}.lua"
    script.write_text(wrk_script(target))
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "--latency", "-s", str(script), base_url + target.path,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return wrk_result(output)


def wrk_script(target: Target) -> str:
    """The Lua script that makes wrk send ``target``'s requests and print ``WRK_DONE``."""
    lines = [f'wrk.method = "{target.method}"']
    if target.body is not None:
        lines += [f"wrk.body = '{target.body}'", 'wrk.headers["Content-Type"] = "application/json"']
    if target.token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {API_TOKEN}"')
    if target.paths:
        listed = ", ".join(f'"{path}"' for path in target.paths)
        lines += [f"local paths = {{{listed}}}", "request = function()",
                  "  return wrk.format(nil, paths[math.random(#paths)])", "end"]  # fmt: skip
    return "\n".join(lines) + "\n" + WRK_DONE


def wrk_result(output: str) -> dict[str, Any]:
    """The figures of a wrk run whose script ends with ``WRK_DONE``."""
    line = next(text for text in output.splitlines() if text.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    return result(
        raw["requests"],
        raw["duration_us"] / 1e6,
        [raw["p50_us"] / 1000, raw["p90_us"] / 1000, raw["p99_us"] / 1000, raw["max_us"] / 1000],
        raw["errors"] + raw["non_2xx"],
    )


def _python_load(base_url: str, target: Target, seconds: float, connections: int) -> dict[str, Any]:
    """Threads with keep-alive connections: the stand-in when wrk is not installed. Each
    connection sends one request at least: in a short run, a thread may start after its end."""
    host, port = base_url.removeprefix("http://").split(":")
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {API_TOKEN}"
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        mine, failed = [], 0
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        sent = time.perf_counter()
        while True:
            connection.request(target.method, target.next_path(), body=target.body,
                               headers=headers)  # fmt: skip
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - sent) * 1000)
            failed += response.status >= 300
            if (sent := time.perf_counter()) >= deadline:
                break
        connection.close()
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return result(len(latencies), elapsed, percentiles(latencies), failures[0])


def percentiles(latencies: list[float]) -> list[float]:
    """p50, p90, p99 and the maximum; a single latency is all four, none gives zeros."""
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    else:  # statistics.quantiles needs two
        cuts = latencies * 99 or [0.0] * 99
    return [cuts[49], cuts[89], cuts[98], max(latencies, default=0.0)]


def result(requests: int, seconds: float, ms: list[float], failures: int) -> dict[str, Any]:
    p50, p90, p99, top = (round(value, 3) for value in ms)
    return {
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "max_ms": top,
        "failures": failures,
    }
