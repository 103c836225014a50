"""A channel's images and history a page at a time, and holds (``Browsing``): reads on a
snapshot, beside any writer.
"""

from __future__ import annotations

from state import matching
from state.errors import ImageNotFound
from state.matching import ImageMatch
from state.rules import iso
from state.sql import browse, holds
from state.sql import names as sql_names
from state.sqlite.ops import tx
from state.sqlite.roles import Role
from state.store import HistoryPage, ImageDetail, ImagePage, ImageQuery


class BrowsingRole(Role):
    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        with self._read() as db:
            return browse.images(tx(db), *sql_names.channel(tx(db), channel), query, self._clock())

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        with self._read() as db:
            _, library_id = sql_names.channel(tx(db), channel)
            (folder,) = db.execute(
                "SELECT folder_lower FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            return matching.first_found(
                lambda sql, args: db.execute(sql, args).fetchall(),
                library_id, folder, reference, "?",
            )  # fmt: skip

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        with self._read() as db:
            return browse.history(
                tx(db), *sql_names.channel(tx(db), channel), after, limit, self._clock()
            )

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        now = self._clock()
        with self._read() as db:
            row, library_id = sql_names.channel(tx(db), channel)
            found = browse.item(tx(db), row, library_id, content_hash, now)
            if found is None:
                raise ImageNotFound(f"no image with content hash {content_hash} in {channel}")
            return browse.detail(tx(db), row, channel, library_id, found, now)

    def hold(self, channel: str, content_hash: str) -> str:
        with self._transaction() as db:
            return holds.hold(
                tx(db), sql_names.channel(tx(db), channel)[0], content_hash, iso(self._clock())
            )

    def unhold(self, channel: str, content_hash: str) -> bool:
        with self._transaction() as db:
            return holds.unhold(tx(db), sql_names.channel(tx(db), channel)[0], content_hash)
