"""Lookups a legacy import needs (``LegacyLookup``): content hashes and whole-file digests."""

from __future__ import annotations

from collections.abc import Iterable

from state.hashing import BLOCK_SIZE
from state.postgres.ops import tx
from state.postgres.roles import Role
from state.sql import names as sql_names
from state.store import LargeImage


class LegacyRole(Role):
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]:
        wanted = sorted(set(content_hashes))
        rows = self._read(lambda db: db.execute(
            "SELECT content_hash FROM images WHERE library_id = %s AND content_hash = ANY(%s)",
            (sql_names.library(tx(db), library), wanted)).fetchall())  # fmt: skip
        return {row[0] for row in rows}

    def large_images_without_sha256(self, library: str) -> list[LargeImage]:
        rows = self._read(lambda db: db.execute(
            "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
            " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
            " WHERE i.library_id = %s AND i.size > %s AND NOT EXISTS (SELECT 1"
            " FROM sha256_by_content_hash AS k WHERE k.content_hash = i.content_hash)"
            " ORDER BY i.size",
            (sql_names.library(tx(db), library), BLOCK_SIZE)).fetchall())  # fmt: skip
        return [LargeImage(*row) for row in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        self._run(lambda db: sql_names.remember_sha256(tx(db), content_hash, sha256))

    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of the library's images whose whole-file digest is known."""
        wanted = sorted(set(digests))
        rows = self._read(lambda db: db.execute(
            "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
            " JOIN images AS i ON i.content_hash = k.content_hash"
            " WHERE i.library_id = %s AND k.sha256 = ANY(%s)",
            (sql_names.library(tx(db), library), wanted)).fetchall())  # fmt: skip
        return {row[0]: row[1] for row in rows}
