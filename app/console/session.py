"""Console sessions: who signed in, in a signed cookie that never holds the token itself.

A session names its holder by the token's *fingerprint* (an HMAC of the token under the
session key) and carries a random CSRF value for its forms, when it was issued, and,
once signed in, the random id of its record in the store. The cookie is that, as JSON
in URL-safe base64, followed by its HMAC-SHA256; a cookie whose signature does not
match (compared in constant time), that does not parse, or that is older than
``LIFETIME`` is no session. Who the holder is, is looked up again on every request
among the tokens configured now, so a token taken out of the configuration ends its
sessions at once; and the record must still be in the store (``app.console.viewer``),
so signing out ends a session at once, on every replica, copies of its cookie included.
The store keeps only a digest of the id (``Session.record``).

The key: ``HMAC-SHA256(API_TOKEN, "unposted console session key")``. It needs no file,
is the same for every replica that shares a configuration, and changes with the token,
so rotating ``API_TOKEN`` signs everyone out. It is never logged or shown. Without an
``API_TOKEN`` (possible only outside ``serve``) a random key serves the process's life.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

COOKIE = "unposted_session"
LIFETIME = 12 * 3600
_LABEL = b"unposted console session key"


def session_key(api_token: SecretStr | None) -> bytes:
    if api_token is None or not api_token.get_secret_value():
        return secrets.token_bytes(32)
    return hmac.new(api_token.get_secret_value().encode(), _LABEL, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Session:
    """``holder``: the fingerprint of the token signed in with, and ``id`` the session
    record's (both "" before signing in)."""

    holder: str
    csrf: str
    issued: int
    id: str = ""

    @property
    def record(self) -> str:
        """The key of the session's record in the store: a digest, so the store alone
        (a backup, say) holds nothing a cookie could be made of."""
        return hashlib.sha256(b"session:" + self.id.encode()).hexdigest()

    @property
    def expires_at(self) -> float:
        return float(self.issued + LIFETIME)

    def csrf_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key, self._clock = key, clock

    def fingerprint(self, token: str) -> str:
        return hmac.new(self._key, b"token:" + token.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, holder: str = "") -> tuple[Session, str]:
        """A new session (a fresh CSRF value, and a record id once signed in) and its
        cookie value."""
        record_id = secrets.token_urlsafe(24) if holder else ""
        session = Session(holder, secrets.token_urlsafe(24), int(self._clock()), record_id)
        payload = json.dumps([session.holder, session.csrf, session.issued, session.id]).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return session, f"{body}.{self._sign(body)}"

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            holder, csrf, issued, record_id = json.loads(
                base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            )
        except (ValueError, TypeError, binascii.Error):
            return None
        texts = (holder, csrf, record_id)
        if not (all(isinstance(text, str) for text in texts) and isinstance(issued, int)):
            return None
        if not 0 <= self._clock() - issued < LIFETIME:
            return None
        return Session(holder, csrf, issued, record_id)

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, b"session:" + body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
