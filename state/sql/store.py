"""The roles either store hands out, composed once (``Store`` in ``state.store``).

Every role is built over the store's ``Transactions`` (``state.sql.transactions``); what
a store does its own way reaches them as the parts it hands in: its selections (the
pool and its leases), how a page reaches ``files`` (``Pages``), whose turn a catch-up
or a hashing is (``CatchUp``, ``HashingTurns``), the hashing worker's own ways
(``Hashing``) and whose turn a channel's webhook delivery is. ``SqliteStore`` and
``PostgresStore`` add only how they open, define and close.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from state.sql.roles.browsing import BrowsingRole
from state.sql.roles.catalog import CatalogRole, CatchUp, Pages
from state.sql.roles.legacy import LegacyRole
from state.sql.roles.near import Hashing, HashingTurns, NearRole
from state.sql.roles.outbox import OutboxRole
from state.sql.roles.posted import PostedRole
from state.sql.roles.reports import ReportRole
from state.sql.roles.selections import SelectionRole
from state.sql.roles.sessions import SessionRole
from state.sql.transactions import Transactions


class Roles:
    """A store's roles, one object each."""

    def __init__(
        self,
        transactions: Transactions,
        *,
        selections: SelectionRole,
        pages: Pages,
        catch_up: CatchUp,
        hashing: Hashing,
        turns: HashingTurns,
        delivery: Callable[[int], AbstractContextManager[bool]],
    ) -> None:
        self.catalog = CatalogRole(transactions, pages, catch_up)
        self.selections = selections
        self.posted = PostedRole(transactions)
        self.legacy = LegacyRole(transactions)
        self.reports = ReportRole(transactions)
        self.browsing = BrowsingRole(transactions)
        self.near = NearRole(transactions, hashing, turns)
        self.sessions = SessionRole(transactions)
        self.outbox = OutboxRole(transactions, delivery)
