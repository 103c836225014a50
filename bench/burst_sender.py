"""The sender of ``bench.webhook_burst``: a process of its own that imports little.

Reads a notification's body on stdin and posts it ``--count`` times, correctly signed,
over ``--threads`` keep-alive connections started together; prints what it saw as JSON
(each request's time from out to reply in, the status codes, the seconds the burst took).
It shares nothing with the service but the machine, and starts in a fraction of the time
a process importing the service would.

Each connection is a bare socket writing the same prepared request and reading the reply
up to its ``Content-Length``: about 30 µs of this process per request. An HTTP client
library cost about a millisecond each, so that sixteen threads spent most of a "reply
time" waiting for this process's own interpreter lock, and the figure measured the sender.

    python -m bench.burst_sender URL --count N --threads T --signature SIG [--path P] < body

``--each`` posts a list of notifications once each instead (``bench.many_tenants``: one
per account, to the replica each names): the list as one JSON line on stdin; once every
connection is open it prints ``ready`` and starts at the ``go`` line that follows, so the
caller's clock starts with the first notification, not with this process.

    python -m bench.burst_sender --each --threads T < notes, then "go"
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Burst:
    """What the senders saw."""

    ack_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection that sends one prepared request over and over."""

    def __init__(self, host: str, port: int) -> None:
        self._socket = socket.create_connection((host, port), timeout=30)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def exchange(self, request: bytes) -> int:
        """Send ``request``, read its whole reply; returns the status code."""
        self._socket.sendall(request)
        head = self._read_until(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self._read_exactly(length)
        return int(status_line.split(b" ", 2)[1])

    def close(self) -> None:
        self._socket.close()

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            self._fill()
        head, self._buffer = self._buffer[:end], self._buffer[end + len(marker) :]
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _fill(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionError("the service closed the connection")
        self._buffer += chunk


def request_bytes(host: str, path: str, body: bytes, sig: str) -> bytes:
    """The notification as a signed POST to ``/webhook``, or a bare GET of any other path."""
    if path != "/webhook":
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-Dropbox-Signature: {sig}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


def send(
    base_url: str, body: bytes, sig: str, count: int, threads: int, path: str = "/webhook"
) -> Burst:
    """``count`` notifications over ``threads`` keep-alive connections; with another
    ``path``, ``count`` bare GETs of it the same way (the baseline: what any request costs)."""
    request = request_bytes(_host(base_url), path, body, sig)
    shares = [count // threads + (1 if index < count % threads else 0) for index in range(threads)]
    return _run([[(base_url, request)] * share for share in shares])


def send_each(notes: list[dict[str, str]], threads: int, ready: Callable[[], None]) -> Burst:
    """Each of ``notes`` (``url``, ``body``, ``signature``) posted once, over ``threads``
    threads; ``ready`` is called once every connection is open, and the first request
    goes out when it returns."""
    requests = [
        (note["url"], request_bytes(_host(note["url"]), urlsplit(note["url"]).path,
                                    note["body"].encode(), note["signature"]))
        for note in notes
    ]  # fmt: skip
    return _run([requests[n::threads] for n in range(threads)], ready)


def _run(shares: list[list[tuple[str, bytes]]], ready: Callable[[], None] = lambda: None) -> Burst:
    """A thread for each share of ``(url, request)``, with a keep-alive connection to each
    address it sends to, opened (and a request answered on it) before the clock starts."""
    burst, lock, start = Burst(), threading.Lock(), threading.Barrier(len(shares) + 1)

    def sender(share: list[tuple[str, bytes]]) -> None:
        mine, codes = [], Counter[int]()
        connections: dict[str, Connection] = {}
        try:
            for url, _ in share:
                if url not in connections:
                    connections[url] = _open(url)
            start.wait()
            for url, request in share:
                sent = time.perf_counter()
                codes[connections[url].exchange(request)] += 1
                mine.append((time.perf_counter() - sent) * 1000)
        finally:
            for connection in connections.values():
                connection.close()
        with lock:
            burst.ack_ms.extend(mine)
            burst.statuses.update(codes)

    workers = [threading.Thread(target=sender, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    ready()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    burst.seconds = time.perf_counter() - began
    return burst


def _open(url: str) -> Connection:
    """A connection to ``url``'s address, with one request answered on it."""
    connection = Connection(*_address(url))
    connection.exchange(request_bytes(_host(url), "/healthz", b"", ""))
    return connection


def _address(url: str) -> tuple[str, int]:
    address = urlsplit(url)
    return address.hostname or "127.0.0.1", address.port or 80


def _host(url: str) -> str:
    host, port = _address(url)
    return f"{host}:{port}"


def _ready_then_go() -> None:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("burst_sender: expected go")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="where to post (not with --each)")
    parser.add_argument("--each", action="store_true", help="post each note of stdin once")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--signature", default="")
    parser.add_argument("--path", default="/webhook", help="another path: GET it instead")
    args = parser.parse_args()
    if args.each:
        seen = send_each(json.loads(sys.stdin.readline()), args.threads, _ready_then_go)
    elif args.url is None:
        parser.error("a URL, or --each")
    else:
        seen = send(args.url, sys.stdin.buffer.read(), args.signature, args.count, args.threads,
                    args.path)  # fmt: skip
    statuses = {str(code): number for code, number in seen.statuses.items()}
    print(json.dumps({"ack_ms": seen.ack_ms, "statuses": statuses, "seconds": seen.seconds}))


if __name__ == "__main__":
    main()
