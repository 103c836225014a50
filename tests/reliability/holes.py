"""What the "never twice, whatever happens" checks share: publishers, counts, webhooks.

A ``Publisher`` is one client of a running service (``ServiceProcess``) acting in one
channel with one token; it remembers every image it was handed. The checks drive the
service only through its HTTP API and the emulator, as a publisher and Dropbox would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from emulator import Emulator, signature
from tests.conftest import API_TOKEN, TLS


def trials(long_mode: bool, quick: int = 1, long: int = 3) -> int:
    return long if long_mode else quick


class Publisher:
    """A publisher of ``channel`` (None: the routes without a prefix) holding ``token``."""

    def __init__(
        self, base_url: str, token: str = API_TOKEN, channel: str | None = None, timeout: float = 30
    ) -> None:
        self.prefix = "" if channel is None else f"/channels/{channel}"
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            verify=TLS,
        )
        self.handed: list[str] = []

    def select(self, **body: Any) -> httpx.Response:
        reply = self.client.post(f"{self.prefix}/select", json=body)
        if reply.status_code == 200 and reply.json()["lease"] is not None:
            self.handed.append(reply.json()["content_hash"])
        return reply

    def take_all(self, limit: int = 1000) -> tuple[list[dict[str, Any]], httpx.Response]:
        """Select (and lease) until the service says there is nothing left."""
        offers = []
        for _ in range(limit):
            reply = self.select()
            if reply.status_code != 200:
                return offers, reply
            offers.append(reply.json())
        raise AssertionError(f"still selecting after {limit} images")

    def posted(self, content_hash: str, lease_id: str | None = None, **body: Any) -> httpx.Response:
        body = {"content_hash": content_hash, **body}
        if lease_id is not None:
            body["lease_id"] = lease_id
        return self.client.post(f"{self.prefix}/posted", json=body)

    def release(self, lease_id: str) -> httpx.Response:
        return self.client.post(f"{self.prefix}/release", json={"lease_id": lease_id})

    def lease(self, lease_id: str) -> httpx.Response:
        return self.client.get(f"{self.prefix}/leases/{lease_id}")

    def renew(self, lease_id: str, seconds: int | None = None) -> httpx.Response:
        body = {} if seconds is None else {"lease_seconds": seconds}
        return self.client.post(f"{self.prefix}/leases/{lease_id}/renew", json=body)

    def lease_state(self, lease_id: str) -> str | None:
        reply = self.lease(lease_id)
        return str(reply.json()["state"]) if reply.status_code == 200 else None

    def status(self) -> dict[str, Any]:
        reply = self.client.get(f"{self.prefix}/status")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def export(self) -> dict[str, list[str]]:
        reply = self.client.get(f"{self.prefix}/posted/export")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def put_images(emulator: Emulator, folder: str, count: int, tag: str) -> dict[str, str]:
    """``count`` small images of distinct content; ``{path: content_hash}``."""
    made = {}
    for n in range(count):
        meta = emulator.put_file(f"{folder}/{tag}-{n}.jpg", f"{tag} picture {n}".encode())
        made[meta.path_display] = meta.content_hash
    return made


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """One sample of ``/metrics`` (0 when absent)."""
    text = client.get("/metrics").text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def notify(client: httpx.Client, emulator: Emulator) -> str:
    """Send the service a signed notification naming ``emulator``'s account; its outcome."""
    body = json.dumps(
        {"list_folder": {"accounts": [emulator.account_id]}, "delta": {"users": [emulator.user_id]}}
    ).encode()
    headers = {"X-Dropbox-Signature": signature(emulator.app_secret, body)}
    reply = client.post("/webhook", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["status"])
