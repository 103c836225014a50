"""Lookups a legacy import needs (``LegacyLookup``): content hashes and whole-file digests."""

from __future__ import annotations

from collections.abc import Iterable

from state.hashing import BLOCK_SIZE
from state.sql import names as sql_names
from state.sql.roles import Role
from state.store import LargeImage


class LegacyRole(Role):
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]:
        rows = self._transactions.lookup(lambda tx: tx.among(
            "SELECT content_hash FROM images WHERE library_id = :l AND content_hash IN :keys",
            {"l": sql_names.library(tx, library)}, content_hashes))  # fmt: skip
        return {row[0] for row in rows}

    def large_images_without_sha256(self, library: str) -> list[LargeImage]:
        rows = self._transactions.lookup(lambda tx: tx.all(
            "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
            " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
            " WHERE i.library_id = ? AND i.size > ? AND NOT EXISTS (SELECT 1"
            " FROM sha256_by_content_hash AS k WHERE k.content_hash = i.content_hash)"
            " ORDER BY i.size",
            (sql_names.library(tx, library), BLOCK_SIZE)))  # fmt: skip
        return [LargeImage(*row) for row in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        self._transactions.write(lambda tx: sql_names.remember_sha256(tx, content_hash, sha256))

    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of the library's images whose whole-file digest is known."""
        rows = self._transactions.lookup(lambda tx: tx.among(
            "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
            " JOIN images AS i ON i.content_hash = k.content_hash"
            " WHERE i.library_id = :l AND k.sha256 IN :keys",
            {"l": sql_names.library(tx, library)}, digests))  # fmt: skip
        return {row[0]: row[1] for row in rows}
