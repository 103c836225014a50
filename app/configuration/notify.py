"""A channel's webhook: where its events go (``[channels.NAME.notify]``).

::

    [channels.brand-a-instagram.notify]
    url = "https://hooks.example.com/unposted"  # https; http only to a loopback address
    secret_env = "INSTAGRAM_WEBHOOK_SECRET"     # a variable holding "whsec_" + base64
    events = ["image.posted", "lease.expired"]  # default: every event
    low_water = 10                              # an integer, 0 or more (default 0)

``parse_notify`` checks a table and names the key of any problem (``NotifyError``); the
configuration file puts the file and table in front of it. The secret's value never
appears in an error: only the name of the variable that holds it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import urlsplit

from pydantic import SecretStr

from state.store import NotifyEvent

EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
_KEYS = ("url", "secret_env", "events", "low_water")
_PREFIX = "whsec_"


class NotifyError(ValueError):
    """A key of a notify table that cannot work: ``key`` and what is wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    url: str
    secret: SecretStr  # "whsec_" + base64, as ``standardwebhooks.Webhook`` takes it
    events: tuple[NotifyEvent, ...]
    low_water: int = 0


def parse_notify(table: dict[str, Any], environ: Mapping[str, str]) -> NotifyConfig:
    for key in table:
        if key not in _KEYS:
            raise NotifyError(key, "unknown key; expected " + ", ".join(sorted(_KEYS)))
    url = _text(table, "url")
    check_url(url)
    secret = _secret(_text(table, "secret_env"), environ)
    return NotifyConfig(url, secret, _events(table), _low_water(table))


def check_url(url: str) -> None:
    """``https`` anywhere; ``http`` only to this machine (development)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise NotifyError("url", f"not a URL ({exc})") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise NotifyError("url", "must be an https:// URL with a host")
    if parts.username or parts.password:
        raise NotifyError("url", "must not carry a user or password")
    if parts.scheme == "http" and not _loopback(host):
        raise NotifyError("url", "must be https (http only to a loopback address)")


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise NotifyError(key, "is required (a string)")
    return value


def _secret(variable: str, environ: Mapping[str, str]) -> SecretStr:
    value = environ.get(variable, "")
    if not value:
        raise NotifyError("secret_env", f"the variable {variable} is not set")
    problem = f"the variable {variable} must hold {_PREFIX} followed by base64"
    if not value.startswith(_PREFIX):
        raise NotifyError("secret_env", problem)
    try:
        encoded = value[len(_PREFIX) :]
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise NotifyError("secret_env", problem) from None
    if len(key) < 16:
        raise NotifyError("secret_env", f"the variable {variable} holds under 16 bytes of key")
    return SecretStr(value)


def _events(table: dict[str, Any]) -> tuple[NotifyEvent, ...]:
    if "events" not in table:
        return EVENTS
    events = table["events"]
    if not isinstance(events, list) or not events:
        raise NotifyError("events", "must be a list of events, one or more")
    for event in events:
        if event not in EVENTS:
            raise NotifyError("events", f"{event!r} is not one of " + ", ".join(EVENTS))
    return tuple(event for event in EVENTS if event in events)


def _low_water(table: dict[str, Any]) -> int:
    value = table.get("low_water", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise NotifyError("low_water", "must be an integer, 0 or more")
    return value
