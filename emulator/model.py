"""Metadata records of the emulated account, and their Dropbox JSON form.

``FileMeta``, ``FolderMeta`` and ``DeletedMeta`` mirror the SDK's ``FileMetadata``,
``FolderMetadata`` and ``DeletedMetadata``. Paths are keyed by ``path_lower``; the root is
``""``. Timestamps are UTC, second precision, written ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.content import ContentSource
from state.casefold import fold

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class FileMeta:
    """One file revision. ``content_hash`` is computed from ``source`` on first use."""

    id: str
    name: str
    path_lower: str
    path_display: str
    rev: str
    size: int
    server_modified: datetime
    client_modified: datetime
    source: ContentSource = field(repr=False, compare=False)
    downloadable: bool = True

    @property
    def content_hash(self) -> str:
        return self.source.content_hash()

    def to_json(self) -> JsonDict:
        shown = {
            ".tag": "file",
            "name": self.name,
            "path_lower": self.path_lower,
            "path_display": self.path_display,
            "id": self.id,
            "client_modified": format_time(self.client_modified),
            "server_modified": format_time(self.server_modified),
            "rev": self.rev,
            "size": self.size,
            "is_downloadable": self.downloadable,
            "content_hash": self.content_hash,
        }
        if not self.downloadable:
            # The spec requires export_info when is_downloadable is false; the emulator
            # offers no export formats (files/export is not emulated), so it is empty.
            shown["export_info"] = {}
        return shown


@dataclass(frozen=True)
class FolderMeta:
    id: str
    name: str
    path_lower: str
    path_display: str

    def to_json(self) -> JsonDict:
        return {
            ".tag": "folder",
            "name": self.name,
            "path_lower": self.path_lower,
            "path_display": self.path_display,
            "id": self.id,
        }


@dataclass(frozen=True)
class DeletedMeta:
    name: str
    path_lower: str
    path_display: str

    def to_json(self) -> JsonDict:
        return {
            ".tag": "deleted",
            "name": self.name,
            "path_lower": self.path_lower,
            "path_display": self.path_display,
        }


Node = FileMeta | FolderMeta
Entry = FileMeta | FolderMeta | DeletedMeta


def deleted(node: Entry) -> DeletedMeta:
    return DeletedMeta(node.name, node.path_lower, node.path_display)


@functools.lru_cache(maxsize=4096)
def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_utc_second(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def make_id(number: int, salt: int = 0) -> str:
    """A Dropbox-looking file id (``id:`` and 22 url-safe characters), unique per number."""
    raw = (salt << 64 | number).to_bytes(16, "big")
    return "id:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_rev(number: int) -> str:
    """A rev: lowercase hex, at least 9 characters, increasing."""
    return f"{0x15A000000000 + number:x}"


# --- paths -------------------------------------------------------------------------


def normalize(path: str) -> str:
    """Display form of a caller's path: ``/a/b``, or ``""`` for the root.

    Raises ValueError for a path that does not start with ``/`` or has empty parts.
    """
    if path in ("", "/"):
        return ""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    trimmed = path.rstrip("/")
    if any(part in ("", ".", "..") for part in trimmed.split("/")[1:]):
        raise ValueError(f"malformed path: {path!r}")
    return trimmed


def lower(path: str) -> str:
    """``path_lower`` as Dropbox makes it (:mod:`state.casefold`), not ``str.lower()``."""
    return fold(path)


def parent_of(path: str) -> str:
    """Parent of a normalized path (``""`` for a top-level entry)."""
    return path.rsplit("/", 1)[0]


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def split_extension(name: str) -> tuple[str, str]:
    """``("photo", ".jpg")`` for ``photo.jpg``: the last dot not leading the name starts it."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, dot + extension


def is_under(path_lower: str, folder_lower: str) -> bool:
    """True when ``path_lower`` lies strictly inside ``folder_lower`` ("" = root)."""
    return path_lower.startswith(folder_lower + "/")


def ancestors(path: str) -> list[str]:
    """Proper ancestors of a normalized path, outermost first, root excluded."""
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
