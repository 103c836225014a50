"""The console over HTTP, without a browser: sessions and their cookie, CSRF, what each
token may see, Dropbox calls per page of thumbnails, bad input, and secrets kept out."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from emulator import Emulator, content_hash
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.pictures import picture
from tests.waiting import wait_until

THUMBNAIL_ROUTES = ("files/get_thumbnail_v2", "files/get_thumbnail_batch")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def signed_in(service: Service, token: str = API_TOKEN) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as client:
        page = client.get("/console/sign-in")
        reply = client.post("/console/sign-in", data={"csrf": csrf_of(page), "token": token})
        assert reply.status_code == 303, reply.text
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


@pytest.fixture
def photos(emulator: Emulator, start_service: StartService) -> Service:
    for n in range(70):
        emulator.put_file(f"/Photos/p{n:03d}.jpg", picture(n))
    emulator.put_file("/Photos/zz-cannot-convert.jpg", b"not a picture at all")
    return start_service()


@pytest.fixture
def person(photos: Service) -> Iterator[httpx.Client]:
    with signed_in(photos) as client:
        yield client


def test_pages_need_a_session_and_come_back_after_signing_in(photos: Service) -> None:
    with httpx.Client(base_url=photos.base_url, verify=TLS) as client:
        first = client.get("/console/channels/default?state=held")
        assert first.status_code == 303
        assert (
            first.headers["location"]
            == "/console/sign-in?next=%2Fconsole%2Fchannels%2Fdefault%3Fstate%3Dheld"
        )
        page = client.get(first.headers["location"])
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        form = {
            "csrf": csrf_of(page),
            "token": API_TOKEN,
            "next": "/console/channels/default?state=held",
        }
        reply = client.post("/console/sign-in", data=form)
        assert reply.headers["location"] == "/console/channels/default?state=held"
        assert client.get(reply.headers["location"]).status_code == 200


def test_the_cookie_names_the_token_by_fingerprint_only(photos: Service) -> None:
    with signed_in(photos) as client:
        value = client.cookies["unposted_session"]
        payload = base64.urlsafe_b64decode(value.split(".")[0] + "==")
        assert API_TOKEN.encode() not in payload and API_TOKEN not in value
        forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        client.cookies.set("unposted_session", forged)
        assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    ("token", "csrf", "problem"),
    [("wrong-token", True, "not one this service knows"), (API_TOKEN, False, "expired")],
)
def test_a_sign_in_is_refused(photos: Service, token: str, csrf: bool, problem: str) -> None:
    with httpx.Client(base_url=photos.base_url, verify=TLS) as client:
        page = client.get("/console/sign-in")
        form = {"csrf": csrf_of(page) if csrf else "forged", "token": token}
        reply = client.post("/console/sign-in", data=form)
        assert reply.status_code == 401 and problem in reply.text
        assert client.get("/").status_code == 303


def test_a_form_without_the_sessions_csrf_value_changes_nothing(
    photos: Service, person: httpx.Client
) -> None:
    target = content_hash(picture(3))
    action = f"/console/channels/default/images/{target}/hold"
    with signed_in(photos) as other:
        stolen = csrf_of(other.get("/"))
    for form in (
        {"next": "/"},
        {"csrf": ""},
        {"csrf": stolen},
        {"csrf": csrf_of(person.get("/")) + "x"},
    ):
        reply = person.post(action, data=form)
        assert reply.status_code == 403, form
    assert person.post(action, content=b"csrf=a&csrf=b", headers=_FORM).status_code == 400
    assert person.post(action, json={"csrf": "x"}).status_code == 415
    held = photos.client.get("/images", params={"state": "held"}).json()["items"]
    assert held == []
    done = person.post(action, data={"csrf": csrf_of(person.get("/")), "next": "//evil.example/"})
    assert done.status_code == 303 and done.headers["location"] == "/?done=held"


_FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_holding_posting_and_releasing_from_the_console(
    photos: Service, person: httpx.Client
) -> None:
    csrf = csrf_of(person.get("/"))
    first = content_hash(picture(0))
    base = f"/console/channels/default/images/{first}"
    reply = person.post(base + "/hold", data={"csrf": csrf, "next": base})
    assert reply.headers["location"] == base + "?done=held"
    assert "Held: it will not be selected" in person.get(reply.headers["location"]).text
    assert photos.client.post("/select", json={"name": "p000.jpg"}).json()["error"] == "held"
    person.post(base + "/unhold", data={"csrf": csrf})
    chosen = photos.client.post("/select", json={"name": "p000.jpg"}).json()
    page = person.get(base).text
    assert chosen["lease"]["id"] in page and "Release the lease" in page
    person.post(
        f"/console/channels/default/leases/{chosen['lease']['id']}/release", data={"csrf": csrf}
    )
    assert photos.client.get(f"/images/{first}").json()["lease"] is None
    person.post(base + "/posted", data={"csrf": csrf, "confirm": "posted"})
    history = person.get("/console/channels/default/history").text
    assert "p000.jpg" in history and "cycle 1" in history
    resync = person.post("/console/libraries/default/resync", data={"csrf": csrf})
    assert resync.headers["location"] == "/?done=resync"


def test_a_page_of_60_thumbnails_costs_at_most_three_calls_then_none(
    emulator: Emulator, photos: Service, person: httpx.Client
) -> None:
    for expected in ("cold", "warm"):
        emulator.counters.reset()
        grid = person.get("/console/channels/default")
        images = re.findall(r'<img src="([^"]+)"', grid.text)
        assert len(images) == 60
        for source in images:
            reply = person.get(source)
            assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
        calls = sum(emulator.counters.calls(route) for route in THUMBNAIL_ROUTES)
        assert calls <= 3 if expected == "cold" else calls == 0, expected
        assert emulator.counters.calls("files/download") == 0


def test_a_file_dropbox_cannot_convert_shows_a_placeholder(
    photos: Service, person: httpx.Client
) -> None:
    broken = content_hash(b"not a picture at all")
    reply = person.get(f"/console/channels/default/images/{broken}/thumbnail")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/svg+xml"
    assert b"no thumbnail" in reply.content


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/channels/default?state=lost", 422),
        ("/console/channels/default?after=garbage", 422),
        ("/console/channels/default?q=" + "x" * 300, 422),
        ("/console/channels/default/images/xyz", 422),
        ("/console/channels/default/images/" + "0" * 64, 404),
        ("/console/channels/default/images/" + "0" * 64 + "/thumbnail?size=w9h9", 422),
        ("/console/channels/nowhere", 404),
        ("/console/static/../settings.py", 404),
    ],
)
def test_bad_addresses_get_a_page_that_says_why(
    person: httpx.Client, path: str, status: int
) -> None:
    reply = person.get(path)
    assert reply.status_code == status
    if path.startswith("/console/channels"):
        assert reply.headers["content-type"].startswith("text/html")
        assert reply.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_documents_for_people(photos: Service, person: httpx.Client) -> None:
    with httpx.Client(base_url=photos.base_url, verify=TLS) as stranger:
        assert stranger.get("/docs").status_code == 303
        assert stranger.get("/openapi.json").json()["error"] == "unauthorized"
    docs = person.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "persistAuthorization" in docs.text
    assert person.get("/redoc").status_code == 200
    document = person.get("/openapi.json").json()
    assert "/channels/{channel}/images/{content_hash}/hold" in document["paths"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert photos.client.get("/openapi.json").status_code == 200
    assert not any(path.startswith("/console") for path in document["paths"])


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_documents_pages_name_no_other_host(person: httpx.Client, path: str) -> None:
    page = person.get(path)
    console = person.get("/")
    for name in ("x-frame-options", "x-content-type-options", "referrer-policy", "cache-control"):
        assert page.headers[name] == console.headers[name]
    assert "http" not in page.headers["content-security-policy"]
    assert not re.search(r"https?:|//", page.text)  # no address outside this service
    files = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert len(files) >= 3 and "/console/static/favicon.svg" in files
    for file in files:
        reply = person.get(file)
        assert reply.status_code == 200 and reply.headers["x-content-type-options"] == "nosniff"


def test_tokens_never_reach_pages_or_logs(
    photos: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with signed_in(photos) as client:
        pages = [client.get(path).text for path in ("/", "/console/channels/default", "/docs")]
        client.post("/console/sign-in", data={"csrf": "x", "token": API_TOKEN})
    for text in [*pages, caplog.text]:
        assert API_TOKEN not in text


def test_the_overview_shows_a_first_listing_as_it_goes(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", 2500)
    held = emulator.faults.hold("files/list_folder/continue")
    try:
        service = start_service(wait=False)
        with httpx.Client(base_url=service.base_url, verify=TLS) as client:
            page = client.get("/console/sign-in")
            client.post("/console/sign-in", data={"csrf": csrf_of(page), "token": API_TOKEN})
            wait_until(lambda: emulator.counters.in_flight("files/list_folder/continue") == 1)
            progress = client.get("/console/progress").json()["libraries"]["default"]
            assert progress["syncing"] and progress["entries"] == 2000 and progress["pages"] == 1
            assert progress["percent"] is None  # a first listing: no known end
            overview = client.get("/").text
            assert 'data-syncing="yes"' in overview and "2000 entries, 1 pages" in overview
    finally:
        held.release()
    service.wait_ready()


def test_a_name_made_of_markup_is_shown_as_text(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file('/Photos/<img src=x onerror="alert(1)">.jpg', picture(1))
    emulator.put_file('/Photos/<img src=x onerror="alert(1)">.txt', b"<script>alert(2)</script>")
    service = start_service()
    with signed_in(service) as client:
        grid = client.get("/console/channels/default").text
        detail = client.get(f"/console/channels/default/images/{content_hash(picture(1))}").text
    for page in (grid, detail):
        assert "<img src=x" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "<script>alert(2)" not in detail and "&lt;script&gt;alert(2)" in detail
