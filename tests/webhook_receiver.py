"""A publisher's webhook endpoint for tests: a real HTTP server on 127.0.0.1 that checks
every request with ``standardwebhooks.Webhook(secret).verify`` and records it.

``answers`` says what to reply to each request in turn (the last one repeats); only a
request answered 2xx counts as delivered. The first ``stall`` requests are answered only
after ``stall_seconds`` (recorded with status 0: the sender gave up first). ``port``: 0
for any free one. ``Receiver`` is a context manager.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

SECRET = "whsec_" + base64.b64encode(b"webhook-test-key-0123456789").decode()


@dataclass
class Received:
    id: str
    body: dict[str, Any]
    verified: bool
    status: int


@dataclass
class Receiver:
    secret: str = SECRET
    answers: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    port: int = 0
    stall: int = 0
    stall_seconds: float = 2.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._record(raw, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def _record(self, raw: bytes, headers: dict[str, str]) -> int:
        lowered = {key.lower(): value for key, value in headers.items()}
        try:
            Webhook(self.secret).verify(raw, lowered)
            verified = True
        except Exception:
            verified = False
        with self._lock:
            stalled = len(self.received) < self.stall
            status = self.answers[min(len(self.received), len(self.answers) - 1)]
            self.received.append(Received(
                lowered.get("webhook-id", ""), json.loads(raw), verified, 0 if stalled else status
            ))  # fmt: skip
        if stalled:
            time.sleep(self.stall_seconds)
        return status

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        with self._lock:
            return [each for each in self.received if 200 <= each.status < 300]

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
