"""Leases outlive the folder, and an expired lease says so: a real service, real HTTP.

A lease belongs to its channel and its content, not to a path. Publisher A leases two
images; the watched folder then vanishes (moved away, deleted, or a parent renamed)
and comes back with the same pictures, the service catching up by webhook at each
step. Publisher B then takes everything it can: never A's images while A holds them.
A's release answers 204 and gives the image back; A's post with its lease records it,
ends A's lease and no other. Quick mode makes one round trip of the folder per
variant; ``--long`` three.

Then the lease's own life, through the API of a real process: posting past the lease
is recorded and says ``expired``; a renewed lease keeps the image past its first
expiry; an expired one cannot be renewed; another channel's token cannot see it. A
lease that outlives its temporary link gets a fresh one when renewed with ``link``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from emulator import Emulator, EmulatorServer
from tests.conftest import TLS
from tests.reliability.holes import Publisher, put_images, trials
from tests.reliability.ledger import Entry, Ledger
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until


@dataclass(frozen=True)
class Vanishing:
    folder: str
    away: Callable[[Emulator], None]
    back: Callable[[Emulator, dict[str, bytes]], None]


def _put_back(emulator: Emulator, pictures: dict[str, bytes]) -> None:
    for path, data in pictures.items():
        emulator.put_file(path, data)


VARIANTS = {
    "moved away": Vanishing(
        "/Photos",
        lambda emu: emu.move("/Photos", "/Elsewhere") and None,
        lambda emu, _: emu.move("/Elsewhere", "/Photos") and None,
    ),
    "deleted": Vanishing("/Photos", lambda emu: emu.delete("/Photos") and None, _put_back),
    "parent renamed": Vanishing(
        "/Photos/queue",
        lambda emu: emu.move("/Photos", "/Pictures") and None,
        lambda emu, _: emu.move("/Pictures", "/Photos") and None,
    ),
}


def images_held(publisher: Publisher) -> int:
    return int(publisher.status()["images"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_lease_outlives_its_folder(
    variant: str, tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("A lease outlives its folder (moved away, deleted, parent renamed)")
    vanishing = VARIANTS[variant]
    emulator = Emulator()
    made = put_images(emulator, vanishing.folder, 6, "pic")
    pictures = {path: emulator.read(path) for path in made}
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(
            emulator, server.base_url, tmp_path / "state", DROPBOX_FOLDER=vanishing.folder
        ).start()
        emulator.register_webhook(service.base_url + "/webhook")
        try:
            for _ in range(trials(long_mode)):
                round_trip(service, emulator, vanishing, pictures, entry)
        finally:
            service.close()
    assert (entry.doubled, entry.wrong) == (0, 0)


def round_trip(
    service: ServiceProcess,
    emulator: Emulator,
    vanishing: Vanishing,
    pictures: dict[str, bytes],
    entry: Entry,
) -> None:
    a, b = Publisher(service.base_url), Publisher(service.base_url)
    try:
        kept, posted = (a.select().json() for _ in range(2))
        vanishing.away(emulator)
        wait_until(lambda: images_held(a) == 0, 30)  # the catch-up saw the folder go
        vanishing.back(emulator, pictures)
        wait_until(lambda: images_held(a) == len(pictures), 30)
        offers, refusal = b.take_all()
        taken = {offer["content_hash"] for offer in offers}
        entry.trials += 1
        entry.faults += 1
        doubled = taken & {kept["content_hash"], posted["content_hash"]}
        entry.doubled += len(doubled)
        assert not doubled, "B was handed images that A still holds"
        assert refusal.json()["error"] == "no_new_images", refusal.text
        assert len(taken) == len(pictures) - 2

        # A's release gives the image back at once, and B may have it now.
        released = a.release(kept["lease"]["id"])
        entry.wrong += released.status_code != 204
        assert released.status_code == 204, released.text
        assert a.lease_state(kept["lease"]["id"]) == "released"
        again = b.select()
        assert again.status_code == 200 and again.json()["content_hash"] == kept["content_hash"]

        # A's post with its lease records the image and ends that lease, no other.
        reply = a.posted(posted["content_hash"], posted["lease"]["id"])
        entry.wrong += reply.status_code != 200 or reply.json()["lease"] != "ended"
        assert reply.status_code == 200 and reply.json()["lease"] == "ended", reply.text
        assert a.lease_state(posted["lease"]["id"]) == "posted"
        b_leases = [offer["lease"]["id"] for offer in offers] + [again.json()["lease"]["id"]]
        states = {b.lease_state(lease) for lease in b_leases}
        entry.wrong += states != {"active"}
        assert states == {"active"}
        assert posted["content_hash"] in a.export()["dropbox_content_hashes"]
        assert b.select().json()["error"] == "no_new_images"
        # The next round starts afresh: B's leases ended, the post forgotten.
        for lease in b_leases:
            assert b.release(lease).status_code == 204
        service.client.post("/admin/reset-posted", json={"confirm": "RESET"})
    finally:
        a.close()
        b.close()


# -- a lease's own life -------------------------------------------------------------------

CHANNELS = """
[libraries.main]
folder = "/Photos"

[channels.a]
library = "main"
api_token_env = "CHANNEL_A_TOKEN"

[channels.b]
library = "main"
api_token_env = "CHANNEL_B_TOKEN"
"""
A_TOKEN, B_TOKEN = "channel-a-token-0123456789abcdefghij", "channel-b-token-0123456789abcdefghij"


def epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_an_expired_lease_through_the_api(tmp_path: Path, long_mode: bool, ledger: Ledger) -> None:
    entry = ledger.entry("Expired, renewed and foreign leases over HTTP")
    emulator = Emulator()
    put_images(emulator, "/Photos", 5, "pic")
    config = tmp_path / "unposted.toml"
    config.write_text(CHANNELS)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(
            emulator, server.base_url, tmp_path / "state", UNPOSTED_CONFIG=str(config),
            DROPBOX_FOLDER=None, CHANNEL_A_TOKEN=A_TOKEN, CHANNEL_B_TOKEN=B_TOKEN,
        ).start()  # fmt: skip
        a, other_a = (Publisher(service.base_url, A_TOKEN, "a") for _ in range(2))
        b = Publisher(service.base_url, B_TOKEN, "b")
        try:
            for _ in range(trials(long_mode)):
                lease_life(a, other_a, b, entry)
                # The next trial starts afresh: nothing posted in channel a.
                reset = service.client.post(
                    "/channels/a/admin/reset-posted", json={"confirm": "RESET"}
                )
                assert reset.status_code == 200, reset.text
        finally:
            for publisher in (a, other_a, b):
                publisher.close()
            service.close()
    assert (entry.doubled, entry.wrong) == (0, 0)


def lease_life(a: Publisher, other_a: Publisher, b: Publisher, entry: Entry) -> None:
    entry.trials += 1
    # Three leases at once, so that their clocks run together: one to post late, one to
    # renew while it runs, one to renew too late.
    replies = [a.select(lease_seconds=s) for s in (1, 2, 1)]
    assert all(reply.status_code == 200 for reply in replies), [r.text for r in replies]
    late, kept, short = (reply.json() for reply in replies)
    late_id, kept_id, short_id = (x["lease"]["id"] for x in (late, kept, short))
    first_expiry = epoch(kept["lease"]["expires_at"])
    renewed = a.renew(kept_id, 60)
    assert renewed.status_code == 200 and renewed.json()["state"] == "active", renewed.text
    assert epoch(renewed.json()["expires_at"]) >= first_expiry + 55
    wait_until(lambda: a.lease_state(late_id) == a.lease_state(short_id) == "expired", 10, 0.1)

    # Posting after the lease ran out: recorded, and the reply says the lease expired.
    reply = a.posted(late["content_hash"], late_id)
    entry.wrong += reply.status_code != 200 or reply.json()["lease"] != "expired"
    assert reply.status_code == 200 and reply.json()["lease"] == "expired", reply.text
    assert a.lease_state(late_id) == "expired"
    assert late["content_hash"] in a.export()["dropbox_content_hashes"]

    # An expired lease cannot be renewed.
    refused = a.renew(short_id, 60)
    entry.wrong += refused.status_code != 409
    assert refused.status_code == 409 and refused.json()["error"] == "lease_expired", refused.text

    # A renewed lease holds its image past the first expiry.
    wait_until(lambda: time.time() > first_expiry + 1.0, 10, 0.1)  # expires_at is truncated
    assert a.lease_state(kept_id) == "active"
    offers, refusal = other_a.take_all()
    taken = {offer["content_hash"] for offer in offers}
    entry.doubled += (kept["content_hash"] in taken) + (late["content_hash"] in taken)
    assert refusal.json()["error"] == "no_new_images", refusal.text
    assert short["content_hash"] in taken  # its lease ended: the image came back
    by_name = other_a.select(name=kept["name"])
    entry.wrong += by_name.status_code != 409
    assert by_name.status_code == 409 and by_name.json()["error"] == "leased", by_name.text
    for offer in offers:
        assert other_a.release(offer["lease"]["id"]).status_code == 204

    # Another channel's token does not reach the lease; its channel does not know it.
    foreign = (
        b.client.get(f"/channels/a/leases/{kept_id}"),
        b.client.post(f"/channels/a/leases/{kept_id}/renew", json={}),
        b.lease(kept_id),
        b.renew(kept_id, 60),
        b.release(kept_id),
    )
    codes = [reply.status_code for reply in foreign]
    entry.wrong += codes != [403, 403, 404, 404, 404]
    assert codes == [403, 403, 404, 404, 404], [reply.text for reply in foreign]
    assert {reply.json()["error"] for reply in foreign[2:]} == {"lease_not_found"}
    # B posting the same content in its own channel, naming A's lease, leaves A's alone.
    crossed = b.posted(kept["content_hash"], kept_id)
    assert crossed.status_code == 200 and crossed.json()["lease"] == "not_found", crossed.text
    assert a.lease_state(kept_id) == "active"
    assert a.release(kept_id).status_code == 204


def test_a_lease_outlives_its_temporary_link(tmp_path: Path, ledger: Ledger) -> None:
    """Dropbox's links die after four hours, leases may run a day: renewing with ``link``
    hands the holder a fresh link to its image, and no one else gets the image meanwhile."""
    entry = ledger.entry("A lease outlives its temporary link")
    emulator = Emulator()
    made = put_images(emulator, "/Photos", 2, "pic")
    emulator.temp_link_ttl = 1.0
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        a, b = Publisher(service.base_url), Publisher(service.base_url)
        try:
            offer = a.select(link=True, lease_seconds=600).json()
            data = emulator.read(offer["path"])
            assert httpx.get(offer["temporary_link"], verify=TLS).content == data
            wait_until(
                lambda: httpx.get(offer["temporary_link"], verify=TLS).status_code == 410, 10, 0.1
            )
            renewed = a.client.post(
                f"/leases/{offer['lease']['id']}/renew", json={"lease_seconds": 600, "link": True}
            )
            entry.trials += 1
            entry.wrong += renewed.status_code != 200
            assert renewed.status_code == 200, renewed.text
            assert renewed.json()["state"] == "active"
            assert httpx.get(renewed.json()["temporary_link"], verify=TLS).content == data
            offers, _ = b.take_all()
            entry.doubled += offer["content_hash"] in {other["content_hash"] for other in offers}
            assert len(offers) == len(made) - 1
        finally:
            a.close()
            b.close()
            service.close()
    assert entry.doubled == 0
