"""The replies, as frozen values. Each keeps the service's JSON in ``raw`` (not compared,
not shown), for a caller that prints or stores the reply as it came."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Json = Mapping[str, Any]


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Sidecar:
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """The picture in the channel's render profile: ``url`` needs no token while the lease
    it came with is active (a network's API can fetch it directly)."""

    url: str
    width: int
    height: int
    format: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Selection:
    """An image to publish; ``duplicates`` are other paths holding the same content."""

    content_hash: str
    id: str
    path: str
    name: str
    size: int
    rev: str
    server_modified: str
    sidecars: tuple[Sidecar, ...]
    duplicates: tuple[str, ...]
    lease: Lease | None
    temporary_link: str | None
    posted_at: str | None = None
    rendered: Rendered | None = None
    raw: Json = _raw()

    @property
    def lease_id(self) -> str | None:
        return self.lease.id if self.lease else None

    @classmethod
    def from_json(cls, data: Json) -> Selection:
        lease, rendered = data.get("lease"), data.get("rendered")
        return cls(
            content_hash=data["content_hash"],
            id=data["id"],
            path=data["path"],
            name=data["name"],
            size=data["size"],
            rev=data["rev"],
            server_modified=data["server_modified"],
            sidecars=tuple(Sidecar(s["path"], s["name"]) for s in data.get("sidecars", ())),
            duplicates=tuple(data.get("duplicates", ())),
            lease=Lease(lease["id"], lease["expires_at"]) if lease else None,
            temporary_link=data.get("temporary_link"),
            posted_at=data.get("posted_at"),
            rendered=Rendered(**{key: rendered[key] for key in _RENDERED}) if rendered else None,
            raw=data,
        )


_RENDERED = ("url", "width", "height", "format", "bytes")


@dataclass(frozen=True, slots=True)
class Image:
    """An image as its channel sees it now: ``state`` available, leased, held, posted or
    out_of_season (its folder's season is closed in the channel), or pending or
    near_duplicate."""

    selection: Selection
    state: str
    duplicate_count: int
    held_at: str | None
    held_until: str | None = None
    """When its hold ends by itself (None: when released, or no hold)."""
    raw: Json = _raw()

    @property
    def content_hash(self) -> str:
        return self.selection.content_hash

    @classmethod
    def from_json(cls, data: Json) -> Image:
        return cls(
            Selection.from_json(data), data["state"], data["duplicate_count"],
            data.get("held_at"), data.get("held_until"), data,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImagePage:
    """A page of images; ``next`` is the ``after`` of the following page (None: the last)."""

    items: tuple[Image, ...]
    next: str | None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> ImagePage:
        return cls(tuple(Image.from_json(i) for i in data["items"]), data.get("next"), data)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A post; ``image`` is None when the library no longer holds the content. An undone
    post says when, and by which token's name (``undone_at``, ``undone_by``; else None)."""

    content_hash: str
    posted_at: str
    cycle: int
    image: Image | None
    undone_at: str | None = None
    undone_by: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: tuple[HistoryEntry, ...]
    next: str | None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> HistoryPage:
        items = tuple(
            HistoryEntry(
                e["content_hash"],
                e["posted_at"],
                e["cycle"],
                Image.from_json(e["image"]) if e.get("image") else None,
                e.get("undone_at"),
                e.get("undone_by"),
            )  # fmt: skip
            for e in data["items"]
        )
        return cls(items, data.get("next"), data)


@dataclass(frozen=True, slots=True)
class Match:
    """An image a reference (hash prefix, name or path) designates."""

    content_hash: str
    path: str


@dataclass(frozen=True, slots=True)
class PostedReceipt:
    content_hash: str
    posted_at: str
    archived_to: str | None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> PostedReceipt:
        return cls(data["content_hash"], data["posted_at"], data.get("archived_to"), data)


@dataclass(frozen=True, slots=True)
class UndonePost:
    """A post undone: the image may be selected again in ``channel`` (unless held, say)."""

    content_hash: str
    channel: str
    cycle: int
    posted_at: str
    undone_at: str
    undone_by: str
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> UndonePost:
        return cls(
            data["content_hash"], data["channel"], data["cycle"], data["posted_at"],
            data["undone_at"], data["undone_by"], data,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A lease's ``state``: active, expired, released or posted."""

    id: str
    channel: str
    content_hash: str
    expires_at: str
    state: str
    temporary_link: str | None = None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> LeaseInfo:
        return cls(
            data["id"], data["channel"], data["content_hash"], data["expires_at"],
            data["state"], data.get("temporary_link"), data,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold now; ``until`` when it ends by itself (None: when released, or none)."""

    content_hash: str
    held: bool
    held_at: str | None
    until: str | None = None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> Hold:
        return cls(data["content_hash"], data["held"], data.get("held_at"), data.get("until"), data)


@dataclass(frozen=True, slots=True)
class PostedExport:
    """A channel's posted state, in the legacy ``posted.json`` form."""

    hashes: tuple[str, ...]
    dropbox_content_hashes: tuple[str, ...]
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> PostedExport:
        return cls(tuple(data["hashes"]), tuple(data["dropbox_content_hashes"]), data)


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int
    matched: int
    unresolved: int
    downloads: int
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> ImportReport:
        return cls(data["imported"], data["matched"], data["unresolved"], data["downloads"], data)


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """Counts of a channel and its library. For the operator's token at the root,
    ``libraries`` and ``channels`` too (the counts are then the default channel's, and
    zero without one)."""

    images: int
    unique_images: int
    available: int
    leased: int
    posted: int
    last_sync_at: str | None
    syncing: bool
    cursor: bool
    libraries: Mapping[str, Json] | None = None
    channels: Mapping[str, Json] | None = None
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> ServiceStatus:
        return cls(
            images=data.get("images", 0),
            unique_images=data.get("unique_images", 0),
            available=data.get("available", 0),
            leased=data.get("leased", 0),
            posted=data.get("posted", 0),
            last_sync_at=data.get("last_sync_at"),
            syncing=data.get("syncing", False),
            cursor=data.get("cursor", False),
            libraries=data.get("libraries"),
            channels=data.get("channels"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event of a channel's webhook and how its delivery went: ``id`` is its
    ``webhook-id`` (``msg_N``); ``status`` pending, delivered or failed (operator)."""

    id: str
    type: str
    status: str
    attempts: int
    created: str
    last_error: str | None
    data: Json
    raw: Json = _raw()

    @classmethod
    def from_json(cls, data: Json) -> Delivery:
        return cls(
            data["id"], data["type"], data["status"], data["attempts"], data["created"],
            data.get("last_error"), data.get("data") or {}, data,
        )  # fmt: skip


def deliveries_from(data: Json) -> tuple[Delivery, ...]:
    return tuple(Delivery.from_json(item) for item in data["items"])
