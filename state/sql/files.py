"""An image's file as the selection and the listings read it: named, never by position."""

from __future__ import annotations

from typing import NamedTuple

from state.sql.dialect import Tx


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


COLUMNS = ", ".join(FileRow._fields)


def representative(tx: Tx, library_id: int, content_hash: str) -> FileRow:
    """The file that stands for the content in its library (``images.path_lower``)."""
    row = tx.one(
        f"SELECT {COLUMNS} FROM files WHERE library_id = :l AND path_lower ="
        " (SELECT path_lower FROM images WHERE library_id = :l AND content_hash = :h)",
        {"l": library_id, "h": content_hash},
    )
    assert row is not None
    return FileRow(*row)
