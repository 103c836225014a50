"""Connections to PostgreSQL: the pool, transactions, and psycopg's errors as the service's own.

Every store call borrows a connection from one ``psycopg_pool.ConnectionPool`` and runs
in one transaction. A connection that broke (the server restarted, the network
dropped) is discarded by the pool when it comes back, and the pool opens new ones by
itself, so an outage costs failed calls, never a restart. Those failures leave as
``StoreBusy`` (503 with ``Retry-After``); a full disk as ``StorageFull``. A deadlock
or serialisation failure is retried a few times first: the transaction was rolled
back whole, so running it again is safe. Messages never carry the connection string:
it may hold a password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from state.errors import InvalidInput, StorageFull, StoreBusy, StoreError

log = logging.getLogger(__name__)

Db = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")

WAIT_SECONDS = 1.0
"""How long a call waits for a free or new connection before answering busy. The pool
has a connection for every thread that may ask (lanes, catch-ups), so a wait means the
server cannot be reached: every request queued behind it would wait as long."""
_RETRIES = 3


def where(conninfo: str) -> str:
    """The server a connection string names, for messages: host, port and database only."""
    parts = urlsplit(conninfo)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or ''}"


def open_pool(conninfo: str, max_size: int) -> ConnectionPool[Db]:
    pool: ConnectionPool[Db] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        timeout=WAIT_SECONDS,
        # Autocommit: a lone read needs no BEGIN; ``transaction`` opens one explicitly.
        kwargs={"connect_timeout": 5, "application_name": "unposted", "autocommit": True},
        open=False,
        name="unposted",
        configure=_configure,
    )
    pool.open(wait=False)
    return pool


# A request reads a handful of rows through indexes. Without statistics (a library just
# listed) the planner guesses, and its guesses favour reading a whole library through a
# bitmap, a hash or a merge join, or a join that keeps a whole library in memory to
# compare each row with: those are priced out of every session. They remain where
# nothing else can answer, and the catch-up, which writes pages in bulk, prices them
# back in for its own transactions (``BULK_PLANS``).
_LOOKUP_PLANS = (
    "enable_seqscan", "enable_bitmapscan", "enable_hashjoin", "enable_mergejoin",
    "enable_material",
)  # fmt: skip
BULK_PLANS = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), " + ", ".join(
    f"set_config('{name}', 'on', true)" for name in _LOOKUP_PLANS
)


def _configure(connection: Db) -> None:
    connection.add_notice_handler(_notice)
    connection.execute(
        "SELECT " + ", ".join(f"set_config('{name}', 'off', false)" for name in _LOOKUP_PLANS)
    )


def _notice(notice: psycopg.errors.Diagnostic) -> None:
    """The server's notices, for whoever reads debug logs (the plans a test asks for)."""
    log.debug("server %s: %s", notice.severity, notice.message_primary)


@contextmanager
def translated(server: str) -> Iterator[None]:
    """psycopg's operational errors as the service's own: busy or full, never a bare 500."""
    try:
        yield
    except errors.DiskFull as exc:
        raise StorageFull(f"the database server {server} is out of disk space") from exc
    except (psycopg.OperationalError, errors.LockNotAvailable, errors.QueryCanceled) as exc:
        raise StoreBusy(f"the database {server} is unreachable or busy; try again shortly") from exc
    except psycopg.DataError as exc:  # a value text cannot hold (NUL), a number out of range
        raise InvalidInput("the request holds a value the database cannot store") from exc
    except errors.InsufficientPrivilege as exc:
        reason = exc.diag.message_primary
        raise StoreError(f"the database user may not do this on {server}: {reason}") from exc


def read(pool: ConnectionPool[Db], server: str, work: Callable[[Db], T]) -> T:
    """Run ``work`` outside any transaction: each statement sees the latest commit."""
    with translated(server), pool.connection() as db:
        return work(db)


def transaction(pool: ConnectionPool[Db], server: str, work: Callable[[Db], T]) -> T:
    """Run ``work`` in one transaction, again after a deadlock or serialisation failure."""
    with translated(server):
        for attempt in range(_RETRIES + 1):
            try:
                with pool.connection() as db, db.transaction():
                    return work(db)
            except errors.TransactionRollback:
                if attempt == _RETRIES:
                    raise
                time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
