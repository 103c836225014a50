"""Which images a person's reference names: a content hash prefix, a file name, or a path.

A reference of 8 to 64 hexadecimal digits is a prefix of content hashes; one with a
``/`` is a path, relative to the library's folder or whole; anything else is a file
name (case-insensitive, folded as Dropbox folds: ``state.casefold``). Copies of one
content are one match.
The SQL is written once; each backend gives its placeholder, and reads along
``files_by_content_hash``, the primary key, or ``files_by_name``. At most
``MATCH_LIMIT`` matches are returned: enough to show that a reference is ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from state.casefold import fold

MIN_PREFIX = 8
MATCH_LIMIT = 10
_HEX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}")


@dataclass(frozen=True, slots=True)
class ImageMatch:
    content_hash: str
    path: str


_SELECT = (
    "SELECT content_hash, min(path_display) FROM files WHERE library_id = {p}"
    " AND kind = 'image' AND content_hash IS NOT NULL AND {condition}"
    " GROUP BY content_hash ORDER BY content_hash LIMIT {limit}"
)


def is_hash_prefix(reference: str) -> bool:
    return _HEX.fullmatch(reference.lower()) is not None


def queries(library_id: int, folder_lower: str, reference: str, p: str) -> list[tuple[str, Any]]:
    """The queries to try in turn (placeholder ``p``); the first that finds anything wins."""
    wanted = fold(reference.strip())  # as Dropbox folds names and paths
    found: list[tuple[str, Any]] = []
    if is_hash_prefix(wanted):
        # Hex digits sort below 'g': the prefix's range is [prefix, prefix + 'g').
        condition = f"content_hash >= {p} AND content_hash < {p}"
        found.append((_sql(condition, p), (library_id, wanted, wanted + "g")))
    if "/" in wanted:
        relative = f"{folder_lower}/{wanted.strip('/')}"
        condition = f"path_lower IN ({p}, {p})"
        found.append((_sql(condition, p), (library_id, relative, "/" + wanted.lstrip("/"))))
    elif wanted:
        found.append((_sql(f"name_lower = {p}", p), (library_id, wanted)))
    return found


def _sql(condition: str, p: str) -> str:
    return _SELECT.format(p=p, condition=condition, limit=MATCH_LIMIT)


def first_found(
    run: Callable[[str, Any], Sequence[Sequence[Any]]],
    library_id: int,
    folder_lower: str,
    reference: str,
    p: str,
) -> tuple[ImageMatch, ...]:
    """The matches of the first query that finds any; ``run`` executes one query."""
    if "\x00" in reference:
        return ()  # no name or path holds NUL (and PostgreSQL's text cannot)
    for sql, args in queries(library_id, folder_lower, reference, p):
        rows = run(sql, args)
        if rows:
            return tuple(ImageMatch(str(row[0]), str(row[1])) for row in rows)
    return ()
