"""Libraries and channels from one configuration file, against two emulated accounts.

Two libraries (``brand-a`` in the service's own account, ``brand-b`` in a second account
reached with its own refresh token) and three channels (``a-instagram`` and
``a-telegram`` on brand-a, ``b-feed`` on brand-b), each channel with its own token.
Archiving is a channel's right: moving a posted picture out of the library takes it from
every channel of that library, so the operator grants it (``archive`` in a channel's table).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import Emulator, EmulatorServer, account_id_for, content_hash, signature
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

TOKENS = {
    "a-instagram": "insta-token-0001-0123456789abcdefghij",
    "a-telegram": "tele-token-0002-0123456789abcdefghij",
    "b-feed": "feed-token-0003-0123456789abcdefghij",
}
ENVIRON = {
    "BRAND_B_REFRESH": "",  # filled in by the fixture: the second account's refresh token
    "INSTA_TOKEN": TOKENS["a-instagram"],
    "TELE_TOKEN": TOKENS["a-telegram"],
    "FEED_TOKEN": TOKENS["b-feed"],
}
CONFIG = """
[libraries.brand-a]
folder = "/Brand A"

[libraries.brand-b]
folder = "/Photos"
refresh_token_env = "BRAND_B_REFRESH"

[channels.a-instagram]
library = "brand-a"
api_token_env = "INSTA_TOKEN"

[channels.a-telegram]
library = "brand-a"
when_exhausted = "new_cycle"
policy = "name"
api_token_env = "TELE_TOKEN"

[channels.b-feed]
library = "brand-b"
api_token_env = "FEED_TOKEN"
"""


@pytest.fixture
def second() -> Emulator:
    """Another Dropbox account of the same app."""
    emu = Emulator(
        account_id=account_id_for("brand-b"), access_token="b-access", refresh_token="b-refresh"
    )
    emu.create_folder("/Photos")
    return emu


@pytest.fixture
def emulator_server(emulator: Emulator, second: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator, second) as server:
        yield server


@pytest.fixture
def start(tmp_path: Path, emulator: Emulator, second: Emulator, start_service: StartService) -> Any:
    emulator.create_folder("/Brand A")

    def run(config: str = CONFIG, **overrides: Any) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(config)
        environ = ENVIRON | {"BRAND_B_REFRESH": second.refresh_token}
        return start_service(
            unposted_config=path, dropbox_folder=None, environ=environ, **overrides
        )

    return run


def client(service: Service, channel: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKENS[channel]}"}
    return httpx.Client(base_url=service.base_url, headers=headers, timeout=30, verify=TLS)


def select(service: Service, channel: str, **body: Any) -> httpx.Response:
    return service.client.post(f"/channels/{channel}/select", json=body)


def post(service: Service, channel: str, chosen: dict[str, Any]) -> httpx.Response:
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    return service.client.post(f"/channels/{channel}/posted", json=body)


def test_two_libraries_of_two_accounts_and_three_channels(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    emulator.put_file("/Brand A/a2.jpg", b"a2")
    emulator.put_file("/Photos/not-in-any-library.jpg", b"x")
    second.put_file("/Photos/b1.jpg", b"b1")
    service = start()
    listed = service.client.get("/channels").json()["channels"]
    assert {c["name"]: (c["library"], c["available"]) for c in listed} == {
        "a-instagram": ("brand-a", 2), "a-telegram": ("brand-a", 2), "b-feed": ("brand-b", 1),
    }  # fmt: skip
    assert select(service, "b-feed").json()["content_hash"] == content_hash(b"b1")
    report = service.client.get("/status").json()
    assert set(report["libraries"]) == {"brand-a", "brand-b"}
    assert report["libraries"]["brand-b"]["account_id"] == second.account_id
    assert report["libraries"]["brand-a"]["account_id"] == emulator.account_id
    assert service.client.get("/readyz").status_code == 200


def test_posted_in_one_channel_is_new_in_another(emulator: Emulator, start: Any) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    service = start()
    chosen = select(service, "a-instagram").json()
    assert post(service, "a-instagram", chosen).status_code == 200
    assert select(service, "a-instagram").json()["error"] == "no_new_images"
    assert select(service, "a-telegram").json()["content_hash"] == chosen["content_hash"]
    exported = service.client.get("/channels/a-telegram/posted/export").json()
    assert exported == {"hashes": [], "dropbox_content_hashes": []}


def test_a_channel_token_reaches_its_channel_only(emulator: Emulator, start: Any) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    service = start()
    with client(service, "a-instagram") as insta:
        assert insta.post("/channels/a-instagram/select", json={"dry_run": True}).status_code == 200
        assert insta.get("/channels/a-instagram/status").status_code == 200
        for method, path in (
            ("POST", "/channels/a-telegram/select"),
            ("GET", "/channels/a-telegram/status"),
            ("GET", "/channels/b-feed/posted/export"),
            ("POST", "/channels/no-such-channel/select"),
            ("POST", "/channels/a-instagram/admin/reset-posted"),
            ("POST", "/admin/resync"),
            ("GET", "/metrics"),
        ):
            reply = insta.request(method, path, json={})
            assert reply.status_code == 403, (path, reply.text)
            assert reply.json()["error"] == "forbidden"
        assert [c["name"] for c in insta.get("/channels").json()["channels"]] == ["a-instagram"]
        assert insta.get("/status").json()["available"] >= 0  # its own channel's counts
    wrong = httpx.post(
        service.base_url + "/channels/a-instagram/select",
        headers={"Authorization": "Bearer not-a-token"},
        verify=TLS,
    )
    assert wrong.status_code == 401
    assert service.client.post("/channels/no-such-channel/select").status_code == 404


def test_routes_without_a_prefix_need_a_default_channel(emulator: Emulator, start: Any) -> None:
    service = start()
    reply = service.client.post("/select", json={})
    assert reply.status_code == 400 and reply.json()["error"] == "channel_required"
    assert "a-instagram" in reply.json()["message"]


def test_a_new_cycle_channel_serves_every_image_once_then_again(
    emulator: Emulator, start: Any
) -> None:
    for name in ("a1", "a2", "a3"):
        emulator.put_file(f"/Brand A/{name}.jpg", name.encode())
    service = start()
    served: list[str] = []
    for turn in range(7):
        if turn == 1:  # added mid-cycle: available in this cycle
            emulator.put_file("/Brand A/a4.jpg", b"a4")
            service.runtime.workers["brand-a"].request_threadsafe()
            wait_until(lambda: _available(service, "a-telegram") == 3)
        chosen = select(service, "a-telegram").json()
        assert post(service, "a-telegram", chosen).status_code == 200
        served.append(chosen["name"])
    assert sorted(served[:4]) == ["a1.jpg", "a2.jpg", "a3.jpg", "a4.jpg"]
    assert len(set(served[4:])) == 3  # the second cycle repeats nothing within itself
    status = service.client.get("/channels/a-telegram/status").json()
    assert status["cycle"] == 2 and status["posted"] == 3
    # a stop channel on the same library is unaffected
    assert _available(service, "a-instagram") == 4


def _available(service: Service, channel: str) -> int:
    reply = service.client.get(f"/channels/{channel}/status").json()
    return int(reply["available"])


def test_a_webhook_catches_up_only_the_libraries_of_its_account(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    service = start()
    runtime = service.runtime
    wait_until(lambda: all(w.account_id for w in runtime.workers.values()))
    wait_until(lambda: all(w.idle for w in runtime.workers.values()))
    runs = {name: worker.health.runs for name, worker in runtime.workers.items()}
    second.put_file("/Photos/b-new.jpg", b"b-new")
    body = second.webhooks.body()
    headers = {"X-Dropbox-Signature": signature(second.app_secret, body)}
    reply = httpx.post(service.base_url + "/webhook", content=body, headers=headers, verify=TLS)
    assert reply.json() == {"status": "accepted"}
    wait_until(lambda: _available(service, "b-feed") == 1)
    wait_until(lambda: all(w.idle for w in runtime.workers.values()))
    assert runtime.workers["brand-b"].health.runs > runs["brand-b"]
    assert runtime.workers["brand-a"].health.runs == runs["brand-a"]


def test_a_library_whose_folder_changes_in_the_file_is_relisted(
    emulator: Emulator, start: Any, start_service: StartService
) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    emulator.create_folder("/Brand A 2")
    emulator.put_file("/Brand A 2/fresh.jpg", b"fresh")
    service = start()
    chosen = select(service, "a-instagram").json()
    post(service, "a-instagram", chosen)
    service.server.stop()
    moved = CONFIG.replace('folder = "/Brand A"', 'folder = "/Brand A 2"')
    again = start(moved)
    names = {select(again, "a-telegram", dry_run=True).json()["name"] for _ in range(5)}
    assert names == {"fresh.jpg"}
    exported = again.client.get("/channels/a-instagram/posted/export").json()
    assert exported["dropbox_content_hashes"] == [content_hash(b"a1")]
    assert again.runtime.store.reports.catalog_files("brand-a") == {
        "/brand a 2/fresh.jpg": content_hash(b"fresh")
    }


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (
            CONFIG + "\n[libraries.brand-c]\nfolder = '/X'\ncolour = 'red'\n",
            "[libraries.brand-c] colour",
        ),
        (CONFIG + "\n[channels.c]\nlibrary = 'nowhere'\n", "[channels.c] library"),
        (CONFIG.replace("FEED_TOKEN", "UNSET_TOKEN"), "[channels.b-feed] api_token_env"),
        (CONFIG + "\n[libraries.twin]\nfolder = '/brand a'\n", "[libraries.twin] folder"),
        (CONFIG + "\n[channels.d]\nlibrary = 'brand-a'\nlease_seconds = 0\n", "lease_seconds"),
        ("not = [valid", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_with_one_line_naming_the_table_and_key(
    tmp_path: Path, config: str, named: str
) -> None:
    from app.configuration.environment import Settings
    from app.configuration.file import load_config
    from app.errors import ConfigError

    path = tmp_path / "bad.toml"
    path.write_text(config)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as refused:
        load_config(settings, ENVIRON | {"BRAND_B_REFRESH": "r"})
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and named in message


def test_a_file_and_a_folder_variable_together_are_refused(tmp_path: Path) -> None:
    from app.configuration.environment import Settings
    from app.configuration.file import load_config
    from app.errors import ConfigError

    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    settings = Settings(_env_file=None, unposted_config=path, dropbox_folder="/P")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="DROPBOX_FOLDER"):
        load_config(settings, ENVIRON)


def test_the_operator_token_reaches_everything(emulator: Emulator, start: Any) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    service = start()
    for channel in TOKENS:
        assert service.client.get(f"/channels/{channel}/status").status_code == 200
    reply = service.client.post(
        "/channels/a-instagram/admin/reset-posted", json={"confirm": "RESET"}
    )
    assert reply.status_code == 200
    assert service.client.post("/admin/resync", json={"library": "brand-b"}).status_code == 202
    assert service.client.post("/admin/resync", json={"library": "nope"}).status_code == 404
    assert (
        httpx.get(
            service.base_url + "/metrics",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            verify=TLS,
        ).status_code
        == 200
    )


def test_a_channel_token_acts_on_its_own_channel_without_the_prefix(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    emulator.put_file("/Brand A/a2.jpg", b"a2")
    second.put_file("/Photos/b1.jpg", b"b1")
    service = start()
    with client(service, "a-telegram") as tele, client(service, "b-feed") as feed:
        assert feed.post("/select", json={"dry_run": True}).json()["name"] == "b1.jpg"
        chosen = tele.post("/select", json={}).json()
        assert chosen["name"] == "a1.jpg"  # the channel's own policy, "name"
        body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
        assert tele.post("/posted", json=body).status_code == 200
        assert tele.get("/status").json()["posted"] == 1
        assert tele.get("/posted/export").json()["dropbox_content_hashes"] == [content_hash(b"a1")]
        assert [e["content_hash"] for e in tele.get("/history").json()["items"]] == [
            content_hash(b"a1")
        ]
        assert tele.post(f"/images/{content_hash(b'a2')}/hold").status_code == 200
        assert tele.get("/images", params={"state": "held"}).json()["items"][0]["name"] == "a2.jpg"
    operator = service.client
    assert operator.get("/channels/a-telegram/status").json()["posted"] == 1
    assert operator.get("/channels/a-instagram/status").json()["posted"] == 0
    assert operator.get("/channels/a-instagram/images/" + content_hash(b"a2")).status_code == 200


def test_no_reply_to_a_channel_token_names_another_channel(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    second.put_file("/Photos/b1.jpg", b"b1")
    service = start()
    some = content_hash(b"a1")
    unprefixed = [
        ("POST", "/select"), ("POST", "/posted"), ("POST", "/release"), ("GET", "/status"),
        ("GET", "/posted/export"), ("POST", "/posted/import"), ("GET", "/images"),
        ("GET", "/history"), ("GET", f"/images/{some}"), ("POST", f"/images/{some}/hold"),
        ("GET", "/leases/nope"), ("POST", "/admin/reset-posted"), ("GET", "/channels"),
        ("GET", "/metrics"), ("POST", "/admin/resync"), ("GET", "/openapi.json"),
    ]  # fmt: skip
    for own in TOKENS:
        others = [name for name in TOKENS if name != own]
        prefixed = [
            (method, f"/channels/{name}{path}")
            for name in [*others, "no-such-channel"]
            for method, path in unprefixed
            if path not in ("/channels", "/metrics", "/admin/resync", "/openapi.json")
        ]
        with client(service, own) as caller:
            for method, path in unprefixed + prefixed:
                reply = caller.request(method, path, json={})
                assert reply.status_code != 500, (own, path, reply.text)
                for other in others:
                    assert other not in reply.text, (own, method, path, reply.text)


def test_a_token_of_several_channels_hears_only_of_its_own(
    emulator: Emulator, second: Emulator, start: Any
) -> None:
    """``serve`` refuses a token shared by two channels; the app given one still keeps the
    third channel's name from it."""
    emulator.put_file("/Brand A/a1.jpg", b"a1")
    service = start(CONFIG.replace("TELE_TOKEN", "INSTA_TOKEN"))
    with client(service, "a-instagram") as shared:
        reply = shared.post("/select", json={"dry_run": True})
        assert reply.status_code == 400 and reply.json()["error"] == "channel_required"
        assert "a-instagram" in reply.text and "a-telegram" in reply.text
        assert "b-feed" not in reply.text
        assert shared.get("/status").json()["error"] == "channel_required"
        assert "b-feed" not in shared.get("/status").text
        listed = [c["name"] for c in shared.get("/channels").json()["channels"]]
        assert listed == ["a-instagram", "a-telegram"]
        assert shared.post("/channels/a-telegram/select", json={"dry_run": True}).status_code == 200


ARCHIVE = "/Archive"


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
    from app.configuration.environment import Settings
    from app.configuration.file import load_config
    from app.errors import ConfigError

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
    from app.configuration.environment import Settings
    from app.configuration.file import load_config

    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    config = load_config(settings, ENVIRON | {"BRAND_B_REFRESH": "r"})
    assert {name: channel.archive for name, channel in config.channels.items()} == {
        "a-instagram": False, "a-telegram": False, "b-feed": True,
    }  # fmt: skip
