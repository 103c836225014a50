"""Archiving is a channel's right: moving a posted picture out of the library takes it from
every channel of that library, so the operator grants it (``archive`` in a channel's table).

The libraries and channels of ``test_libraries_channels``: ``a-instagram`` and
``a-telegram`` share ``brand-a``, ``b-feed`` is alone on ``brand-b``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, content_hash
from tests.integration.test_libraries_channels import (  # noqa: F401  (fixtures)
    CONFIG,
    ENVIRON,
    client,
    emulator_server,
    second,
    start,
)

ARCHIVE = "/Archive"


def _available(service: Any, channel: str) -> int:
    return int(service.client.get(f"/channels/{channel}/status").json()["available"])


def _exported(service: Any, channel: str) -> list[str]:
    reply = service.client.get(f"/channels/{channel}/posted/export")
    return list(reply.json()["dropbox_content_hashes"])


def test_a_shared_library_refuses_a_channel_archive_and_records_nothing(
    emulator: Emulator, start: Any
) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    emulator.put_file("/Brand A/a2.jpg", b"a2")
    service = start(archive_folder=ARCHIVE)
    chosen = service.client.post("/channels/a-instagram/select", json={}).json()
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    with client(service, "a-instagram") as insta:
        refused = insta.post("/channels/a-instagram/posted", json=body | {"archive": True})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "archive_not_allowed"
        assert "a-telegram" not in refused.json()["message"]  # no sibling is named
        assert _exported(service, "a-instagram") == []
        lease = service.client.get(f"/channels/a-instagram/leases/{body['lease_id']}")
        assert lease.json()["state"] == "active"
        assert set(emulator.files("/Brand A")) == {"/brand a/a1.jpg", "/brand a/a2.jpg"}
        assert _available(service, "a-telegram") == 2
        # The publisher retries without archiving: the post is recorded, nothing moves.
        retried = insta.post("/channels/a-instagram/posted", json=body)
        assert retried.status_code == 200 and retried.json()["archived_to"] is None
    assert _exported(service, "a-instagram") == [chosen["content_hash"]]
    assert _available(service, "a-telegram") == 2


def test_the_operator_may_always_archive(emulator: Emulator, start: Any) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    service = start(archive_folder=ARCHIVE)
    body = {"content_hash": content_hash(b"a1"), "archive": True}
    reply = service.client.post("/channels/a-instagram/posted", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["archived_to"] == "/Archive/a1.jpg"
    assert set(emulator.files("/Brand A")) == set()


def test_a_channel_alone_on_its_library_may_archive_by_default(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    second.put_file("/Photos/b1.jpg", b"b1")
    service = start(archive_folder=ARCHIVE)
    with client(service, "b-feed") as feed:
        body = {"content_hash": content_hash(b"b1"), "archive": True}
        reply = feed.post("/channels/b-feed/posted", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["archived_to"] == "/Archive/b1.jpg"
    assert set(second.files("/Archive")) == {"/archive/b1.jpg"}
    assert set(second.files("/Photos")) == set()


def test_archive_true_gives_a_shared_channel_the_right(emulator: Emulator, start: Any) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    emulator.put_file("/Brand A/a2.jpg", b"a2")
    granted = CONFIG.replace(
        'api_token_env = "INSTA_TOKEN"', 'api_token_env = "INSTA_TOKEN"\narchive = true'
    )
    service = start(granted, archive_folder=ARCHIVE)
    with client(service, "a-instagram") as insta, client(service, "a-telegram") as tele:
        body = {"content_hash": content_hash(b"a1"), "archive": True}
        assert insta.post("/channels/a-instagram/posted", json=body).status_code == 200
        refused = tele.post("/channels/a-telegram/posted", json=body | {
            "content_hash": content_hash(b"a2")})  # fmt: skip
        assert refused.status_code == 403 and refused.json()["error"] == "archive_not_allowed"
    assert set(emulator.files("/Brand A")) == {"/brand a/a2.jpg"}
    assert _exported(service, "a-telegram") == []


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_an_archive_that_is_not_true_or_false_is_refused_with_one_line(
    tmp_path: Path, value: str
) -> None:
    from app.config import load_config
    from app.errors import ConfigError
    from app.settings import Settings

    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG.replace('api_token_env = "TELE_TOKEN"',
                                   f'api_token_env = "TELE_TOKEN"\narchive = {value}'))  # fmt: skip
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as refused:
        load_config(settings, ENVIRON | {"BRAND_B_REFRESH": "r"})
    message = str(refused.value)
    assert "\n" not in message and str(path) in message
    assert "[channels.a-telegram] archive: must be a bool" in message


def test_the_defaults_follow_how_many_channels_share_a_library(tmp_path: Path) -> None:
    from app.config import load_config
    from app.settings import Settings

    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    config = load_config(settings, ENVIRON | {"BRAND_B_REFRESH": "r"})
    assert {name: channel.archive for name, channel in config.channels.items()} == {
        "a-instagram": False, "a-telegram": False, "b-feed": True,
    }  # fmt: skip
