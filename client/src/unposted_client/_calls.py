"""What each operation asks of the service, apart from how it is sent.

``UnpostedClient`` and ``AsyncUnpostedClient`` differ only in sending: both turn a
method call into a ``Call`` here (method, path, body, how to read the reply), and both
retry through one ``RetryPolicy``. A channel's routes sit under ``/channels/{name}``
when the client was made for a channel, at the root (the default channel) otherwise.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from unposted_client._models import (
    Delivery,
    HistoryPage,
    Hold,
    ImagePage,
    ImportReport,
    LeaseInfo,
    Match,
    PostedExport,
    PostedReceipt,
    Selection,
    ServiceStatus,
    UndonePost,
    deliveries_from,
)

T = TypeVar("T")
RETRIED = frozenset({"busy", "not_ready"})
"""503 codes that recover by themselves: the service says when to ask again."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep asking while the service answers ``503 busy`` or ``not_ready``.

    Each wait is what ``Retry-After`` says (``default_wait`` without it), at most
    ``max_wait``; after ``attempts`` requests, or once the waits would pass
    ``total_seconds``, the 503 is raised. ``RetryPolicy(attempts=1)`` never retries.
    """

    attempts: int = 5
    total_seconds: float = 30.0
    default_wait: float = 1.0
    max_wait: float = 10.0

    def wait(self, response: httpx.Response, attempt: int, waited: float) -> float | None:
        """Seconds to wait before asking again, or None to give up."""
        if response.status_code != 503 or attempt >= self.attempts:
            return None
        try:
            code = response.json().get("error")
        except (ValueError, AttributeError):
            return None
        if code not in RETRIED:
            return None
        seconds = min(_retry_after(response.headers.get("Retry-After"), self.default_wait),
                      self.max_wait)  # fmt: skip
        return seconds if waited + seconds <= self.total_seconds else None


def _retry_after(value: str | None, default: float) -> float:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return default
    return max(0.0, when - time.time())


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None
    binary: bool = False  # the reply is a file's bytes, not JSON


def _none(data: Any) -> None:
    return None


def _matches(data: Any) -> tuple[Match, ...]:
    return tuple(Match(m["content_hash"], m["path"]) for m in data["matches"])


class Calls:
    """Each operation as a ``Call``, for the channel given (or the default one)."""

    def __init__(self, channel: str | None) -> None:
        self.prefix = "" if channel is None else f"/channels/{quote(channel, safe='')}"

    def select(
        self, dry_run: bool, name: str | None, link: bool, lease_seconds: int | None, render: bool
    ) -> Call[Selection]:
        body = {"dry_run": dry_run, "name": name, "link": link, "lease_seconds": lease_seconds}
        if render:  # only when asked: a service without rendering refuses the field
            body["render"] = True
        return Call("POST", f"{self.prefix}/select", Selection.from_json, body)

    def rendered(self, content_hash: str) -> Call[bytes]:
        path = f"{self.prefix}/images/{quote(content_hash, safe='')}/rendered"
        return Call("GET", path, bytes, binary=True)

    def posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None, archive: bool
    ) -> Call[PostedReceipt]:
        body: dict[str, Any] = {"content_hash": content_hash, "archive": archive}
        if lease_id is not None:
            body["lease_id"] = lease_id
        if sha256 is not None:
            body["sha256"] = sha256
        return Call("POST", f"{self.prefix}/posted", PostedReceipt.from_json, body)

    def unpost(self, content_hash: str) -> Call[UndonePost]:
        path = f"{self.prefix}/posted/{quote(content_hash, safe='')}"
        return Call("DELETE", path, UndonePost.from_json)

    def release(self, lease_id: str) -> Call[None]:
        return Call("POST", f"{self.prefix}/release", _none, {"lease_id": lease_id})

    def lease(self, lease_id: str) -> Call[LeaseInfo]:
        return Call("GET", f"{self.prefix}/leases/{quote(lease_id, safe='')}", LeaseInfo.from_json)

    def renew(self, lease_id: str, lease_seconds: int | None, link: bool) -> Call[LeaseInfo]:
        path = f"{self.prefix}/leases/{quote(lease_id, safe='')}/renew"
        body = {"lease_seconds": lease_seconds, "link": link}
        return Call("POST", path, LeaseInfo.from_json, body)

    def hold(
        self, content_hash: str, held: bool, until: datetime | str | None = None
    ) -> Call[Hold]:
        """``until``: when the hold ends by itself (an aware datetime, or ISO 8601 text with
        its zone); a hold without one is sent without a body, as before holds could end."""
        path = f"{self.prefix}/images/{quote(content_hash, safe='')}/hold"
        if until is None:
            return Call("POST" if held else "DELETE", path, Hold.from_json)
        when = until.isoformat() if isinstance(until, datetime) else until
        return Call("POST", path, Hold.from_json, {"until": when})

    def images(
        self, state: str, name: str | None, after: str | None, limit: int
    ) -> Call[ImagePage]:
        params = _present(state=state, q=name, after=after, limit=limit)
        return Call("GET", f"{self.prefix}/images", ImagePage.from_json, params=params)

    def find(self, reference: str) -> Call[tuple[Match, ...]]:
        params = {"ref": reference}
        return Call("GET", f"{self.prefix}/images/matching", _matches, params=params)

    def history(self, after: str | None, limit: int) -> Call[HistoryPage]:
        params = _present(after=after, limit=limit)
        return Call("GET", f"{self.prefix}/history", HistoryPage.from_json, params=params)

    def status(self) -> Call[ServiceStatus]:
        return Call("GET", f"{self.prefix}/status", ServiceStatus.from_json)

    def export_posted(self) -> Call[PostedExport]:
        return Call("GET", f"{self.prefix}/posted/export", PostedExport.from_json)

    def import_posted(self, document: bytes) -> Call[ImportReport]:
        path = f"{self.prefix}/posted/import"
        return Call("POST", path, ImportReport.from_json, content=document)

    def reset_posted(self) -> Call[PostedExport]:
        body = {"confirm": "RESET"}
        return Call("POST", f"{self.prefix}/admin/reset-posted", PostedExport.from_json, body)

    def resync(self, library: str | None) -> Call[None]:
        body = None if library is None else {"library": library}
        return Call("POST", "/admin/resync", _none, body)

    def deliveries(self, limit: int) -> Call[tuple[Delivery, ...]]:
        params = {"limit": limit}
        return Call("GET", f"{self.prefix}/admin/deliveries", deliveries_from, params=params)

    def replay_delivery(self, delivery_id: str) -> Call[Delivery]:
        path = f"{self.prefix}/admin/deliveries/{quote(delivery_id, safe='')}/replay"
        return Call("POST", path, Delivery.from_json)

    def send_test_event(self) -> Call[Delivery]:
        return Call("POST", f"{self.prefix}/admin/deliveries/test", Delivery.from_json)


def _present(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def request_args(call: Call[Any]) -> dict[str, Any]:
    """The keyword arguments of ``httpx.Client.request`` for ``call``."""
    args: dict[str, Any] = {"params": call.params}
    if call.content is not None:
        args["content"] = call.content
        args["headers"] = {"Content-Type": "application/json"}
    elif call.json is not None:
        args["json"] = call.json
    return args


def body_of(response: httpx.Response, call: Call[Any]) -> Any:
    if call.binary:
        return response.content
    return response.json() if response.content else None
