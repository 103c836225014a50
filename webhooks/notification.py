"""What a Dropbox webhook notification says: which accounts changed, nothing more.

Dropbox posts ``{"list_folder": {"accounts": ["dbid:..."]}, "delta": {"users": [n]}}``;
several accounts may come in one body. Parsing is strict about the shapes it reads (a
list of account-id strings, a list of integer user ids) so that a signed body which
is not a notification is refused, and lenient about keys it does not know, which
Dropbox may add. Pure: no HTTP, no store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class NotANotification(ValueError):
    """The body is not a webhook notification; the message says why."""


@dataclass(frozen=True, slots=True)
class Notification:
    accounts: frozenset[str]
    users: frozenset[int]
    names_accounts: bool

    def concerns(self, account_id: str | None) -> bool:
        """Whether this may be about ``account_id``; ``None`` (not yet known) is anyone.

        A body with only the legacy ``delta.users`` names no account, so it may be
        ours: an extra catch-up costs one ``continue``, a missed one costs a change.
        """
        if account_id is None or not self.names_accounts:
            return True
        return account_id in self.accounts


def parse_notification(body: bytes) -> Notification:
    """The notification in ``body``, or ``NotANotification``."""
    payload = _json_object(body)
    accounts = _member_list(payload, "list_folder", "accounts", str)
    users = _member_list(payload, "delta", "users", int)
    if accounts is None and users is None:
        raise NotANotification("neither list_folder.accounts nor delta.users is present")
    return Notification(frozenset(accounts or ()), frozenset(users or ()), accounts is not None)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotANotification("the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise NotANotification("the body is not a JSON object")
    return payload


def _member_list(payload: dict[str, Any], section: str, key: str, kind: type) -> list[Any] | None:
    """``payload[section][key]`` checked to be a list of ``kind``; None when absent."""
    if section not in payload:
        return None
    part = payload[section]
    if not isinstance(part, dict) or not isinstance(part.get(key), list):
        raise NotANotification(f"{section}.{key} is not a list")
    items: list[Any] = part[key]
    # bool is an int in Python, never a user id in JSON.
    if any(not isinstance(item, kind) or isinstance(item, bool) for item in items):
        raise NotANotification(f"{section}.{key} holds something other than {kind.__name__}")
    return items
