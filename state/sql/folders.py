"""A file's first-level subfolder (``state.rules.folder_of``) in each backend's SQL.

The statements that write many rows at once (a first listing, a migration) compute a
content's folder where the rows are, rather than row by row in Python; the rest of the
code calls ``folder_of``. ``path`` and ``folder`` are SQL expressions: the file's
``path_lower`` and the library's ``folder_lower``. ``of_library`` lists a library's.
"""

from __future__ import annotations

from state.sql.dialect import Sql


def in_sqlite(path: str, folder: str) -> str:
    rest = f"substr({path}, length({folder}) + 2)"
    return (
        f"CASE WHEN instr({rest}, '/') > 0 THEN substr({rest}, 1, instr({rest}, '/') - 1)"
        " ELSE '.' END"
    )


def in_postgres(path: str, folder: str) -> str:
    rest = f"substr({path}, length({folder}) + 2)"
    return f"CASE WHEN strpos({rest}, '/') > 0 THEN split_part({rest}, '/', 1) ELSE '.' END"


# A library's folders, one index probe each along ``images_by_folder`` (a loose index
# scan): O(folders), whatever the catalog's size.
_FOLDERS = (
    "WITH RECURSIVE f(folder) AS ("
    " SELECT min(folder) FROM images WHERE library_id = :library"
    " UNION ALL SELECT (SELECT min(i.folder) FROM images AS i"
    "   WHERE i.library_id = :library AND i.folder > f.folder)"
    " FROM f WHERE f.folder IS NOT NULL)"
    " SELECT folder FROM f WHERE folder IS NOT NULL"
)


def of_library(sql: Sql, library_id: int) -> list[str]:
    """The first-level subfolders the library holds pictures in, in order."""
    return [row[0] for row in sql.all(_FOLDERS, {"library": library_id})]
