"""Request bodies: duplicate keys, size limits and slow senders, over real sockets.

- A key twice in one JSON object is refused with 422 on every route that takes JSON,
  never read as "the last one wins": ``{"confirm": "no", "confirm": "RESET"}`` does not
  reset the posted state, and a doubled ``dry_run`` takes no lease.
- A declared ``Content-Length`` over a route's limit is answered 413 without the body
  ever being sent; a chunked body is cut off at the limit without its end. The legacy
  import keeps its 64 MiB and the webhook its 1 MiB.
- A client that sends its headers and then stalls or trickles its body gets 408 (JSON)
  and a closed connection, while everyone else is answered. Most checks run the app in
  a thread with a one-second body timeout; one runs ``python -m app serve`` with the
  default, as deployed.

The raw socket client below writes exactly the bytes a slow or lying client would;
httpx cannot stall halfway through a body.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.routes.posted import IMPORT_LIMIT_BYTES
from app.api.routes.webhook import MAX_BODY_BYTES
from app.main import create_app
from emulator import Emulator, EmulatorServer, signature
from emulator.runner import ThreadedServer
from tests.conftest import API_TOKEN, TLS, MakeSettings
from tests.integration.conftest import FAST_RETRY, Service, StartService
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess

DEFAULT_LIMIT = 64 * 1024  # what a JSON route accepts unless it declares more
DEFAULT_TIMEOUT = 10.0  # seconds from a request's headers to its body's end, as deployed
SHORT_TIMEOUT = 1.0
BOUND = 60.0  # how long a socket waits before the test fails instead of hanging


# -- a client that writes exactly what it is told ----------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def is_json_error(self, status: int, code: str) -> bool:
        return (
            self.status == status
            and self.headers.get("content-type", "").startswith("application/json")
            and set(self.json()) == {"error", "message"}
            and self.json()["error"] == code
        )


class RawClient:
    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=BOUND)
        self._buffer = b""

    def head(self, path: str, *lines: str, method: str = "POST") -> RawClient:
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *lines]
        head.append(f"Authorization: Bearer {API_TOKEN}")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        return self

    def send(self, data: bytes) -> RawClient:
        self.sock.sendall(data)
        return self

    def answered(self) -> bool:
        """Has the server written anything yet (without waiting)?"""
        return bool(self._buffer) or bool(select.select([self.sock], [], [], 0)[0])

    def reply(self) -> Reply:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Reply(int(status_line.split()[1]), headers, body)

    def closed_by_server(self) -> bool:
        """After a reply: the server closes the connection (EOF, or a reset)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed before a full reply: {self._buffer!r}")
        self._buffer += data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_clients() -> Iterator[list[RawClient]]:
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


JSON = "Content-Type: application/json"


# -- services ----------------------------------------------------------------------------
@pytest.fixture
def quick_timeout(
    make_settings: MakeSettings, emulator: Emulator, emulator_server: EmulatorServer
) -> Iterator[Service]:
    """The service in a thread, with a body timeout of ``SHORT_TIMEOUT`` seconds."""
    emulator.bulk_generate("/Photos", 4)
    settings = make_settings(
        dropbox_base_url=emulator_server.base_url,
        dropbox_access_token=emulator.access_token,
        dropbox_app_secret=emulator.app_secret,
        dropbox_app_key=emulator.app_key,
        near_duplicate_hashing=False,  # as start_service has it: selectable once listed
    )
    app = create_app(settings, retry=FAST_RETRY, body_timeout=SHORT_TIMEOUT)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with (
        ThreadedServer(app) as server,
        httpx.Client(base_url=server.base_url, headers=headers, verify=TLS) as client,
    ):
        service = Service(settings, app, server, client)
        service.wait_ready()
        yield service


def posted_one(service: Service) -> dict[str, list[str]]:
    chosen = service.client.post("/select", json={}).json()
    lease_id = chosen["lease"]["id"]
    body = {"content_hash": chosen["content_hash"], "lease_id": lease_id}
    assert service.client.post("/posted", json=body).status_code == 200
    export: dict[str, list[str]] = service.client.get("/posted/export").json()
    assert export["dropbox_content_hashes"] == [chosen["content_hash"]]
    return export


def post_raw(
    service: Service, path: str, body: str, content_type: str | None = JSON
) -> httpx.Response:
    headers = {"Content-Type": content_type.split(": ")[1]} if content_type else {}
    return service.client.post(path, content=body.encode(), headers=headers)


# -- duplicate keys ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    ['{"confirm": "no", "confirm": "RESET"}', '{"confirm": "RESET", "confirm": "RESET"}'],
)
@pytest.mark.parametrize("content_type", [JSON, None])
def test_a_doubled_confirm_never_resets_the_posted_state(
    emulator: Emulator, start_service: StartService, body: str, content_type: str | None
) -> None:
    emulator.bulk_generate("/Photos", 3)
    service = start_service()
    before = posted_one(service)
    reply = post_raw(service, "/admin/reset-posted", body, content_type)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid_request"
    assert '"confirm"' in reply.json()["message"]
    assert service.client.get("/posted/export").json() == before
    assert service.client.get("/status").json()["posted"] == 1


def test_duplicate_keys_are_refused_on_every_json_route(
    emulator: Emulator, start_service: StartService, ledger: Ledger
) -> None:
    emulator.bulk_generate("/Photos", 3)
    service = start_service()
    chosen = service.client.post("/select", json={}).json()
    lease, content = chosen["lease"]["id"], chosen["content_hash"]
    digest = hashlib.sha256(b"a picture posted long ago").hexdigest()
    other = "ab" * 32
    cases = [
        ("/select", '{"dry_run": true, "dry_run": false}', "dry_run"),
        ("/select", '{"link": false, "dry_run": true, "link": false}', "link"),
        ("/posted", f'{{"content_hash": "{other}", "content_hash": "{content}"}}', "content_hash"),
        (
            "/posted",
            f'{{"content_hash": "{content}", "lease_id": "x", "lease_id": "{lease}"}}',
            "lease_id",
        ),
        ("/release", f'{{"lease_id": "nope", "lease_id": "{lease}"}}', "lease_id"),
        ("/posted/import", f'{{"hashes": [], "hashes": ["{digest}"]}}', "hashes"),
        (
            "/posted/import",
            f'{{"hashes": [], "dropbox_content_hashes": [], '
            f'"dropbox_content_hashes": ["{content}"]}}',
            "dropbox_content_hashes",
        ),
    ]
    status_before = service.client.get("/status").json()
    export_before = service.client.get("/posted/export").json()
    wrong = []
    # curl -d sends application/x-www-form-urlencoded unless told otherwise: the same.
    content_types = (JSON, None, "Content-Type: application/x-www-form-urlencoded")
    for content_type in content_types:
        for path, body, key in cases:
            reply = post_raw(service, path, body, content_type)
            if reply.status_code != 422 or f'"{key}"' not in reply.json()["message"]:
                wrong.append(f"{path} {body} ({content_type}): {reply.status_code} {reply.text}")
    entry = ledger.entry("bodies: duplicate keys, limits, slow senders")
    entry.trials += 1
    entry.inputs += len(cases) * len(content_types)
    entry.wrong += len(wrong)
    assert wrong == []
    assert service.client.get("/status").json() == status_before  # the lease still held
    assert service.client.get("/posted/export").json() == export_before


def test_a_duplicate_key_deep_inside_is_found_and_named(start_service: StartService) -> None:
    service = start_service()
    body = '{"hashes": [], "dropbox_content_hashes": [], "x": {"a": [{"b": 1, "b": 2}]}}'
    reply = post_raw(service, "/posted/import", body)
    assert reply.status_code == 422
    assert reply.json() == {
        "error": "invalid_request",
        "message": 'body: the key "b" appears twice in one object',
    }


# -- size limits -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "limit", "code"),
    [
        ("/select", DEFAULT_LIMIT, "too_large"),
        ("/admin/reset-posted", DEFAULT_LIMIT, "too_large"),
        ("/posted/import", IMPORT_LIMIT_BYTES, "too_large"),
        ("/webhook", MAX_BODY_BYTES, "too_large"),
        ("/status", DEFAULT_LIMIT, "too_large"),  # a GET that never reads: closed, not read
    ],
)
def test_a_declared_length_over_the_limit_is_answered_without_the_body(
    service: Service, raw_clients: list[RawClient], path: str, limit: int, code: str
) -> None:
    client = RawClient(service.base_url)
    raw_clients.append(client)
    method = "GET" if path == "/status" else "POST"
    client.head(path, JSON, f"Content-Length: {limit + 1}", method=method)
    reply = client.reply()  # not one byte of the body was sent
    if method == "GET":
        assert reply.status == 200 and reply.headers["connection"] == "close"
    else:
        assert reply.is_json_error(413, code), reply
        assert reply.headers["connection"] == "close"
    assert client.closed_by_server()


@pytest.mark.parametrize("path", ["/select", "/posted", "/release", "/admin/reset-posted"])
def test_a_chunked_body_is_cut_off_at_the_limit(
    service: Service, raw_clients: list[RawClient], path: str
) -> None:
    client = RawClient(service.base_url)
    raw_clients.append(client)
    client.head(path, JSON, "Transfer-Encoding: chunked")
    piece = b" " * 4096
    for _ in range(DEFAULT_LIMIT // len(piece) + 1):  # one piece past the limit, no end
        client.send(chunk(piece))
    reply = client.reply()
    assert reply.is_json_error(413, "too_large"), reply
    assert client.closed_by_server()


def test_routes_keep_their_own_limits(
    emulator: Emulator, start_service: StartService, raw_clients: list[RawClient]
) -> None:
    emulator.bulk_generate("/Photos", 3)
    service = start_service()
    digests = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(3000)]
    document = json.dumps({"hashes": digests}).encode()  # about 200 KB
    assert len(document) > DEFAULT_LIMIT
    reply = service.client.post("/posted/import", content=document)
    assert reply.status_code == 200 and reply.json()["imported"] == 3000
    notification = json.dumps({"list_folder": {"accounts": ["dbid:x" * 5] * 10_000}}).encode()
    assert DEFAULT_LIMIT < len(notification) < MAX_BODY_BYTES
    headers = {"X-Dropbox-Signature": signature(emulator.app_secret, notification)}
    reply = httpx.post(
        f"{service.base_url}/webhook", content=notification, headers=headers, verify=TLS
    )
    assert reply.status_code == 200 and reply.json() == {"status": "ignored"}
    client = RawClient(service.base_url)
    raw_clients.append(client)
    body = b'{"dry_run": true' + b" " * 10_000 + b"}"
    client.head("/select", JSON, "Transfer-Encoding: chunked")
    client.send(chunk(body[:5000]) + chunk(body[5000:]) + b"0\r\n\r\n")
    assert client.reply().status == 200  # chunked bodies within the limit are read whole


# -- slow senders --------------------------------------------------------------------------
def stall(client: RawClient, path: str, *, chunked: bool = False) -> RawClient:
    if chunked:
        client.head(path, JSON, "Transfer-Encoding: chunked").send(chunk(b'{"dry_'))
    else:
        client.head(path, JSON, "Content-Length: 100").send(b'{"dry_')
    return client


def trickle(client: RawClient, path: str, stop: threading.Event) -> threading.Thread:
    """A byte every 50 ms of a body far longer than the timeout lets it finish."""
    client.head(path, JSON, "Content-Length: 1000")

    def send() -> None:
        while not stop.wait(0.05):
            try:
                client.send(b" ")
            except OSError:
                return  # the server closed the connection

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_stalled_and_trickling_bodies_time_out_while_others_are_served(
    quick_timeout: Service, raw_clients: list[RawClient], ledger: Ledger
) -> None:
    service = quick_timeout
    paths = ["/select", "/posted", "/release", "/admin/reset-posted", "/posted/import", "/webhook"]
    stalled = [stall(RawClient(service.base_url), path) for path in paths]
    stalled.append(stall(RawClient(service.base_url), "/select", chunked=True))
    raw_clients.extend(stalled)
    stop = threading.Event()
    trickler = RawClient(service.base_url)
    raw_clients.append(trickler)
    sending = trickle(trickler, "/select", stop)
    try:
        for _ in range(5):  # meanwhile, every other client is answered
            assert service.client.get("/status").status_code == 200
            assert service.client.post("/select", json={"dry_run": True}).status_code == 200
        replies = [client.reply() for client in [*stalled, trickler]]
    finally:
        stop.set()
        sending.join(BOUND)
    wrong = [r for r in replies if not r.is_json_error(408, "request_timeout")]
    ledger.entry("bodies: duplicate keys, limits, slow senders").inputs += len(replies)
    assert wrong == []
    assert all(r.headers["connection"] == "close" for r in replies)
    assert all(client.closed_by_server() for client in [*stalled, trickler])
    assert service.client.get("/status").json()["leased"] == 0  # no stalled body ran


def test_a_served_process_times_out_a_stalled_body_and_serves_others(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    tmp_path: Path,
    raw_clients: list[RawClient],
) -> None:
    emulator.bulk_generate("/Photos", 3)
    service = ServiceProcess(emulator, emulator_server.base_url, tmp_path / "state").start()
    try:
        client = stall(RawClient(service.base_url), "/select")
        raw_clients.append(client)
        for _ in range(3):  # well within DEFAULT_TIMEOUT, and the stalled one waits
            assert service.client.post("/select", json={"dry_run": True}).status_code == 200
        assert not client.answered(), f"answered before {DEFAULT_TIMEOUT} s"
        reply = client.reply()
        assert reply.is_json_error(408, "request_timeout"), reply
        assert client.closed_by_server()
        assert service.client.get("/status").json()["leased"] == 0
    finally:
        service.close()
