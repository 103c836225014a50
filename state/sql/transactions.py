"""The store's connection and transaction object, as every role runs its work on it.

Each backend hands its roles one (``state.sqlite.roles.Transactions``,
``state.postgres.roles.Connected``); the work is a function of a ``Tx``, so one role's
body reads the same on either store. Three ways to run it:

- ``write``: one transaction that may change rows (SQLite: on its one writer;
  PostgreSQL: on a pooled connection, again after a deadlock);
- ``snapshot``: reads that must agree with each other (SQLite: the calling thread's
  reader; PostgreSQL: one transaction);
- ``lookup``: reads that need no snapshot of their own (one statement, or ids then rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from state.sql.dialect import Tx

T = TypeVar("T")


class Transactions(Protocol):
    @property
    def clock(self) -> Callable[[], float]: ...

    def write(self, work: Callable[[Tx], T]) -> T: ...

    def snapshot(self, work: Callable[[Tx], T]) -> T: ...

    def lookup(self, work: Callable[[Tx], T]) -> T: ...
