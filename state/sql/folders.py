"""A file's first-level subfolder (``state.rules.folder_of``) in each backend's SQL.

The statements that write many rows at once (a first listing, a migration) compute a
content's folder where the rows are, rather than row by row in Python; the rest of the
code calls ``folder_of``. ``path`` and ``folder`` are SQL expressions: the file's
``path_lower`` and the library's ``folder_lower``.
"""

from __future__ import annotations


def in_sqlite(path: str, folder: str) -> str:
    rest = f"substr({path}, length({folder}) + 2)"
    return (
        f"CASE WHEN instr({rest}, '/') > 0 THEN substr({rest}, 1, instr({rest}, '/') - 1)"
        " ELSE '.' END"
    )


def in_postgres(path: str, folder: str) -> str:
    rest = f"substr({path}, length({folder}) + 2)"
    return f"CASE WHEN strpos({rest}, '/') > 0 THEN split_part({rest}, '/', 1) ELSE '.' END"
