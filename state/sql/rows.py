"""An image's file as the selection and the listings read it: named, never by position."""

from __future__ import annotations

from typing import NamedTuple


class FileRow(NamedTuple):
    library_id: int
    path_lower: str
    path_display: str
    name: str
    id: str
    size: int
    rev: str
    server_modified: str
    content_hash: str
    stem: str
