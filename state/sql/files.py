"""Reading an image's files: the representative (the one copy the selection and the listings
show), a file asked for by name, and the image as a publisher sees it."""

from __future__ import annotations

from collections.abc import Iterable

from state.casefold import fold
from state.errors import FileNotFound
from state.sql.dialect import Sql, Tx
from state.sql.rows import FileRow
from state.store import FileRef, Lease, NearDuplicate, Selection

__all__ = ["COLUMNS", "FileRow", "file_by_name", "representative", "selection"]


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


def file_by_name(sql: Sql, library_id: int, name: str) -> FileRow:
    """The image file called ``name`` (a file name, or a path relative to the folder)."""
    wanted = fold(name.strip().strip("/"))
    if "\x00" in wanted:
        raise FileNotFound(name)  # PostgreSQL text cannot hold NUL: no file has it
    # Without statistics SQLite would rather walk a library's primary key in path order
    # than use a narrower index and sort; with one library that is a scan. The hot
    # queries name their index (tests/integration/test_sqlite_store.py checks every plan).
    if "/" in wanted:
        index, where = "", "path_lower = (SELECT folder_lower FROM libraries WHERE id = :l)"
        where += " || '/' || :w"
    else:
        index, where = " INDEXED BY files_by_name", "name_lower = :w"
    row = sql.one(
        f"SELECT {COLUMNS} FROM files{index} WHERE library_id = :l AND kind = 'image'"
        f" AND {where} ORDER BY path_lower LIMIT 1",
        {"l": library_id, "w": wanted},
    )
    if row is None or row[8] is None:
        raise FileNotFound(name)
    return FileRow(*row)


def selection(
    file: FileRow,
    sidecars: Iterable[FileRef],
    duplicates: Iterable[str],
    lease: Lease | None,
    posted_at: str | None,
    near_duplicates: Iterable[NearDuplicate],
) -> Selection:
    """The image as a publisher sees it, from its file and what each backend read of it."""
    return Selection(
        content_hash=file.content_hash,
        id=file.id,
        path=file.path_display,
        name=file.name,
        size=file.size,
        rev=file.rev,
        server_modified=file.server_modified,
        sidecars=tuple(sidecars),
        duplicates=tuple(duplicates),
        lease=lease,
        posted_at=posted_at,
        near_duplicates=tuple(near_duplicates),
    )
