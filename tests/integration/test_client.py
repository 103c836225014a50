"""``unposted_client`` (the ``client/`` distribution) against the real service over HTTP.

Both clients, sync and async, on the service wired to the emulator: each contract
error arrives as its own exception and each reply as a typed, frozen value, exactly as
a publisher importing the package sees them. Retries of ``503 busy`` and ``not_ready``
are shown against the real service (held before its first catch-up) and a real local
HTTP server that answers 503 first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from unposted_client import (
    AsyncUnpostedClient,
    BusyError,
    InvalidRequestError,
    LeaseConflictError,
    LeaseNotFoundError,
    NoImagesError,
    NoNewImagesError,
    NotFoundError,
    NotPostedError,
    NotReadyError,
    RetryPolicy,
    Selection,
    UnauthorizedError,
    UndonePost,
    UnpostedClient,
    UnpostedClientError,
    UnreachableError,
)

from emulator import Emulator
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService

TOKEN = "client-test-token-0123456789abcdefghijklmnop"
NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture
def photos(emulator: Emulator) -> Emulator:
    """Three distinct images, one duplicate of the first, one caption sidecar."""
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/a-copy.jpg", b"image a")
    emulator.put_file("/Photos/a.txt", b"a caption")
    emulator.put_file("/Photos/b.png", b"image b")
    emulator.put_file("/Photos/c.jpg", b"image c")
    return emulator


def _client(service: Service, token: str = TOKEN, **options: object) -> UnpostedClient:
    return UnpostedClient(service.base_url, token, timeout=10, **options)  # type: ignore[arg-type]


@pytest.fixture
def service_of(photos: Emulator, start_service: StartService) -> Service:
    return start_service(archive_folder="/Posted", api_token=TOKEN)


@pytest.fixture
def unposted(service_of: Service) -> Iterator[UnpostedClient]:
    with _client(service_of) as client:
        yield client


def test_select_returns_a_typed_frozen_leased_selection(unposted: UnpostedClient) -> None:
    image = unposted.select(name="a.jpg")
    assert isinstance(image, Selection)
    assert image.name == "a.jpg" and image.path == "/Photos/a.jpg"
    assert image.size == len(b"image a") and len(image.content_hash) == 64
    assert [sidecar.name for sidecar in image.sidecars] == ["a.txt"]
    assert image.duplicates == ("/Photos/a-copy.jpg",)
    assert image.lease is not None and image.lease_id == image.lease.id
    assert image.temporary_link is None and image.raw["name"] == "a.jpg"
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.name = "other.jpg"  # type: ignore[misc]


def test_dry_run_takes_no_lease_and_link_adds_a_temporary_link(unposted: UnpostedClient) -> None:
    preview = unposted.select(dry_run=True, link=True, name="b.png")
    assert preview.lease is None and preview.lease_id is None
    assert preview.temporary_link is not None
    assert httpx.get(preview.temporary_link, verify=TLS).content == b"image b"
    assert unposted.status().leased == 0


def test_posted_then_release_round_trip(unposted: UnpostedClient) -> None:
    first = unposted.select(name="a.jpg", lease_seconds=60)
    receipt = unposted.posted(first.content_hash, lease_id=first.lease_id)
    assert receipt.content_hash == first.content_hash and receipt.posted_at
    assert receipt.archived_to is None
    assert unposted.posted(first.content_hash).content_hash == first.content_hash  # idempotent
    second = unposted.select(name="b.png")
    assert second.lease_id is not None
    assert unposted.status().leased == 1
    unposted.release(second.lease_id)
    assert unposted.lease(second.lease_id).state == "released"
    status = unposted.status()
    assert (status.leased, status.posted, status.available) == (0, 1, 2)
    assert (status.images, status.unique_images, status.cursor) == (4, 3, True)
    assert status.libraries is not None and set(status.libraries) == {"default"}


def test_a_post_undone_comes_again_and_the_history_says_so(unposted: UnpostedClient) -> None:
    first = unposted.select(name="c.jpg")
    receipt = unposted.posted(first.content_hash, lease_id=first.lease_id)
    undone = unposted.unpost(first.content_hash)
    assert isinstance(undone, UndonePost) and undone.raw["undone_by"] == "API_TOKEN"
    assert (undone.content_hash, undone.channel, undone.cycle) == (first.content_hash, "default", 1)
    assert (undone.posted_at, undone.undone_by) == (receipt.posted_at, "API_TOKEN")
    with pytest.raises(NotPostedError) as refused:  # a NotFoundError, 404 not_posted
        unposted.unpost(first.content_hash)
    assert isinstance(refused.value, NotFoundError) and refused.value.code == "not_posted"
    [entry] = unposted.history().items
    assert (entry.content_hash, entry.undone_at, entry.undone_by) == (
        first.content_hash, undone.undone_at, "API_TOKEN",
    )  # fmt: skip
    assert unposted.select(name="c.jpg").lease_id is not None  # offered again
    assert unposted.status().posted == 0


def test_renew_extends_a_running_lease(unposted: UnpostedClient) -> None:
    image = unposted.select(name="c.jpg", lease_seconds=30)
    assert image.lease is not None and image.lease_id is not None
    renewed = unposted.renew(image.lease_id, lease_seconds=3600, link=True)
    assert (renewed.id, renewed.state, renewed.content_hash) == (
        image.lease_id, "active", image.content_hash,
    )  # fmt: skip
    assert renewed.expires_at > image.lease.expires_at and renewed.temporary_link


def test_hold_unhold_images_history_and_find(unposted: UnpostedClient) -> None:
    a = unposted.select(dry_run=True, name="a.jpg").content_hash
    held = unposted.hold(a)
    assert held.held and held.held_at and held.content_hash == a
    assert [item.content_hash for item in unposted.images(state="held").items] == [a]
    assert a not in {item.content_hash for item in unposted.images().items}
    assert held.until is None and not unposted.unhold(a).held
    ends = datetime(2099, 12, 24, 9, tzinfo=timezone(timedelta(hours=9)))
    assert unposted.hold(a, until=ends).until == "2099-12-24T00:00:00Z"
    (shown,) = unposted.images(state="held").items
    assert shown.held_until == "2099-12-24T00:00:00Z"
    assert unposted.hold(a, until="2099-12-25T00:00:00Z").until == "2099-12-25T00:00:00Z"
    with pytest.raises(InvalidRequestError, match="until"):
        unposted.hold(a, until=datetime(2099, 12, 24))  # no zone: which day's midnight?
    assert not unposted.unhold(a).held
    page = unposted.images(limit=2)
    assert len(page.items) == 2 and page.next is not None
    rest = unposted.images(after=page.next, limit=2)
    assert len(rest.items) == 1 and rest.next is None
    assert [m.content_hash for m in unposted.find(a[:8])] == [a]
    assert [m.content_hash for m in unposted.find("A.JPG")] == [a]
    assert [m.content_hash for m in unposted.find("/Photos/a-copy.jpg")] == [a]
    assert unposted.find("missing.jpg") == ()
    b = unposted.select(name="b.png")
    unposted.posted(b.content_hash, lease_id=b.lease_id)
    history = unposted.history()
    assert [entry.content_hash for entry in history.items] == [b.content_hash]
    assert history.items[0].image is not None and history.items[0].image.state == "posted"


def test_export_reset_and_import_posted_state(unposted: UnpostedClient) -> None:
    image = unposted.select(name="c.jpg")
    digest = hashlib.sha256(b"image c").hexdigest()
    unposted.posted(image.content_hash, lease_id=image.lease_id, sha256=digest)
    exported = unposted.export_posted()
    assert exported.hashes == (digest,)
    assert exported.dropbox_content_hashes == (image.content_hash,)
    assert unposted.reset_posted() == exported
    assert unposted.status().posted == 0
    report = unposted.import_posted(json.dumps(exported.raw).encode())
    assert report.matched >= 1 and unposted.status().posted == 1


def test_resync_is_accepted_and_runs(unposted: UnpostedClient, service_of: Service) -> None:
    runs = service_of.worker.health.runs
    unposted.resync()
    deadline = time.monotonic() + 30
    while service_of.worker.health.runs <= runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service_of.worker.health.runs > runs
    with pytest.raises(NotFoundError):
        unposted.resync(library="no-such-library")


def test_a_channel_client_uses_the_channels_routes(service_of: Service) -> None:
    with _client(service_of, channel="default") as client:
        assert client.status().unique_images == 3
    with _client(service_of, channel="elsewhere") as client, pytest.raises(NotFoundError):
        client.status()


def test_contract_errors_arrive_as_their_exceptions(unposted: UnpostedClient) -> None:
    unposted.select(name="c.jpg")
    with pytest.raises(LeaseConflictError) as raised:
        unposted.select(name="c.jpg")
    assert (raised.value.code, raised.value.status) == ("leased", 409)
    with pytest.raises(NotFoundError) as missing:
        unposted.select(name="missing.jpg")
    assert missing.value.message == "Selected file not found: missing.jpg"
    with pytest.raises(LeaseNotFoundError):
        unposted.release("0123456789abcdef0123")
    with pytest.raises(UnpostedClientError) as invalid:
        unposted.posted("not-a-content-hash")
    assert (invalid.value.code, invalid.value.status) == ("invalid_request", 422)
    for name in ("a.jpg", "b.png"):
        unposted.posted(unposted.select(name=name).content_hash)
    with pytest.raises(NoNewImagesError) as none_new:
        unposted.select()
    assert "1 leased" in none_new.value.message


def test_empty_folder_is_no_images(start_service: StartService) -> None:
    service = start_service(api_token=TOKEN)
    with _client(service) as client, pytest.raises(NoImagesError) as raised:
        client.select()
    assert raised.value.message == "No images found"


def test_wrong_token_is_unauthorized(service_of: Service) -> None:
    with _client(service_of, token="wrong-" + TOKEN) as client:
        with pytest.raises(UnauthorizedError) as raised:
            client.status()
        assert raised.value.status == 401


def test_not_ready_is_retried_until_the_first_catch_up(
    photos: Emulator, start_service: StartService
) -> None:
    hold = photos.faults.hold("files/list_folder")
    service = start_service(wait=False, api_token=TOKEN)
    with _client(service, retry=NO_RETRY) as impatient, pytest.raises(NotReadyError) as raised:
        impatient.select(dry_run=True)
    assert (raised.value.code, raised.value.status) == ("not_ready", 503)
    threading.Timer(1.0, hold.release).start()
    patient = RetryPolicy(attempts=40, total_seconds=20, default_wait=0.25)
    with _client(service, retry=patient) as client:
        started = time.monotonic()
        assert client.select(dry_run=True).lease is None
    assert time.monotonic() - started >= 0.5


class _BusyFirst(BaseHTTPRequestHandler):
    """Answers ``503 busy`` with ``Retry-After: 1`` the first ``busy`` times, then counts."""

    busy = 2
    asked: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).asked.append(time.monotonic())
        if len(self.asked) <= self.busy:
            self._reply(503, {"error": "busy", "message": "held"}, {"Retry-After": "1"})
        else:
            self._reply(200, {"images": 7, "available": 5}, {})

    def _reply(self, status: int, body: object, headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[str]:
    _BusyFirst.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BusyFirst)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_busy_is_retried_as_retry_after_says(busy_server: str) -> None:
    with UnpostedClient(busy_server, TOKEN) as client:
        assert client.status().images == 7
    gaps = [b - a for a, b in zip(_BusyFirst.asked, _BusyFirst.asked[1:], strict=False)]
    assert len(gaps) == 2 and all(0.9 <= gap < 3 for gap in gaps)


def test_busy_past_the_policys_bounds_is_raised(busy_server: str) -> None:
    with UnpostedClient(busy_server, TOKEN, retry=RetryPolicy(attempts=2)) as client:
        with pytest.raises(BusyError) as raised:
            client.status()
    assert raised.value.status == 503 and len(_BusyFirst.asked) == 2
    _BusyFirst.asked = []
    with UnpostedClient(busy_server, TOKEN, retry=RetryPolicy(total_seconds=0.5)) as client:
        with pytest.raises(BusyError):
            client.status()
    assert len(_BusyFirst.asked) == 1


def test_async_client_retries_busy_too(busy_server: str) -> None:
    async def ask() -> int:
        async with AsyncUnpostedClient(busy_server, TOKEN) as client:
            return (await client.status()).available

    assert asyncio.run(ask()) == 5 and len(_BusyFirst.asked) == 3


def test_async_client_against_the_service(service_of: Service) -> None:
    async def publish() -> tuple[str, int, int]:
        async with AsyncUnpostedClient(service_of.base_url, TOKEN, timeout=10) as client:
            image = await client.select(name="a.jpg")
            with pytest.raises(LeaseConflictError):
                await client.select(name="a.jpg")
            receipt = await client.posted(image.content_hash, lease_id=image.lease_id)
            held = await client.hold((await client.find("b.png"))[0].content_hash)
            assert held.held and (await client.images(state="held")).items
            assert (await client.history()).items[0].content_hash == image.content_hash
            undone = await client.unpost(image.content_hash)
            assert undone.undone_by == "API_TOKEN" and (await client.history()).items[0].undone_at
            with pytest.raises(NotPostedError):
                await client.unpost(image.content_hash)
            await client.posted(image.content_hash)
            status = await client.status()
            return receipt.content_hash, status.posted, status.available

    content_hash, posted, available = asyncio.run(publish())
    assert len(content_hash) == 64 and (posted, available) == (1, 1)


def test_a_service_that_does_not_answer_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with UnpostedClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2) as client:
        with pytest.raises(UnreachableError) as raised:
            client.status()
    assert raised.value.status is None and raised.value.code == "unreachable"
