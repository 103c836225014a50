"""OAuth2 tokens: one long-lived access token, one refresh token, and the short-lived
access tokens the ``refresh_token`` grant issues (they expire after ``access_token_ttl``).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from emulator.errors import AuthFailure


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


class OAuthError(Exception):
    """An ``oauth2/token`` refusal: 400 with ``{"error": code, "error_description": ...}``."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


class Tokens:
    """Checks bearer tokens and runs the refresh-token grant."""

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        access_token: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        self.app_key, self.app_secret = app_key, app_secret
        self.access_token = access_token or "emu-" + secrets.token_urlsafe(32)
        self.refresh_token = refresh_token or "emu-refresh-" + secrets.token_urlsafe(32)
        self.access_token_ttl: float = 14400
        self._issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def check_bearer(self, header: str | None) -> None:
        """Raise ``AuthFailure`` unless ``header`` is ``Bearer <valid token>``."""
        if not header or not header.startswith("Bearer "):
            raise AuthFailure("invalid_access_token")
        token = header[len("Bearer ") :].strip()
        if token == self.access_token:
            return
        with self._lock:
            expires_at = self._issued.get(token)
        if expires_at is None:
            raise AuthFailure("invalid_access_token")
        if time.monotonic() >= expires_at:
            raise AuthFailure("expired_access_token")

    def owns(self, token: str) -> bool:
        """Whether ``token`` is this account's (valid or expired): routes a request to it."""
        with self._lock:
            return token == self.access_token or token in self._issued

    def grant(self, form: dict[str, str], authorization: str | None) -> TokenGrant:
        """The ``refresh_token`` grant; client credentials in the form or Basic auth."""
        client_id, client_secret = _client_credentials(form, authorization)
        if form.get("grant_type") != "refresh_token":
            raise OAuthError("unsupported_grant_type", "only refresh_token is emulated")
        if client_id != self.app_key or client_secret not in (None, self.app_secret):
            raise OAuthError("invalid_client", "Invalid client_id or client_secret")
        if form.get("refresh_token") != self.refresh_token:
            raise OAuthError("invalid_grant", "refresh token is invalid or revoked")
        return self.issue()

    def issue(self) -> TokenGrant:
        """A new short-lived access token valid for ``access_token_ttl`` seconds."""
        token = "sl.emu-" + secrets.token_urlsafe(32)
        with self._lock:
            self._issued[token] = time.monotonic() + self.access_token_ttl
        return TokenGrant(token, int(self.access_token_ttl))


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str, str | None]:
    if authorization and authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
        except ValueError as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials") from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret")
