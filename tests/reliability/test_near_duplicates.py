"""Near-duplicates of posted pictures, seen from a real process while thumbnails misbehave.

Each trial posts an original, then its re-exports (JPEG quality 60, half size) arrive:
- while every thumbnail takes 8 s (2 s in the quick mode) to come;
- or while thumbnails fail, after the original was posted with ``archive: true`` (moved
  out of the folder before it was ever fingerprinted), until they recover.
A publisher previews and leases the whole time (letting go of what it is handed); every
re-export it is offered goes to the ledger, which must count none.
"""

from __future__ import annotations

import io
import random
import time
from pathlib import Path
from typing import Any

from PIL import Image

from app.demo import draw_scene
from emulator import Emulator, EmulatorServer
from state.hashing import content_hash
from tests.reliability.holes import Publisher, notify, trials
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until

THUMBNAILS = ("files/get_thumbnail_batch", "files/get_thumbnail_v2")
SCENES = ("harbor", "forest", "city", "desert")


def _picture(tmp_path: Path, seed: int, quality: int = 90, scale: float = 1.0) -> bytes:
    path = tmp_path / f"scene-{seed}.jpg"
    if not path.exists():
        draw_scene(path, random.Random(seed), SCENES[seed % len(SCENES)])
    with Image.open(path) as drawn:
        image = drawn.convert("RGB")
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _settled(publisher: Publisher, images: int) -> bool:
    """The catalog holds ``images`` and nothing waits for a fingerprint."""
    status = publisher.client.get("/status").json()
    library = status["libraries"]["default"]
    channel = status["channels"]["default"]
    return bool(
        status["images"] == images
        and library["awaiting_fingerprint"] == 0
        and channel["awaiting_fingerprint"] == 0
    )


def _watch(publisher: Publisher, images: int, shunned: set[str]) -> tuple[int, int]:
    """Preview and lease until the service has settled: (selections, shunned ones offered)."""
    selections, offered, deadline = 0, 0, time.monotonic() + 90
    while not _settled(publisher, images) or selections < 10:
        assert time.monotonic() < deadline, "the service did not settle within 90 s"
        for body in ({"dry_run": True}, {}):
            reply = publisher.select(**body)
            selections += 1
            if reply.status_code != 200:
                continue
            chosen: dict[str, Any] = reply.json()
            offered += chosen["content_hash"] in shunned
            if chosen["lease"] is not None:
                publisher.release(chosen["lease"]["id"])
    return selections, offered


def _post_then_re_export(
    emulator: Emulator, publisher: Publisher, tmp_path: Path, seed: int, archive: bool
) -> set[str]:
    """Post the original of ``seed`` (archived, or not), put its re-exports in the folder,
    and return their content hashes."""
    original = _picture(tmp_path, seed)
    reply = publisher.posted(content_hash(original), archive=archive)
    assert reply.status_code == 200, reply.text
    re_exports = {
        f"/Photos/p{seed}-q60.jpg": _picture(tmp_path, seed, quality=60),
        f"/Photos/p{seed}-half.jpg": _picture(tmp_path, seed, scale=0.5),
    }
    for path, data in re_exports.items():
        emulator.put_file(path, data)
    notify(publisher.client, emulator)
    return {content_hash(data) for data in re_exports.values()}


def test_re_exports_of_posted_pictures_are_never_offered(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("Near-duplicates: re-exports of posted pictures offered")
    lag = 8.0 if long_mode else 2.0
    emulator = Emulator()
    emulator.put_file("/Photos/filler.jpg", _picture(tmp_path, 1000))
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(
            emulator, server.base_url, tmp_path / "state",
            NEAR_DUPLICATE_HASHING="true", ARCHIVE_FOLDER="/Archive",
        ).start()  # fmt: skip
        publisher = Publisher(service.base_url)
        images, offered = 1, 0
        try:
            wait_until(lambda: _settled(publisher, images), 60)
            for trial in range(trials(long_mode, 1, 4)):
                for archive in (False, True):
                    seed = 2 * trial + int(archive)
                    emulator.put_file(f"/Photos/p{seed}.jpg", _picture(tmp_path, seed))
                    images += 1
                    notify(publisher.client, emulator)
                    wait_until(lambda: _settled(publisher, images), 60)  # noqa: B023
                    if archive:  # thumbnails fail from before the post until after the copies
                        for route in THUMBNAILS:
                            emulator.faults.server_error(route, times=None)
                    else:
                        emulator.faults.delay(THUMBNAILS[0], lag)
                    shunned = _post_then_re_export(emulator, publisher, tmp_path, seed, archive)
                    images += 2 - archive  # an archived original leaves the folder
                    if archive:
                        wait_until(lambda: publisher.status()["images"] == images, 30)  # noqa: B023
                        time.sleep(lag)
                    emulator.faults.clear()
                    selections, wrong = _watch(publisher, images, shunned)
                    entry.trials += 1
                    entry.faults += 1
                    entry.inputs += selections
                    entry.wrong += wrong
                    offered += wrong
        finally:
            publisher.close()
            service.close()
    entry.notes.append(
        f"{offered} re-exports offered (must be 0; counted as wrong): a JPEG-60 and a half-size"
        f" copy of each posted picture, added while thumbnails lag {lag:.0f} s, or fail"
        " through a post with archive: true"
    )
    assert offered == 0
