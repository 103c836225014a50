"""Errors the emulator raises, and their Dropbox wire form.

Hierarchy::

    EmulatorError                 anything the emulator refuses
    ├── AccountError              a Dropbox route error (HTTP 409), tagged like Dropbox's
    │   ├── LookupFailure         path lookups: not_found, not_file, not_folder
    │   └── RelocationFailure     move_v2: from_lookup/..., to/conflict/..., ...
    ├── ResetCursor               the cursor was invalidated (409 ``reset``)
    ├── BadInput                  malformed arguments (HTTP 400, plain text, as Dropbox)
    └── AuthFailure               bad, missing or expired token (HTTP 401)

``AccountError.tags`` is the path through Dropbox's tagged unions, outermost first:
``("path", "not_found")`` becomes ``{".tag": "path", "path": {".tag": "not_found"}}``
with ``error_summary`` ``"path/not_found/.."``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class EmulatorError(Exception):
    """Base of every error the emulator raises on purpose."""


class AccountError(EmulatorError):
    """A route error, answered with HTTP 409."""

    def __init__(self, *tags: str) -> None:
        super().__init__("/".join(tags))
        self.tags: tuple[str, ...] = tags

    def within(self, *outer: str) -> AccountError:
        """The same error nested under ``outer`` tags (``path`` for a lookup route)."""
        return AccountError(*outer, *self.tags)

    def body(self) -> dict[str, Any]:
        return {"error_summary": "/".join(self.tags) + "/..", "error": tagged(self.tags)}


class LookupFailure(AccountError):
    """A path that does not resolve as required: ``not_found``, ``not_file``, ``not_folder``."""


class RelocationFailure(AccountError):
    """A move that Dropbox would refuse."""


class ResetCursor(AccountError):
    def __init__(self) -> None:
        super().__init__("reset")


class BadInput(EmulatorError):
    """An argument Dropbox rejects with 400 and a plain-text message."""


class AuthFailure(EmulatorError):
    """401: ``tag`` is ``invalid_access_token`` or ``expired_access_token``."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag

    def body(self) -> dict[str, Any]:
        return {"error_summary": f"{self.tag}/..", "error": {".tag": self.tag}}


@contextmanager
def nested(tag: str) -> Iterator[None]:
    """Nest a ``LookupFailure`` raised inside under the route's ``tag`` (``path``,
    ``from_lookup``, ``to``); a path that ``normalize`` rejects is ``malformed_path``."""
    try:
        yield
    except LookupFailure as exc:
        raise exc.within(tag) from exc
    except ValueError as exc:
        raise LookupFailure(tag, "malformed_path") from exc


def tagged(tags: tuple[str, ...]) -> dict[str, Any]:
    """Nested tagged-union JSON for a tag path."""
    head, rest = tags[0], tags[1:]
    if not rest:
        return {".tag": head}
    return {".tag": head, head: tagged(rest)}
