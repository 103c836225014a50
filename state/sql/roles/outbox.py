"""A channel's webhook deliveries (``Outbox``): the outbox's rows, read and settled.

The deliverer (``app.services.webhooks``) takes a channel's delivery turn (one replica
at a time: ``turn``), reads the channel's oldest pending event (``head``), and settles
it after each attempt. Nothing later of the channel is read before the head is settled,
so a channel's events arrive in order. ``deliveries``, ``replay`` and ``send_test``
serve the console, the operator's routes and the command line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from state.errors import UnknownName
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles import Role
from state.sql.transactions import Transactions
from state.store import Delivery, DeliveryStatus

_COLUMNS = "id, channel, type, payload, created, attempts, next_attempt, status, last_error"
TEST_EVENT = "webhook.test"
_TEST_DATA = json.dumps({"message": "a test event: nothing changed in the channel"})


class OutboxRole(Role):
    def __init__(
        self,
        transactions: Transactions,
        turn: Callable[[int], AbstractContextManager[bool]],
    ) -> None:
        super().__init__(transactions)
        self._turn = turn

    @contextmanager
    def delivery_turn(self, channel: str) -> Iterator[bool]:
        """Deliver the channel's events for the block: True if this process may."""
        channel_id = self._transactions.lookup(lambda tx: sql_names.channel(tx, channel)[0].id)
        with self._turn(channel_id) as mine:
            yield mine

    def head(self, channel: str) -> Delivery | None:
        """The channel's oldest event not yet delivered nor failed."""
        row = self._transactions.lookup(lambda tx: tx.one(
            f"SELECT {_COLUMNS} FROM outbox INDEXED BY outbox_pending WHERE channel = ?"
            " AND status = 'pending' ORDER BY id LIMIT 1", (channel,)))  # fmt: skip
        return None if row is None else Delivery(*row)

    def settle(
        self,
        event_id: int,
        status: DeliveryStatus,
        attempts: int,
        next_attempt: float,
        error: str | None,
    ) -> None:
        self._transactions.write(lambda tx: tx.execute(
            "UPDATE outbox SET status = ?, attempts = ?, next_attempt = ?, last_error = ?"
            " WHERE id = ?", (status, attempts, next_attempt, error, event_id)))  # fmt: skip

    def deliveries(self, channel: str, limit: int) -> list[Delivery]:
        """The channel's latest events, newest first."""
        self._transactions.lookup(lambda tx: sql_names.channel(tx, channel))  # known?
        rows = self._transactions.lookup(lambda tx: tx.all(
            f"SELECT {_COLUMNS} FROM outbox INDEXED BY outbox_by_channel WHERE channel = ?"
            " ORDER BY id DESC LIMIT ?", (channel, limit)))  # fmt: skip
        return [Delivery(*row) for row in rows]

    def prune(self, channel: str, before: float) -> int:
        """Forget the channel's delivered and failed events created before ``before``."""
        return self._transactions.write(lambda tx: tx.execute(
            "DELETE FROM outbox WHERE channel = ? AND status != 'pending' AND created < ?",
            (channel, before)).rowcount)  # fmt: skip

    def replay(self, channel: str, event_id: int) -> Delivery:
        """A failed event pending again, its attempts from zero (the same id)."""
        now = time.time()  # as the outbox is stamped (``state.sql.outbox``)
        row = self._transactions.write(lambda tx: tx.one(
            f"UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?,"
            " last_error = NULL WHERE id = ? AND channel = ? AND status = 'failed'"
            f" RETURNING {_COLUMNS}", (now, event_id, channel)))  # fmt: skip
        if row is None:
            raise UnknownName(f"no failed delivery {event_id} in channel {channel!r}")
        return Delivery(*row)

    def send_test(self, channel: str) -> Delivery:
        """A ``webhook.test`` event queued behind the channel's others, whatever its
        webhook subscribed to (the caller checks that it has one)."""
        now = time.time()

        def insert(tx: Tx) -> Delivery:
            sql_names.channel(tx, channel)  # known?
            row = tx.one(
                "INSERT INTO outbox (channel, type, payload, created, next_attempt)"
                f" VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (channel, TEST_EVENT, _TEST_DATA, now, now),
            )
            assert row is not None  # an INSERT ... RETURNING returns its row
            return Delivery(*row)

        return self._transactions.write(insert)
