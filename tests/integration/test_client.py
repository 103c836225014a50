"""``app.client.UnpostedClient`` against the real service, over HTTP, wired to the emulator.

Each contract error must arrive as its own exception, and each reply as a typed,
frozen value, exactly as a publisher importing the client would see them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from app.client import (
    LeaseConflictError,
    LeaseNotFoundError,
    NoImagesError,
    NoNewImagesError,
    NotFoundError,
    NotReadyError,
    Selection,
    UnauthorizedError,
    UnpostedClient,
    UnpostedClientError,
    UnreachableError,
)
from emulator import Emulator
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService


@pytest.fixture
def photos(emulator: Emulator) -> Emulator:
    """Three distinct images, one duplicate of the first, one caption sidecar."""
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/a-copy.jpg", b"image a")
    emulator.put_file("/Photos/a.txt", b"a caption")
    emulator.put_file("/Photos/b.png", b"image b")
    emulator.put_file("/Photos/c.jpg", b"image c")
    return emulator


def _client(service: Service, token: str = API_TOKEN) -> UnpostedClient:
    return UnpostedClient(service.base_url, token, timeout=10)


@pytest.fixture
def service_of(photos: Emulator, start_service: StartService) -> Service:
    return start_service(archive_folder="/Posted")


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
    assert image.temporary_link is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.name = "other.jpg"  # type: ignore[misc]


def test_dry_run_takes_no_lease_and_link_adds_a_temporary_link(unposted: UnpostedClient) -> None:
    preview = unposted.select(dry_run=True, link=True, name="b.png")
    assert preview.lease is None and preview.lease_id is None
    assert preview.temporary_link is not None
    assert httpx.get(preview.temporary_link).content == b"image b"
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
    status = unposted.status()
    assert (status.leased, status.posted, status.available) == (0, 1, 2)
    assert (status.images, status.unique_images, status.cursor) == (4, 3, True)


def test_posted_with_archive_moves_the_image_its_duplicates_and_sidecars(
    unposted: UnpostedClient, photos: Emulator
) -> None:
    image = unposted.select(name="a.jpg")
    receipt = unposted.posted(image.content_hash, lease_id=image.lease_id, archive=True)
    assert receipt.archived_to in ("/Posted/a.jpg", "/Posted/a-copy.jpg")
    for name in ("a.jpg", "a-copy.jpg", "a.txt"):
        assert photos.metadata(f"/Posted/{name}") is not None
        assert photos.metadata(f"/Photos/{name}") is None


def test_posted_content_is_never_offered_again_under_another_name(
    unposted: UnpostedClient, photos: Emulator, service_of: Service
) -> None:
    for name in ("a.jpg", "b.png", "c.jpg"):
        unposted.posted(unposted.select(name=name).content_hash)
    photos.put_file("/Photos/renamed.jpg", b"image b")
    service_of.catch_up()
    assert unposted.status().images == 5
    with pytest.raises(NoNewImagesError):
        unposted.select()


def test_a_posted_image_selected_by_name_comes_without_a_lease(
    unposted: UnpostedClient,
) -> None:
    image = unposted.select(name="b.png")
    unposted.posted(image.content_hash, lease_id=image.lease_id)
    again = unposted.select(name="b.png")
    assert again.content_hash == image.content_hash and again.lease is None


def test_an_image_leased_to_another_publisher(unposted: UnpostedClient) -> None:
    unposted.select(name="c.jpg")
    with pytest.raises(LeaseConflictError) as raised:
        unposted.select(name="c.jpg")
    assert (raised.value.code, raised.value.status) == ("leased", 409)


def test_sha256_given_with_posted_is_exported(
    unposted: UnpostedClient, service_of: Service
) -> None:
    image = unposted.select(name="c.jpg")
    digest = hashlib.sha256(b"image c").hexdigest()
    unposted.posted(image.content_hash, lease_id=image.lease_id, sha256=digest)
    exported = service_of.client.get("/posted/export").json()
    assert exported == {"hashes": [digest], "dropbox_content_hashes": [image.content_hash]}


def test_no_new_images_once_every_image_is_posted_or_leased(unposted: UnpostedClient) -> None:
    leased = unposted.select(name="a.jpg")
    for name in ("b.png", "c.jpg"):
        unposted.posted(unposted.select(name=name).content_hash)
    with pytest.raises(NoNewImagesError) as raised:
        unposted.select()
    assert (raised.value.code, raised.value.status) == ("no_new_images", 404)
    assert "1 leased" in raised.value.message
    assert leased.lease_id is not None


def test_name_that_matches_nothing_is_not_found(unposted: UnpostedClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        unposted.select(name="missing.jpg")
    assert raised.value.message == "Selected file not found: missing.jpg"


def test_releasing_an_unknown_lease(unposted: UnpostedClient) -> None:
    with pytest.raises(LeaseNotFoundError) as raised:
        unposted.release("no-such-lease")
    assert raised.value.status == 404


def test_empty_folder_is_no_images(start_service: StartService) -> None:
    with _client(start_service()) as client, pytest.raises(NoImagesError) as raised:
        client.select()
    assert raised.value.message == "No images found"


def test_wrong_token_is_unauthorized(photos: Emulator, start_service: StartService) -> None:
    with _client(start_service(), token="wrong") as client:
        with pytest.raises(UnauthorizedError) as raised:
            client.status()
        assert raised.value.status == 401
        with pytest.raises(UnauthorizedError):
            client.select()


def test_before_the_first_catch_up_is_not_ready(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.faults.server_error("files/list_folder", times=None)
    with _client(start_service(wait=False)) as client, pytest.raises(NotReadyError) as raised:
        client.select()
    assert (raised.value.code, raised.value.status) == ("not_ready", 503)


def test_invalid_input_is_a_generic_client_error(unposted: UnpostedClient) -> None:
    with pytest.raises(UnpostedClientError) as raised:
        unposted.posted("not-a-content-hash")
    assert type(raised.value) is UnpostedClientError
    assert (raised.value.code, raised.value.status) == ("invalid_request", 422)


def test_a_service_that_does_not_answer_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with UnpostedClient(f"http://127.0.0.1:{port}", API_TOKEN, timeout=2) as client:
        with pytest.raises(UnreachableError) as raised:
            client.status()
    assert raised.value.status is None and raised.value.code == "unreachable"
