"""Signed links to a rendered picture, for a network's API to fetch without the token.

A link names the channel, the content and the lease it was handed out with, and carries
an HMAC-SHA256 of the three keyed by a secret derived from ``API_TOKEN`` (so every
replica that shares the token honours every replica's links, and a link never reveals
the token). A link is good while its lease is active: it ends when the lease expires, is
released or is posted, whatever the link says. Signatures compare in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

from pydantic import SecretStr

_LABEL = b"unposted rendered-picture links"


class LinkSigner:
    def __init__(self, api_token: SecretStr | None) -> None:
        if api_token is None or not api_token.get_secret_value():
            self._key = secrets.token_bytes(32)  # links last as long as the process
        else:
            self._key = hmac.new(api_token.get_secret_value().encode(), _LABEL, "sha256").digest()

    def link(self, base_url: str, channel: str, content_hash: str, lease_id: str) -> str:
        query = urlencode(
            {"lease": lease_id, "signature": self.sign(channel, content_hash, lease_id)}
        )
        return f"{base_url.rstrip('/')}{rendered_path(channel, content_hash)}?{query}"

    def sign(self, channel: str, content_hash: str, lease_id: str) -> str:
        message = "\n".join((channel, content_hash, lease_id)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, channel: str, content_hash: str, lease_id: str, signature: str) -> bool:
        expected = self.sign(channel, content_hash, lease_id).encode()
        return hmac.compare_digest(expected, signature.encode(errors="replace"))


def rendered_path(channel: str, content_hash: str) -> str:
    return f"/channels/{quote(channel, safe='')}/images/{content_hash}/rendered"
