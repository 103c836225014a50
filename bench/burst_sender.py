"""The sender of ``bench.webhook_burst``: a process of its own that imports little.

Reads a notification's body on stdin and posts it ``--count`` times, correctly signed,
over ``--threads`` keep-alive clients started together; prints what it saw as JSON
(each request's time from out to reply in, the status codes, the seconds the burst took).
It shares nothing with the service but the machine, and starts in a fraction of the time
a process importing the service would.

    python -m bench.burst_sender URL --count N --threads T --signature SIG < body
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class Burst:
    """What the senders saw."""

    ack_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0


def send(base_url: str, body: bytes, sig: str, count: int, threads: int) -> Burst:
    """``count`` notifications over ``threads`` keep-alive clients."""
    headers = {"Content-Type": "application/json", "X-Dropbox-Signature": sig}
    burst, lock, start = Burst(), threading.Lock(), threading.Barrier(threads + 1)

    def sender(share: int) -> None:
        mine, codes = [], Counter[int]()
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            client.get("/healthz")  # open the keep-alive connection before the clock starts
            start.wait()
            for _ in range(share):
                sent = time.perf_counter()
                codes[client.post("/webhook", content=body).status_code] += 1
                mine.append((time.perf_counter() - sent) * 1000)
        with lock:
            burst.ack_ms.extend(mine)
            burst.statuses.update(codes)

    shares = [count // threads + (1 if index < count % threads else 0) for index in range(threads)]
    workers = [threading.Thread(target=sender, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    burst.seconds = time.perf_counter() - began
    return burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--signature", default="")
    args = parser.parse_args()
    seen = send(args.url, sys.stdin.buffer.read(), args.signature, args.count, args.threads)
    statuses = {str(code): number for code, number in seen.statuses.items()}
    print(json.dumps({"ack_ms": seen.ack_ms, "statuses": statuses, "seconds": seen.seconds}))


if __name__ == "__main__":
    main()
