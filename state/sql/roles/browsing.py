"""A channel's images and history a page at a time, and holds (``Browsing``).

Lists and an image's page read one snapshot; a hold, and a season's opening or closing,
take the channel's row lock, as every change to a pool does
(``state.sql.names.lock_channel``); holds that end by themselves end a batch at a time
(``state.sql.holds.end_due``).
"""

from __future__ import annotations

from state import matching
from state.errors import ImageNotFound
from state.matching import ImageMatch
from state.sql import browse, folders, history, holds, seasons
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles import Role
from state.store import HistoryPage, Hold, ImageDetail, ImagePage, ImageQuery


class BrowsingRole(Role):
    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        now = self._clock()
        return self._transactions.snapshot(
            lambda tx: browse.images(tx, *sql_names.channel(tx, channel), query, now)
        )

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        def find(tx: Tx) -> tuple[ImageMatch, ...]:
            _, library_id = sql_names.channel(tx, channel)
            (folder,) = tx.one("SELECT folder_lower FROM libraries WHERE id = ?", (library_id,))
            return matching.first_found(tx.all, library_id, folder, reference, "?")

        return self._transactions.lookup(find)

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        now = self._clock()
        return self._transactions.snapshot(
            lambda tx: history.history(tx, *sql_names.channel(tx, channel), after, limit, now)
        )

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        now = self._clock()

        def look(tx: Tx) -> ImageDetail:
            row, library_id = sql_names.channel(tx, channel)
            found = browse.item(tx, row, library_id, content_hash, now)
            if found is None:
                raise ImageNotFound(f"no image with content hash {content_hash} in {channel}")
            return browse.detail(tx, row, channel, library_id, found, now)

        return self._transactions.snapshot(look)

    def hold(self, channel: str, content_hash: str, until: float | None = None) -> Hold:
        now = self._clock()
        return self._transactions.write(
            lambda tx: holds.hold(tx, sql_names.lock_channel(tx, channel), content_hash, now, until)
        )

    def end_due_holds(self, limit: int) -> int:
        now = self._clock()
        if not self._transactions.lookup(lambda tx: holds.any_due(tx, now)):
            return 0  # the usual answer, without taking the writer
        return self._transactions.write(lambda tx: holds.end_due(tx, now, limit))

    def unhold(self, channel: str, content_hash: str) -> bool:
        return self._transactions.write(
            lambda tx: holds.unhold(tx, sql_names.lock_channel(tx, channel), content_hash)
        )

    def keep_seasons(self, channel: str, closed: frozenset[str]) -> tuple[list[str], list[str]]:
        return self._transactions.write(
            lambda tx: seasons.keep(tx, sql_names.lock_channel(tx, channel), closed)
        )

    def library_folders(self, library: str) -> list[str] | None:
        def read(tx: Tx) -> list[str] | None:
            row = tx.one("SELECT id, ready_at FROM libraries WHERE name = ?", (library,))
            return None if row is None or row[1] is None else folders.of_library(tx, row[0])

        return self._transactions.snapshot(read)
