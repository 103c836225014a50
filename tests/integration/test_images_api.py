"""The list API driven against the emulator: a channel's images by state, paged; history;
one picture with its caption; holds that /select respects; thumbnails made by Dropbox,
cached by content, refused for a file it cannot convert."""

from __future__ import annotations

import httpx
import pytest

from emulator import Emulator, content_hash
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.pictures import dimensions, picture

THUMBNAIL_ROUTES = ("files/get_thumbnail_v2", "files/get_thumbnail_batch")


def thumbnail_calls(emulator: Emulator) -> int:
    return sum(emulator.counters.calls(route) for route in THUMBNAIL_ROUTES)


@pytest.fixture
def photos(emulator: Emulator, start_service: StartService) -> Service:
    for n in range(5):
        emulator.put_file(f"/Photos/p{n}.jpg", picture(n))
    emulator.put_file("/Photos/q-copy-of-p0.jpg", picture(0))
    emulator.put_file("/Photos/p1.txt", b"First line of the caption.\n\nSecond line.\n")
    return start_service()


def test_a_page_of_images_then_the_next(photos: Service) -> None:
    first = photos.client.get("/images", params={"limit": 3}).json()
    assert [item["name"] for item in first["items"]] == ["p0.jpg", "p1.jpg", "p2.jpg"]
    p0 = first["items"][0]
    assert p0["state"] == "available" and p0["duplicate_count"] == 1
    assert p0["duplicates"] == ["/Photos/q-copy-of-p0.jpg"] and p0["lease"] is None
    assert first["items"][1]["sidecars"] == [{"path": "/Photos/p1.txt", "name": "p1.txt"}]
    rest = photos.client.get("/images", params={"limit": 3, "after": first["next"]}).json()
    assert [item["name"] for item in rest["items"]] == ["p3.jpg", "p4.jpg"]
    assert rest["next"] is None
    assert photos.client.get("/channels/default/images", params={"q": "P4"}).json()["items"][0][
        "content_hash"
    ] == content_hash(picture(4))


def test_a_held_image_is_never_selected_until_released(photos: Service) -> None:
    held = content_hash(picture(2))
    reply = photos.client.post(f"/images/{held}/hold")
    assert reply.status_code == 200 and reply.json()["held"] is True
    assert photos.client.post(f"/images/{held.upper()}/hold").json() == reply.json()
    chosen = {photos.client.post("/select", json={}).json().get("content_hash") for _ in range(5)}
    assert held not in chosen and photos.client.post("/select").json()["error"] == "no_new_images"
    by_name = photos.client.post("/select", json={"name": "p2.jpg"})
    assert by_name.status_code == 409 and by_name.json()["error"] == "held"
    listed = photos.client.get("/images", params={"state": "held"}).json()["items"]
    assert [item["content_hash"] for item in listed] == [held]
    released = photos.client.delete(f"/images/{held}/hold").json()
    assert released == {"content_hash": held, "held": False, "held_at": None, "until": None}
    assert photos.client.post("/select", json={}).json()["content_hash"] == held


def test_history_and_one_picture_with_its_caption(emulator: Emulator, photos: Service) -> None:
    chosen = photos.client.post("/select", json={"name": "p1.jpg"}).json()
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    assert photos.client.post("/posted", json=body).status_code == 200
    (entry,) = photos.client.get("/history").json()["items"]
    assert entry["content_hash"] == chosen["content_hash"] and entry["cycle"] == 1
    assert entry["image"]["state"] == "posted" and entry["image"]["posted_at"]
    emulator.counters.reset()
    for _ in range(2):
        detail = photos.client.get(f"/images/{chosen['content_hash']}").json()
    assert detail["sidecars"][0]["caption"] == "First line of the caption.\nSecond line."
    assert [(post["channel"], post["cycle"]) for post in detail["posts"]] == [("default", 1)]
    assert detail["lease"] is None  # the post ended it
    assert emulator.counters.calls("files/download") == 1  # the caption is read once


def test_thumbnails_come_from_dropbox_once_per_content(emulator: Emulator, photos: Service) -> None:
    emulator.counters.reset()
    hashes = [content_hash(picture(n)) for n in range(3)]
    for _ in range(2):
        for each in hashes:
            reply = photos.client.get(f"/images/{each}/thumbnail", params={"size": "w64h64"})
            assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
            assert max(dimensions(reply.content)) == 64
    assert thumbnail_calls(emulator) == 3
    assert emulator.counters.calls("files/download") == 0
    large = photos.client.get(f"/images/{hashes[0]}/thumbnail", params={"size": "w480h320"})
    assert dimensions(large.content) == (120, 80)  # never enlarged
    assert thumbnail_calls(emulator) == 4


def test_a_file_dropbox_cannot_convert_has_no_thumbnail(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/broken.jpg", b"these bytes are no picture")
    service = start_service()
    broken = content_hash(b"these bytes are no picture")
    for _ in range(2):
        reply = service.client.get(f"/images/{broken}/thumbnail")
        assert reply.status_code == 404 and reply.json()["error"] == "no_thumbnail"
        assert "unsupported_image" in reply.json()["message"]
    assert thumbnail_calls(emulator) == 1  # the refusal is cached too


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/images", {"state": "lost"}),
        ("/images", {"limit": 0}),
        ("/images", {"limit": 201}),
        ("/images", {"after": "not-a-cursor"}),
        ("/history", {"after": "WyJoaXN0b3J5Il0"}),
        ("/images/not-a-hash", {}),
        ("/images/" + "a" * 64 + "/thumbnail", {"size": "huge"}),
    ],
)
def test_bad_input_is_refused_clearly(photos: Service, path: str, params: dict[str, str]) -> None:
    reply = photos.client.get(path, params=params)
    assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"


def test_unknown_content_is_not_found(photos: Service) -> None:
    unknown = "0" * 64
    for method, path in (
        ("GET", f"/images/{unknown}"),
        ("GET", f"/images/{unknown}/thumbnail"),
        ("POST", f"/images/{unknown}/hold"),
    ):
        reply = photos.client.request(method, path)
        assert reply.status_code == 404 and reply.json()["error"] == "not_found", path
    assert photos.client.delete(f"/images/{unknown}/hold").status_code == 200


def test_the_token_is_required(photos: Service) -> None:
    reply = httpx.get(photos.base_url + f"/images/{content_hash(picture(0))}/thumbnail", verify=TLS)
    assert reply.status_code == 401
