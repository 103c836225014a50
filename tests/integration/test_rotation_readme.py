"""The README's channel with every rotation rule on, started as written: its weights share
the leases out, its seasons keep their folders out, and once everything went out the
cycle turns with every picture waiting for ``repeat_after`` (``404`` with ``retry_at``)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from emulator import Emulator, content_hash
from tests.integration.conftest import StartService

README = Path(__file__).resolve().parents[2] / "README.md"
FILES = {
    "travel/alps.jpg": "travel",
    "travel/beach.jpg": "travel",
    "travel/city.jpg": "travel",
    "food/bread.jpg": "food",
    "cover.jpg": ".",
    "christmas/tree.jpg": "christmas",
    "winter/snow.jpg": "winter",
}
JULY = datetime(2026, 7, 1, 12, tzinfo=UTC).timestamp()  # both seasons closed in Paris


def readme_channel() -> str:
    """The TOML block that follows "every rotation rule on at once" in the README."""
    text = README.read_text()
    start = text.index("every rotation rule on at once")
    found = re.search(r"```toml\n(.*?)```", text[start:], re.S)
    assert found is not None
    return found.group(1)


def test_the_readme_channel_with_every_rule_starts_and_rotates(
    tmp_path: Path, emulator: Emulator, start_service: StartService
) -> None:
    block = readme_channel()
    for rule in ("repeat_after", "max_posts", "balance", "weights", "time_zone", ".seasons]"):
        assert rule in block, rule
    library = '[libraries.brand-a]\nfolder = "/Photos/brand-a"\nrecursive = true\n\n'
    (tmp_path / "unposted.toml").write_text(library + block)
    for path in FILES:
        emulator.put_file(f"/Photos/brand-a/{path}", path.encode())
    folder_of = {content_hash(path.encode()): folder for path, folder in FILES.items()}
    service = start_service(
        unposted_config=tmp_path / "unposted.toml", dropbox_folder=None, clock=lambda: JULY
    )
    client, channel = service.client, "/channels/brand-a-instagram"
    status = client.get("/status").json()["channels"]["brand-a-instagram"]
    assert (status["repeat_after_seconds"], status["max_posts"]) == (30 * 86_400, 3)
    assert status["available"] == 5  # the seasonal folders are out

    leased = []
    for _ in range(5):
        reply = client.post(f"{channel}/select", json={})
        assert reply.status_code == 200, reply.text
        chosen = reply.json()
        leased.append(folder_of[chosen["content_hash"]])
        posted = client.post(
            f"{channel}/posted",
            json={"lease_id": chosen["lease"]["id"], "content_hash": chosen["content_hash"]},
        )
        assert posted.status_code == 200, posted.text
    assert Counter(leased) == {"travel": 3, "food": 1, ".": 1}  # weights 3, 1 and 1

    nothing = client.post(f"{channel}/select", json={})
    assert nothing.status_code == 404 and nothing.json()["error"] == "no_new_images"
    assert nothing.json()["retry_at"] is not None  # back 30 days after each post
    status = client.get("/status").json()["channels"]["brand-a-instagram"]
    assert (status["cycle"], status["waiting"], status["available"]) == (2, 5, 0)
