"""The roles both stores run alike, written once over the store's ``Transactions``.

A role whose statements the dialects agree on (``sessions``, ``legacy``, ``browsing``)
lives here, one small class each; a backend's own roles (``state.sqlite.roles``,
``state.postgres.roles``) keep only those whose work differs there (how a catalog page
is written, how a pool is locked and chosen from, how fingerprints are counted).
"""

from __future__ import annotations

from state.sql.transactions import Transactions


class Role:
    """What every shared role works with: the store's transactions and its clock."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions
        self._clock = transactions.clock
