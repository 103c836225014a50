"""The roles both stores run alike, written once over the store's ``Transactions``.

A role whose statements the dialects agree on (``sessions``, ``legacy``, ``browsing``)
lives here, one small class each; where a store does part of the work its own way, that
part reaches the role as an object it hands in (``catalog``'s ``Pages`` and
``CatchUp``, ``near``'s ``Hashing``, ``selections``' ``Leasing``), or the store's role
subclasses this one for how it answers a selection and reclaims leases
(``state.sqlite.roles``, ``state.postgres.roles``). A store one process holds answers
for its turns with ``one_process``.
"""

from __future__ import annotations

from state.sql.transactions import Transactions


class Role:
    """What every shared role works with: the store's transactions and its clock."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions
        self._clock = transactions.clock
