"""The pure core of the catch-up: Dropbox listing entries and what they do to the catalog.

Dropbox's rules for a ``list_folder`` page, applied in order (its reference):
a file is stored at its path, replacing anything there and whatever was under it;
a folder is created or kept, its children staying; a deletion removes the path and
everything under it. The catalog holds only files (images and their sidecars), so
each entry becomes a short list of operations on paths. Nothing here touches SQLite,
FastAPI or the Dropbox SDK: these are functions of plain data, tested with lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

FileKind = Literal["image", "sidecar", "skipped"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file as Dropbox lists it. ``content_hash`` may be absent."""

    path_lower: str
    path_display: str
    name: str
    id: str
    rev: str
    size: int
    server_modified: str
    client_modified: str
    content_hash: str | None
    downloadable: bool = True


@dataclass(frozen=True, slots=True)
class FolderEntry:
    path_lower: str
    path_display: str
    name: str


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    """A deletion; Dropbox does not say whether a file or a folder went."""

    path_lower: str
    path_display: str
    name: str


Entry = FileEntry | FolderEntry | DeletedEntry


@dataclass(frozen=True, slots=True)
class Page:
    """One reply of ``list_folder`` or ``list_folder/continue``."""

    entries: tuple[Entry, ...]
    cursor: str
    has_more: bool


@dataclass(frozen=True, slots=True)
class FileKinds:
    """Which extensions make a file an image or a sidecar (lowercase, with the dot)."""

    images: frozenset[str]
    sidecars: frozenset[str]

    @classmethod
    def of(cls, images: Iterable[str], sidecars: Iterable[str]) -> FileKinds:
        image_set = frozenset(ext.lower() for ext in images)
        return cls(image_set, frozenset(ext.lower() for ext in sidecars) - image_set)

    def kind_of(self, name: str) -> FileKind | None:
        extension = _extension(name)
        if extension in self.images:
            return "image"
        if extension in self.sidecars:
            return "sidecar"
        return None


@dataclass(frozen=True, slots=True)
class PutFile:
    """Store ``entry`` at its path; ``stem`` joins an image to its sidecars."""

    entry: FileEntry
    kind: FileKind
    stem: str


@dataclass(frozen=True, slots=True)
class RemovePath:
    """Remove the file at exactly ``path_lower``, if any."""

    path_lower: str


@dataclass(frozen=True, slots=True)
class RemoveTree:
    """Remove every file strictly under the folder ``path_lower``."""

    path_lower: str


Operation = PutFile | RemovePath | RemoveTree


def plan_page(entries: Sequence[Entry], kinds: FileKinds) -> list[Operation]:
    """The catalog operations that apply ``entries`` by Dropbox's listing rules."""
    operations: list[Operation] = []
    for entry in entries:
        operations.extend(_operations_for(entry, kinds))
    return operations


def _operations_for(entry: Entry, kinds: FileKinds) -> list[Operation]:
    if isinstance(entry, FileEntry):
        # A file replaces a folder that stood at its path, with all it held.
        kind = kinds.kind_of(entry.name)
        if kind is None:
            return [RemoveTree(entry.path_lower)]
        if kind == "image" and not offerable(entry):
            kind = "skipped"
        return [RemoveTree(entry.path_lower), PutFile(entry, kind, stem_of(entry.path_lower))]
    if isinstance(entry, FolderEntry):
        # A folder replaces a file that stood at its path; its own children stay.
        return [RemovePath(entry.path_lower)]
    return [RemovePath(entry.path_lower), RemoveTree(entry.path_lower)]


def offerable(entry: FileEntry) -> bool:
    """An image a publisher can post: it has bytes, and Dropbox will hand them out.

    Every empty file shares one content hash (``sha256(b"")``), so offering one would
    also collapse every empty file into one "image"; a file Dropbox marks as not
    downloadable cannot be linked or fetched. Both are kept as ``skipped`` and counted.
    """
    return entry.size > 0 and entry.downloadable


def stem_of(path_lower: str) -> str:
    """``/photos/a.jpg`` -> ``/photos/a``: an image and its sidecars share this."""
    folder, _, name = path_lower.rpartition("/")
    base, dot, _ = name.rpartition(".")
    return f"{folder}/{base if dot and base else name}"


def _extension(name: str) -> str:
    base, dot, extension = name.lower().rpartition(".")
    return f".{extension}" if dot and base else ""


def tree_bounds(path_lower: str) -> tuple[str, str]:
    """Half-open key range ``[low, high)`` of the paths strictly under a folder.

    ``'0'`` is the character after ``'/'``, so an index range scan finds exactly the
    folder's descendants and nothing that merely shares a prefix (``/a`` vs ``/ab``).
    """
    return path_lower + "/", path_lower + "0"
