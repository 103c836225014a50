"""Selections and their leases (``Selections``): what both stores do alike, written once.

Releasing, renewing and looking up a lease, recording or undoing a post, an image's
archive paths and a fingerprint taken elsewhere run here over the store's
``Transactions``; each change first locks the channel as the store's ``Leasing`` says
(``state.sql.choosing``). How a selection is answered (SQLite: through the group commit,
a preview from memory; PostgreSQL: at random in one statement beside other selections)
and how expired leases are reclaimed stay each store's: ``select`` and
``reclaim_expired`` of ``state.sqlite.roles.selections`` and
``state.postgres.roles.selections``, each a subclass of this role.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from state.sql import choosing, grouping, leasable, leases, posted, undo
from state.sql import names as sql_names
from state.sql.choosing import Leasing
from state.sql.dialect import Tx
from state.sql.roles import Role
from state.sql.transactions import Transactions
from state.store import LeaseInfo, PostedRecord, Selection, SelectRequest, UndonePost


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class SelectionRole(Role):
    def __init__(self, transactions: Transactions, leasing: Leasing[Any]) -> None:
        super().__init__(transactions)
        self._leasing = leasing

    def _select_in(self, tx: Tx, name: str, request: SelectRequest) -> Selection:
        return choosing.select_in(tx, self._leasing, name, request, self._clock)

    def _rolled_back(self, channel: str, request: SelectRequest) -> Selection:
        """A preview done on the writer and undone: it may reclaim leases or turn a cycle
        first (a turn that left nothing answers its error, and is undone too)."""
        chosen: list[Selection] = []

        def select(tx: Tx) -> Selection:
            try:
                chosen.append(self._select_in(tx, channel, request))
            except leasable.TurnedWithNothing as turned:
                raise turned.error from None
            raise _Rollback

        try:
            return self._transactions.write(select)
        except _Rollback:
            return replace(chosen[-1], lease=None)  # the preview's lease was rolled back

    def release(self, channel: str, lease_id: str) -> None:
        def release(tx: Tx) -> None:
            leases.release(tx, self._leasing.lock(tx.db, channel), lease_id, self._clock())

        self._transactions.write(release)

    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo:
        now = self._clock()

        def renew(tx: Tx) -> LeaseInfo:
            channel_id = self._leasing.lock(tx.db, channel).id
            return leases.renew(tx, channel_id, channel, lease_id, seconds, now)

        return self._transactions.write(renew)

    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo:
        lease = self._transactions.lookup(
            lambda tx: leases.find_in(tx, sql_names.channel(tx, channel)[0].id, lease_id)
        )
        return lease.info(channel, self._clock())

    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        now = self._clock()

        def mark(tx: Tx) -> PostedRecord:
            row = self._leasing.lock(tx.db, channel)
            return posted.mark(tx, row, content_hash, lease_id, sha256, now)

        return self._transactions.write(mark)

    def unpost(self, channel: str, content_hash: str, by: str) -> UndonePost:
        """Under the channel's lock, as a post is recorded."""
        now = self._clock()

        def undo_post(tx: Tx) -> UndonePost:
            return undo.undo(tx, self._leasing.lock(tx.db, channel), content_hash, by, now)

        return self._transactions.write(undo_post)

    def archive_paths(self, library: str, content_hash: str) -> list[str]:
        """Every path holding this content, then the sidecars beside each."""
        paths = self._transactions.lookup(lambda tx: self._leasing.paths(
            tx.db, sql_names.library(tx, library), content_hash))  # fmt: skip
        return list(dict.fromkeys(paths))

    def fingerprint_elsewhere(self, library: str, content_hash: str, path: str) -> bool:
        return self._transactions.write(
            lambda tx: grouping.fingerprint_elsewhere(
                tx, sql_names.library(tx, library), content_hash, path
            )
        )
