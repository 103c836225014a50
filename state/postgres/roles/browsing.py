"""A channel's images and history a page at a time, and holds (``Browsing``); a hold
takes the channel's row lock, as the pool changes.
"""

from __future__ import annotations

from state import matching
from state.errors import ImageNotFound
from state.matching import ImageMatch
from state.postgres import queue
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.postgres.roles import Role
from state.rules import iso
from state.sql import browse, holds
from state.sql import names as sql_names
from state.store import HistoryPage, ImageDetail, ImagePage, ImageQuery


class BrowsingRole(Role):
    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        now = self._clock()
        return self._run(
            lambda db: browse.images(tx(db), *sql_names.channel(tx(db), channel), query, now)
        )

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        def find(db: Db) -> tuple[ImageMatch, ...]:
            _, library_id = sql_names.channel(tx(db), channel)
            row = db.execute(
                "SELECT folder_lower FROM libraries WHERE id = %s", (library_id,)
            ).fetchone()
            assert row is not None  # the channel's library exists
            return matching.first_found(
                lambda sql, args: db.execute(sql, args).fetchall(),
                library_id, row[0], reference, "%s",
            )  # fmt: skip

        return self._read(find)

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        now = self._clock()
        return self._run(
            lambda db: browse.history(
                tx(db), *sql_names.channel(tx(db), channel), after, limit, now
            )
        )

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        now = self._clock()

        def look(db: Db) -> ImageDetail:
            row, library_id = sql_names.channel(tx(db), channel)
            found = browse.item(tx(db), row, library_id, content_hash, now)
            if found is None:
                raise ImageNotFound(f"no image with content hash {content_hash} in {channel}")
            return browse.detail(tx(db), row, channel, library_id, found, now)

        return self._run(look)

    def hold(self, channel: str, content_hash: str) -> str:
        stamp = iso(self._clock())
        return self._run(
            lambda db: holds.hold(
                tx(db), queue.lock_channel(db, channel).channel, content_hash, stamp
            )
        )

    def unhold(self, channel: str, content_hash: str) -> bool:
        return self._run(
            lambda db: holds.unhold(tx(db), queue.lock_channel(db, channel).channel, content_hash)
        )
