"""Request bodies: what each route accepts, declared once on its endpoint, and the refusals.

A route that takes more than ``DEFAULT_LIMIT`` bytes, or a body that is not JSON,
says so under its route decorator::

    @router.post("/posted/import")
    @accepts_body(IMPORT_LIMIT_BYTES)
    async def import_posted(request: Request, ...) -> ...:
        raw = await request.body()

Every other route accepts up to ``DEFAULT_LIMIT`` bytes of JSON. ``BodyGuard``
(``app.api.body_guard``) applies the declaration to every request, whichever way the
route reads its body. Refusals are ``BodyRefused`` (``BodyTooLarge``, ``BodyTimeout``,
``DuplicateKey``), drawn and answered in ``app.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from app.errors import BodyRefused, BodyTimeout, BodyTooLarge, DuplicateKey

__all__ = [
    "BODY_TIMEOUT_SECONDS", "DEFAULT_LIMIT", "BodyPolicy", "BodyRefused", "BodyTimeout",
    "BodyTooLarge", "DuplicateKey", "accepts_body", "policy_of", "refuse_duplicate_keys",
]  # fmt: skip

DEFAULT_LIMIT = 64 * 1024  # a /select, /posted or /release body is well under 1 KiB
BODY_TIMEOUT_SECONDS = 10.0  # from the request's headers to its body's last byte

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class BodyPolicy:
    limit: int = DEFAULT_LIMIT
    json: bool = True  # refuse duplicate keys; False for bodies judged before parsing


_DEFAULT = BodyPolicy()
_ATTRIBUTE = "unposted_body_policy"


def accepts_body(limit: int, *, json: bool = True) -> Callable[[Endpoint], Endpoint]:
    """Declare the body a route's endpoint accepts: at most ``limit`` bytes."""

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, BodyPolicy(limit, json))
        return endpoint

    return declare


def policy_of(endpoint: object) -> BodyPolicy:
    """The endpoint's declared policy; the default for undeclared ones (and no route)."""
    policy = getattr(endpoint, _ATTRIBUTE, _DEFAULT)
    return policy if isinstance(policy, BodyPolicy) else _DEFAULT


def refuse_duplicate_keys(body: bytes) -> None:
    """``DuplicateKey`` when an object in the JSON ``body`` names a key twice.

    ``json.loads`` keeps the last of two equal keys, so ``{"confirm": "no", "confirm":
    "RESET"}`` would read as a confirmation. A body that is not JSON passes: the route
    refuses it in its own words.
    """
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"body: the key {_shown(key)} appears twice in one object")
            seen.add(key)
    return document


def _shown(key: str) -> str:
    quoted = json.dumps(key)
    return quoted if len(quoted) <= 64 else quoted[:60] + '..."'
