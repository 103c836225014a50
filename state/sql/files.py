"""Reading an image's representative file: the one copy the selection and the listings show."""

from __future__ import annotations

from state.sql.dialect import Tx
from state.sql.rows import FileRow

__all__ = ["COLUMNS", "FileRow", "representative"]


COLUMNS = ", ".join(FileRow._fields)


def representative(tx: Tx, library_id: int, content_hash: str) -> FileRow:
    """The file that stands for the content in its library (``images.path_lower``)."""
    row = find_representative(tx, library_id, content_hash)
    assert row is not None
    return row


def find_representative(tx: Tx, library_id: int, content_hash: str) -> FileRow | None:
    row = tx.one(
        f"SELECT {COLUMNS} FROM files WHERE library_id = :l AND path_lower ="
        " (SELECT path_lower FROM images WHERE library_id = :l AND content_hash = :h)",
        {"l": library_id, "h": content_hash},
    )
    return None if row is None else FileRow(*row)
