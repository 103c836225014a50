"""Holds that end, through the HTTP API with the emulator, on both stores: a hold given an
``until`` a few seconds ahead comes back by itself (the service's housekeeping, once a
second, ends it; nobody asks for that picture) and ``/select`` offers it again; an
``until`` in the past, without a zone or unreadable is ``422`` naming ``until`` and
changes nothing; holding again sets the end. Then the console's hold form with its
date-time field, and ``hold --until`` on the command line against the running service."""

from __future__ import annotations

import math
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, content_hash
from state.rules import iso
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in
from tests.pictures import picture
from tests.reliability.forkserver import forkserver
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SOON = 3  # seconds: enough for the hold to be taken under load, short enough to wait for
A, B = content_hash(picture(0)), content_hash(picture(1))


@pytest.fixture(params=["sqlite", "postgresql"])
def photos(
    request: pytest.FixtureRequest, emulator: Emulator, start_service: StartService
) -> Service:
    emulator.put_file("/Photos/a.jpg", picture(0))
    emulator.put_file("/Photos/b.jpg", picture(1))
    if request.param == "sqlite":
        return start_service()
    return start_service(database_url=request.getfixturevalue("database_url"))


def in_seconds(seconds: float) -> str:
    """A whole second ``seconds`` from now, as the service writes times."""
    return iso(math.ceil(time.time()) + seconds)


def state_of(service: Service, content: str) -> str:
    state: str = service.client.get(f"/images/{content}").json()["image"]["state"]
    return state


def held(service: Service) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = service.client.get("/images", params={"state": "held"}).json()[
        "items"
    ]
    return items


def test_a_hold_with_an_until_ends_by_itself_and_select_offers_it_again(photos: Service) -> None:
    until = in_seconds(SOON)
    reply = photos.client.post(f"/channels/default/images/{A}/hold", json={"until": until})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "content_hash": A, "held": True, "held_at": reply.json()["held_at"], "until": until,
    }  # fmt: skip
    (item,) = held(photos)
    assert (item["content_hash"], item["held_until"]) == (A, until)
    offered = photos.client.post("/select", json={}).json()
    assert offered["content_hash"] == B
    assert photos.client.post("/select", json={}).json()["error"] == "no_new_images"
    wait_until(lambda: state_of(photos, A) == "available", timeout=SOON + 15, interval=0.2)
    assert time.time() >= datetime.fromisoformat(until).timestamp()  # not before its time
    assert held(photos) == []
    again = photos.client.post("/select", json={}).json()
    assert again["content_hash"] == A and again["lease"] is not None


@pytest.mark.parametrize(
    "until",
    ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "tomorrow", "", 1_900_000_000, "9" * 80],
)
def test_an_until_past_naive_or_unreadable_is_refused_and_changes_nothing(
    photos: Service, until: object
) -> None:
    photos.client.post(f"/images/{B}/hold", json={"until": "2099-01-01T00:00:00Z"})
    for target in (A, B):
        reply = photos.client.post(f"/images/{target}/hold", json={"until": until})
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"] == "invalid_request"
        assert reply.json()["message"].startswith("until: "), reply.json()
    assert [(item["content_hash"], item["held_until"]) for item in held(photos)] == [
        (B, "2099-01-01T00:00:00Z")
    ]
    assert photos.client.get("/status").json()["available"] == 1


def test_holding_again_sets_when_the_hold_ends(photos: Service) -> None:
    path = f"/images/{A}/hold"
    first = photos.client.post(path, json={"until": "2099-01-01T00:00:00Z"}).json()
    nearer = photos.client.post(path, json={"until": "2098-06-30T22:00:00-02:00"}).json()
    assert nearer["held_at"] == first["held_at"] and nearer["until"] == "2098-07-01T00:00:00Z"
    forever = photos.client.post(path).json()
    assert forever["held"] is True and forever["until"] is None
    assert held(photos)[0]["held_until"] is None
    assert photos.client.delete(path).json() == {
        "content_hash": A, "held": False, "held_at": None, "until": None,
    }  # fmt: skip


def test_the_consoles_hold_form_takes_a_date_and_time_in_utc(photos: Service) -> None:
    with signed_in(photos) as person:
        grid = person.get("/console/channels/default")
        assert 'type="datetime-local" name="until"' in grid.text
        base = f"/console/channels/default/images/{A}"
        csrf = csrf_of(grid)
        refused = person.post(base + "/hold", data={"csrf": csrf, "until": "31/12/2099"})
        assert refused.status_code == 422 and "until" in refused.text
        past = person.post(base + "/hold", data={"csrf": csrf, "until": "2020-01-01T00:00"})
        assert past.status_code == 422 and held(photos) == []
        done = person.post(
            base + "/hold", data={"csrf": csrf, "next": base, "until": "2099-12-24T18:30"}
        )
        assert done.headers["location"] == base + "?done=held-until"
        page = person.get(done.headers["location"]).text
        assert "comes back by itself" in page and "until 2099-12-24 18:30 UTC" in page
        held_grid = person.get("/console/channels/default?state=held").text
        assert "until 2099-12-24 18:30 UTC" in held_grid
    assert held(photos)[0]["held_until"] == "2099-12-24T18:30:00Z"


def _cli(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` against the running service, with this checkout's client."""
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    path = os.pathsep.join([str(REPO), str(REPO / "client" / "src")])
    env = keep | {"PYTHONPATH": path, "UNPOSTED_URL": service.base_url, "UNPOSTED_TOKEN": API_TOKEN}
    return forkserver().run(list(args), env, cwd=service.settings.state_dir.parent)


@pytest.mark.parametrize("photos", ["sqlite"], indirect=True)
def test_hold_until_on_the_command_line(photos: Service) -> None:
    done = _cli(photos, "hold", "a.jpg", "--until", "2099-12-24T00:00:00+01:00", "--json")
    assert done.returncode == 0, done.stderr
    assert '"until": "2099-12-23T23:00:00Z"' in done.stdout
    table = _cli(photos, "images", "--state", "held")
    assert table.returncode == 0 and "held until 2099-12-23T23:00:00Z" in table.stdout
    for wrong, said in (("2099-12-24", "no time zone"), ("soon", "not an ISO 8601 time")):
        refused = _cli(photos, "hold", "b.jpg", "--until", wrong)
        assert refused.returncode == 2 and "--until" in refused.stderr and said in refused.stderr
    past = _cli(photos, "hold", "b.jpg", "--until", "2020-01-01T00:00:00Z")
    assert past.returncode != 0 and "until: " in past.stderr
    assert [item["content_hash"] for item in held(photos)] == [A]


def test_a_hold_ends_without_anyone_asking_for_the_picture(photos: Service) -> None:
    """Nothing but the housekeeping step ends it: no request names the picture after the
    hold, and the status (the pool's kept count) sees it back."""
    photos.client.post(f"/images/{A}/hold", json={"until": in_seconds(SOON)})
    assert photos.client.get("/status").json()["available"] == 1
    wait_until(
        lambda: photos.client.get("/status").json()["available"] == 2,
        timeout=SOON + 15, interval=0.2,
    )  # fmt: skip
