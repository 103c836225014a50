"""The store's interface: what the catch-up, selection and legacy import need of storage.

``SqliteStore`` (``state.sqlite``) is the embedded implementation. Nothing outside
``state/`` knows it is SQLite, so a PostgreSQL backend for several replicas can be
added behind this same ``Store`` protocol without touching routes or sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from state.changes import Operation

SelectPolicy = Literal["random", "oldest", "newest", "name"]


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the catch-up stands: the cursor and whether a full listing is under way."""

    cursor: str | None
    listing: bool
    ready_at: str | None
    last_sync_at: str | None


@dataclass(frozen=True, slots=True)
class PageStats:
    """What one applied page changed."""

    operations: int
    files_stored: int
    files_removed: int
    listing_finished: bool


@dataclass(frozen=True, slots=True)
class FileRef:
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class SelectRequest:
    policy: SelectPolicy
    lease_seconds: int
    dry_run: bool = False
    name: str | None = None
    folder_lower: str = ""


@dataclass(frozen=True, slots=True)
class Selection:
    """An image handed to a publisher: one content, at one or more paths."""

    content_hash: str
    id: str
    path: str
    name: str
    size: int
    rev: str
    server_modified: str
    sidecars: tuple[FileRef, ...]
    duplicates: tuple[str, ...]
    lease: Lease | None
    posted_at: str | None


@dataclass(frozen=True, slots=True)
class PostedRecord:
    content_hash: str
    posted_at: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class PostedExport:
    """The publisher's ``posted.json``, extended with content hashes."""

    hashes: tuple[str, ...]
    dropbox_content_hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LegacyMatch:
    """One legacy entry to record as posted: a content hash, with its SHA-256 if known."""

    content_hash: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class LargeImage:
    """An image over 4 MiB whose whole-file SHA-256 is not yet known."""

    content_hash: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Status:
    images: int
    unique_images: int
    available: int
    leased: int
    posted: int
    without_content_hash: int
    last_sync_at: str | None
    cursor: bool
    listing: bool


class Store(Protocol):
    """Catalog, cursor, leases and posted state, each change in one transaction."""

    # The catch-up
    def sync_state(self) -> SyncState: ...
    def begin_listing(self) -> None: ...
    def apply_page(
        self, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats: ...
    def forget_folder(self) -> int: ...
    def record_sync(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    # Selection and posting
    def select(self, request: SelectRequest) -> Selection:
        """A leased image (none on a preview); NotReady before the first full listing."""
        ...

    def release(self, lease_id: str) -> None: ...
    def mark_posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord: ...
    def archive_paths(self, content_hash: str) -> list[str]: ...

    # Legacy posted state
    def catalog_hashes(self, content_hashes: Iterable[str]) -> set[str]: ...
    def large_images_without_sha256(self) -> list[LargeImage]: ...
    def remember_sha256(self, content_hash: str, sha256: str) -> None: ...
    def catalog_hashes_by_sha256(self, digests: Iterable[str]) -> dict[str, str]: ...
    def import_posted(self, matches: Sequence[LegacyMatch], unresolved: Sequence[str]) -> None: ...
    def unresolved_digests(self) -> set[str]: ...
    def export_posted(self) -> PostedExport: ...
    def reset_posted(self) -> PostedExport: ...

    def catalog_files(self) -> dict[str, str | None]: ...
    def status(self) -> Status: ...
    def idle(self) -> bool:
        """True while no write is under way, so a short call now will not wait."""
        ...

    def close(self) -> None: ...
