"""The console's "Mark posted" asks first, and the notice that follows offers "Undo": over
HTTP, as a browser without scripts sends the forms (``tests/browser`` clicks them)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from emulator import Emulator, content_hash
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in
from tests.pictures import picture

FIRST = content_hash(picture(0))
PAGE = f"/console/channels/default/images/{FIRST}"


@pytest.fixture
def person(
    emulator: Emulator, start_service: StartService
) -> Iterator[tuple[Service, httpx.Client]]:
    for n in range(3):
        emulator.put_file(f"/Photos/p{n}.jpg", picture(n))
    service = start_service()
    with signed_in(service) as client:
        yield service, client


def posted_count(service: Service) -> int:
    count: int = service.client.get("/status").json()["posted"]
    return count


def forms(page: httpx.Response) -> list[str]:
    return [
        html.unescape(action)
        for action in re.findall(r'<form method="post" action="([^"]+)"', page.text)
    ]


def test_marking_posted_asks_first_and_the_notice_undoes_it(
    person: tuple[Service, httpx.Client],
) -> None:
    service, client = person
    page = client.get(PAGE)
    csrf = csrf_of(page)
    assert '<details class="confirm">' in page.text and "Yes, mark posted" in page.text
    unconfirmed = client.post(PAGE + "/posted", data={"csrf": csrf, "next": PAGE})
    assert unconfirmed.status_code == 303 and posted_count(service) == 0  # nothing recorded
    asking = client.get(unconfirmed.headers["location"])
    assert unconfirmed.headers["location"] == PAGE + "?confirm=posted"
    assert '<details class="confirm" open>' in asking.text
    assert f'name="next" value="{PAGE}"' in asking.text  # the step is not where it returns

    done = client.post(PAGE + "/posted", data={"csrf": csrf, "next": PAGE, "confirm": "posted"})
    assert done.headers["location"] == f"{PAGE}?done=posted&undo={FIRST}"
    assert posted_count(service) == 1
    assert "Undo the post" in client.get(PAGE).text  # the page of a posted picture offers it
    notice = client.get(done.headers["location"])
    assert "Marked posted in this channel." in notice.text
    assert PAGE + "/unpost" in forms(notice) and ">Undo</button>" in notice.text
    assert ">Undo</button>" not in client.get(PAGE + "?done=posted&undo=" + "0" * 63).text
    refused = client.post(PAGE + "/unpost", data={"csrf": "forged", "next": PAGE})
    assert refused.status_code == 403 and posted_count(service) == 1

    undone = client.post(PAGE + "/unpost", data={"csrf": csrf, "next": PAGE})
    assert undone.headers["location"] == PAGE + "?done=unposted"
    assert "The post is undone" in client.get(undone.headers["location"]).text
    assert posted_count(service) == 0
    chosen = service.client.post("/select", json={"name": "p0.jpg"}).json()
    assert chosen["content_hash"] == FIRST and chosen["lease"] is not None  # offered again
    history = client.get("/console/channels/default/history").text
    assert 'class="card undone"' in history and "by API_TOKEN" in history
    again = client.post(PAGE + "/unpost", data={"csrf": csrf, "next": PAGE})
    assert again.status_code == 404 and "was not posted" in again.text
