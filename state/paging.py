"""Keyset cursors: where a listing stopped, handed out as an opaque ``after`` and taken back.

A cursor is the listing's name and the sort key of the last item shown, as JSON in
URL-safe base64. It is not signed: it only says where to resume reading rows the caller
may read anyway, so a forged one can do no more than start a page elsewhere. Anything
that does not decode to a key of the expected listing and shape is ``InvalidInput``,
never a crash and never a page of another listing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from state.errors import InvalidInput

Key = tuple[str | int | float, ...]
_MAX_CURSOR = 2048


def encode(listing: str, key: Key) -> str:
    raw = json.dumps([listing, *key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(listing: str, cursor: str, shape: Sequence[type]) -> Key:
    """The key in ``cursor``, which must come from ``listing`` and match ``shape``."""
    if len(cursor) > _MAX_CURSOR:
        raise foreign()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise foreign() from exc
    if not isinstance(value, list) or len(value) != len(shape) + 1 or value[0] != listing:
        raise foreign()
    key = tuple(value[1:])
    for part, kind in zip(key, shape, strict=True):
        if not _fits(part, kind):
            raise foreign()
    return key


def _fits(part: object, kind: type) -> bool:
    if isinstance(part, bool):
        return False
    if kind is float:
        return isinstance(part, int | float)
    return isinstance(part, kind)


def check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise InvalidInput(f"limit: must be 1 to {most}")


def foreign() -> InvalidInput:
    return InvalidInput("after: not a cursor of this listing; start again without it")
