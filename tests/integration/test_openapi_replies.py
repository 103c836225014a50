"""Every operation of ``/openapi.json`` called with real data, its reply held against the
document: the status documented, the body valid by its schema (closed: no key the
document does not name). The fuzz test (``tests/reliability/test_fuzz.py``) tries
generated requests; this one makes sure each reply that matters was actually seen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup

from emulator import Emulator, content_hash, signature
from tests.integration.conftest import Service, StartService
from tests.pictures import picture
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver

PREFIXES = ("", "/channels/{channel}")


CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.default]
library = "default"
[channels.default.render]
aspect = "4:5"
[channels.default.notify]
url = "{url}"
secret_env = "HOOK_SECRET"
events = ["cycle.turned"]
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(answers=[400]) as refusing:  # every event fails: one to replay
        yield refusing


@pytest.fixture
def described(
    emulator: Emulator, start_service: StartService, tmp_path: Path, receiver: Receiver
) -> Service:
    for n in range(6):
        emulator.put_file(f"/Photos/p{n}.jpg", picture(n))
    emulator.put_file("/Photos/p0-copy.jpg", picture(0))
    emulator.put_file("/Photos/p0.txt", b"a caption")
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG.format(url=receiver.url))  # with a render profile, a webhook
    environ = {"HOOK_SECRET": SECRET}
    return start_service(unposted_config=config, dropbox_folder=None, environ=environ)


class Checked:
    """Calls operations and validates their replies, remembering which were covered."""

    def __init__(self, service: Service) -> None:
        document = service.client.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document)
        self.operations = {
            (op.method.upper(), op.path): op
            for op in (result.ok() for result in schema.get_all_operations())
        }
        self.client, self.seen = service.client, set[tuple[str, str]]()

    def __call__(self, method: str, template: str, **request: Any) -> httpx.Response:
        path = template.replace("{channel}", "default")
        for name, value in request.pop("path", {}).items():
            path = path.replace("{" + name + "}", value)
        reply = self.client.request(method, path, **request)
        assert reply.status_code < 400, (method, path, reply.text)
        self.operations[(method, template)].validate_response(reply)
        self.seen.add((method, template))
        return reply


@pytest.fixture
def check(described: Service) -> Iterator[Checked]:
    checked = Checked(described)
    yield checked
    assert checked.seen == set(checked.operations), set(checked.operations) - checked.seen


def test_a_reply_unlike_its_schema_is_caught(described: Service) -> None:
    checked = Checked(described)
    status = described.client.get("/status")
    with pytest.raises(FailureGroup):
        checked.operations[("GET", "/channels")].validate_response(status)


def test_every_reply_is_what_the_document_says(check: Checked, emulator: Emulator) -> None:
    for call in ("/healthz", "/readyz", "/channels", "/metrics"):
        check("GET", call)
    check("GET", "/webhook", params={"challenge": "abc"})
    body = emulator.webhooks.body()
    headers = {"X-Dropbox-Signature": signature(emulator.app_secret, body)}
    check("POST", "/webhook", content=body, headers=headers)
    check("POST", "/admin/resync")
    for prefix in PREFIXES:
        channel_routes(check, prefix)


def channel_routes(check: Checked, prefix: str) -> None:
    check("GET", prefix + "/status")
    if prefix:
        check("GET", prefix + "/channels")
    check("POST", prefix + "/select", json={"dry_run": True})
    chosen = check("POST", prefix + "/select", json={"name": "p1.jpg", "render": True}).json()
    assert chosen["rendered"]["format"] == "jpeg"
    lease = {"lease_id": chosen["lease"]["id"]}
    check("GET", prefix + "/leases/{lease_id}", path=lease)
    check("POST", prefix + "/leases/{lease_id}/renew", path=lease, json={})
    check("POST", prefix + "/release", json=lease)
    image = {"content_hash": content_hash(picture(0))}
    check("GET", prefix + "/images", params={"state": "available", "limit": 2})
    found = check("GET", prefix + "/images/matching", params={"ref": "P0-copy.jpg"}).json()
    assert found["matches"] == [
        {"content_hash": image["content_hash"], "path": "/Photos/p0-copy.jpg"}
    ]
    check("GET", prefix + "/images/{content_hash}", path=image)
    check("POST", prefix + "/images/{content_hash}/hold", path=image)
    check("DELETE", prefix + "/images/{content_hash}/hold", path=image)
    check("GET", prefix + "/images/{content_hash}/thumbnail", path=image)
    check("GET", prefix + "/images/{content_hash}/rendered", path=image)
    check("POST", prefix + "/posted", json=image)
    check("DELETE", prefix + "/posted/{content_hash}", path=image)
    check("POST", prefix + "/posted", json=image)
    check("GET", prefix + "/history")
    check("GET", prefix + "/posted/export")
    check("POST", prefix + "/posted/import", content=json.dumps(["ab" * 32]))
    check("POST", prefix + "/admin/reset-posted", json={"confirm": "RESET"})
    delivery_routes(check, prefix)


def delivery_routes(check: Checked, prefix: str) -> None:
    sent = check("POST", prefix + "/admin/deliveries/test").json()

    def failed() -> bool:
        items = check("GET", prefix + "/admin/deliveries", params={"limit": 1}).json()["items"]
        return bool(items) and items[0]["status"] == "failed"

    wait_until(failed, 15)
    check("POST", prefix + "/admin/deliveries/{event_id}/replay", path={"event_id": sent["id"]})
