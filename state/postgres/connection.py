"""Connections to PostgreSQL: the pool, transactions, and psycopg's errors as the service's own.

Every store call borrows a connection from one ``psycopg_pool.ConnectionPool`` and runs
in one transaction. A connection that broke (the server restarted, the network
dropped) is discarded by the pool when it comes back, and the pool opens new ones by
itself, so an outage costs failed calls, never a restart. Those failures leave as
``StoreBusy`` (503 with ``Retry-After``); a full disk as ``StorageFull``. A deadlock
or serialisation failure is retried a few times first: the transaction was rolled
back whole, so running it again is safe. Messages never carry the connection string:
it may hold a password.

The first connection (``connect``, made by the migration at start) is where a wrong
setting shows: a host that does not resolve, a port where nothing listens, a password
or database the server refuses. Each leaves as ``DatabaseRefused``, one line naming
the host and database and what to check; after start, the same failures are an
outage (``StoreBusy``) that the pool rides out.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from state.errors import DatabaseRefused, InvalidInput, StorageFull, StoreBusy, StoreError

log = logging.getLogger(__name__)

Db = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")

WAIT_SECONDS = 1.0
"""How long a call waits for a free or new connection before answering busy. The pool
has a connection for every thread that may ask (lanes, catch-ups), so a wait means the
server cannot be reached: every request queued behind it would wait as long."""
_RETRIES = 3


CONNECT_SECONDS = 10
"""How long the first connection may take before the server counts as unreachable."""

# libpq's own words (its messages are English unless the client's locale says otherwise;
# a server's FATAL lines follow its lc_messages): what each failure reads as, and why.
_REFUSALS = (
    (r"failed to resolve host|could not translate host name", "the host name does not resolve"),
    (r"Connection refused", "connection refused: is PostgreSQL running and listening there?"),
    (r"password authentication failed|no password supplied|authentication failed",
     "password authentication failed for user {user}"),
    (r"database \".*\" does not exist", "the database does not exist on that server"),
    (r"role \".*\" does not exist", "no role {user} on that server"),
    (r"no pg_hba\.conf entry", "the server's pg_hba.conf admits no connection of user {user}"
     " from here"),
    (r"timeout expired", f"no answer within {CONNECT_SECONDS:.0f} s"),
)  # fmt: skip


def where(conninfo: str) -> str:
    """The server a connection string names, for messages: host, port and database only."""
    try:
        named = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(a malformed URL)"
    host = str(named.get("host") or "localhost")
    database = named.get("dbname") or named.get("user") or "postgres"
    return f"{host}:{named.get('port') or 5432}/{database}"


def url_problem(url: str) -> str | None:
    """What keeps ``url`` from being a PostgreSQL URL, or None; never quoting it (a
    password may be in it)."""
    if not url.startswith(("postgresql://", "postgres://")):
        return "must be a postgresql:// URL (leave it unset for SQLite)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL: an IPv6 host is written in [brackets], closed"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "is not a valid URL: its port must be a number from 1 to 65535"
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return (
            "is not a URL libpq accepts: postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            "[?sslmode=...], special characters in the password %-encoded"
        )
    return None


def connect(conninfo: str) -> Db:
    """A first connection to the server, or ``DatabaseRefused`` saying why there is none."""
    try:
        return psycopg.connect(conninfo, connect_timeout=CONNECT_SECONDS)
    except psycopg.OperationalError as exc:
        raise DatabaseRefused(refusal(str(exc), conninfo)) from exc


def refusal(reason: str, conninfo: str) -> str:
    """libpq's reason for a failed connection, as one line about the server named."""
    named = conninfo_to_dict(conninfo)
    user = f'"{named.get("user") or "(the default)"}"'
    for pattern, meaning in _REFUSALS:
        if re.search(pattern, reason):
            return f"the database {where(conninfo)}: {meaning.format(user=user)}"
    password = str(named.get("password") or "")
    first = reason.strip().splitlines()[0] if reason.strip() else "no reason given"
    if password:
        first = first.replace(password, "***")
    return f"the database {where(conninfo)}: cannot connect: {first}"


def open_pool(conninfo: str, size: int) -> ConnectionPool[Db]:
    """A pool of ``size`` connections, every one open before it is handed out. A pool
    that grew on demand would open one connection at a time (psycopg's pool grows so),
    and a burst at start, with the database some milliseconds away, would wait for each
    in turn: past ``WAIT_SECONDS``, its last calls would answer busy."""
    pool: ConnectionPool[Db] = ConnectionPool(
        conninfo,
        min_size=size,
        timeout=WAIT_SECONDS,
        # Autocommit: a lone read needs no BEGIN; ``transaction`` opens one explicitly.
        kwargs={"connect_timeout": 5, "application_name": "unposted", "autocommit": True},
        open=False,
        name="unposted",
        configure=_configure,
    )
    # Its connections are waited for as ``connect`` waits, not as a request waits for a
    # free one (``WAIT_SECONDS``): a server slow to answer a new session (a busy host)
    # would otherwise fail the first transaction, and the start with it.
    try:
        pool.open(wait=True, timeout=CONNECT_SECONDS)
    except PoolTimeout as exc:
        pool.close()
        raise DatabaseRefused(
            f"the database {where(conninfo)}: the {size} connections of the pool did not all"
            f" open within {CONNECT_SECONDS:.0f} s: the server is slow to answer, or refuses"
            " more sessions (its max_connections, or the role's connection limit)"
        ) from exc
    return pool


# A request reads a handful of rows through indexes. Without statistics (a library just
# listed) the planner guesses, and its guesses favour reading a whole library through a
# bitmap, a hash or a merge join, or a join that keeps a whole library in memory to
# compare each row with: those are priced out of every session. They remain where
# nothing else can answer, and the catch-up, which writes pages in bulk, prices them
# back in for its own transactions (``BULK_PLANS``). A plan priced out that remains (a
# scan of the few libraries) costs billions, over every JIT threshold: each run would
# compile it (a quarter of a second of the server's CPU for a statement of a
# millisecond), so JIT is off with them, and back on with the bulk plans. With those
# priced out a lookup's plan follows its indexes whatever its parameters (the plan
# tests), so a session plans each statement once (``force_generic_plan``): left to
# choose, the server kept planning afresh every statement that takes an array (it prices
# a generic plan for an array of unknown length), and planning cost it more than running
# them. The bulk plans are custom.
_LOOKUP_PLANS = (
    "enable_seqscan", "enable_bitmapscan", "enable_hashjoin", "enable_mergejoin",
    "enable_material", "jit",
)  # fmt: skip
BULK_PLANS = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), " + ", ".join(
    f"set_config('{name}', 'on', true)" for name in _LOOKUP_PLANS
)


def _configure(connection: Db) -> None:
    connection.add_notice_handler(_notice)
    connection.execute(
        "SELECT "
        + ", ".join(f"set_config('{name}', 'off', false)" for name in _LOOKUP_PLANS)
        + ", set_config('plan_cache_mode', 'force_generic_plan', false)"
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
