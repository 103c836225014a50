"""Lookups a legacy import needs (``LegacyLookup``): content hashes and whole-file digests."""

from __future__ import annotations

from collections.abc import Iterable

from state.hashing import BLOCK_SIZE
from state.sql import names as sql_names
from state.sqlite.lookup import where_in
from state.sqlite.ops import tx
from state.sqlite.roles import Role
from state.store import LargeImage


class LegacyRole(Role):
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]:
        with self._read() as db:
            library_id = sql_names.library(tx(db), library)
            query = (
                f"SELECT content_hash FROM images WHERE library_id = {library_id}"
                " AND content_hash IN ({marks})"
            )
            return {row[0] for row in where_in(db, query, content_hashes)}

    def large_images_without_sha256(self, library: str) -> list[LargeImage]:
        with self._read() as db:
            rows = db.execute(
                "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
                " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
                " WHERE i.library_id = ? AND i.size > ? AND i.content_hash NOT IN"
                " (SELECT content_hash FROM sha256_by_content_hash) ORDER BY i.size",
                (sql_names.library(tx(db), library), BLOCK_SIZE),
            ).fetchall()
        return [LargeImage(*row) for row in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        with self._transaction() as db:
            sql_names.remember_sha256(tx(db), content_hash, sha256)

    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of the library's images whose whole-file digest is known."""
        with self._read() as db:
            library_id = sql_names.library(tx(db), library)
            query = (
                "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
                " JOIN images AS i ON i.content_hash = k.content_hash"
                f" WHERE i.library_id = {library_id} AND k.sha256 IN ({{marks}})"
            )
            return {row[0]: row[1] for row in where_in(db, query, digests)}
