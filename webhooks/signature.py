"""``X-Dropbox-Signature``: the hex HMAC-SHA256 of the raw body, keyed by the app secret.

Checked over the exact bytes received, before anything is parsed, and compared in
constant time so that a forger learns nothing from how long a refusal takes.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Dropbox-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature Dropbox sends with ``body``: lowercase hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(secret: str, body: bytes, offered: str | None) -> bool:
    """Whether ``offered`` is the signature of ``body``; a missing one never is."""
    if not offered:
        return False
    expected = sign(secret, body).encode()
    # Bytes, not str: compare_digest refuses non-ASCII str, and headers may hold any byte.
    return hmac.compare_digest(expected, offered.strip().lower().encode("utf-8", "replace"))
