"""Decoding ``list_folder`` replies: Dropbox's three entry kinds, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.dropbox.listing import decode_page
from app.errors import DropboxError
from state.changes import DeletedEntry, FileEntry, FolderEntry

FILE = {
    ".tag": "file", "name": "A.jpg", "path_lower": "/p/a.jpg", "path_display": "/P/A.jpg",
    "id": "id:abc", "rev": "015f0000000001", "size": 12,
    "server_modified": "2026-01-02T03:04:05Z", "client_modified": "2026-01-01T00:00:00Z",
    "content_hash": "a" * 64, "is_downloadable": True,
}  # fmt: skip


def page(*entries: Any, cursor: Any = "AAE", has_more: Any = False) -> str:
    return json.dumps({"entries": list(entries), "cursor": cursor, "has_more": has_more})


def test_every_entry_kind_in_order() -> None:
    folder = {".tag": "folder", "name": "s", "path_lower": "/p/s", "path_display": "/P/s",
              "id": "id:f"}  # fmt: skip
    deleted = {".tag": "deleted", "name": "x", "path_lower": "/p/x", "path_display": "/P/x"}
    decoded = decode_page(page(FILE, folder, deleted, cursor="next", has_more=True))
    assert decoded.cursor == "next" and decoded.has_more is True
    assert decoded.entries == (
        FileEntry("/p/a.jpg", "/P/A.jpg", "A.jpg", "id:abc", "015f0000000001", 12,
                  "2026-01-02T03:04:05Z", "2026-01-01T00:00:00Z", "a" * 64),
        FolderEntry("/p/s", "/P/s", "s"),
        DeletedEntry("/p/x", "/P/x", "x"),
    )  # fmt: skip


def test_a_file_without_content_hash_is_kept_without_one() -> None:
    entry = {key: value for key, value in FILE.items() if key != "content_hash"}
    decoded = decode_page(page(entry)).entries[0]
    assert isinstance(decoded, FileEntry) and decoded.content_hash is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        json.dumps([]),
        page(cursor=None),
        page(has_more="yes"),
        page({**FILE, ".tag": "symlink"}),
        page({**FILE, "size": "12"}),
        page({**FILE, "size": -1}),
        page({**FILE, "content_hash": 5}),
        page({key: value for key, value in FILE.items() if key != "rev"}),
        json.dumps({"entries": "none", "cursor": "c", "has_more": False}),
    ],
)
def test_anything_else_is_refused_whole(raw: str) -> None:
    with pytest.raises(DropboxError, match="not a ListFolderResult"):
        decode_page(raw)
