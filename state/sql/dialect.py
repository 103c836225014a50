"""One transaction on either store: its connection, its dialect, and its own operations.

The shared statements are written as SQLite reads them: ``?`` and ``:name``
placeholders, ``INDEXED BY`` where SQLite's planner needs telling which index to walk,
and ``CROSS JOIN`` where it must keep the join order as written; and row locks as
PostgreSQL takes them (``FOR UPDATE``, ``FOR NO KEY UPDATE``). ``Dialect.sql`` spells a
statement for the backend: SQLite drops the locks (its writer holds the whole file);
PostgreSQL's driver wants ``%s`` and ``%(name)s`` (so a literal ``%`` doubles), and its
planner takes neither hint (it is priced away from whole-library plans per session
instead, ``state.postgres.connection``). Upserts (``ON CONFLICT``), ``RETURNING`` and
the boolean literals ``true`` and ``false`` read the same in both, except where a
SQLite partial index names a flag as ``= 1`` (``Dialect.set_flag``). A list of keys
(``... IN :keys``, ``Sql.among``, ``Sql.for_each``) binds as one array on PostgreSQL
and as chunks of parameters on SQLite.

``Sql`` is a connection with its dialect; a ``Tx`` adds what each backend does its own
way (the pool's facts and changes, how a lease ends, how an image is described), as
``Ops``, for the shared modules that call it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from state.rules import Channel, ImageInChannel

if TYPE_CHECKING:
    from state.sql.rows import FileRow
    from state.store import Lease, Selection

Args = tuple[Any, ...] | dict[str, Any]

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_HINT = re.compile(r"\s+INDEXED BY \w+")
_CHUNK = 500  # keys bound at once on SQLite, well under its limit on parameters
_LOCK = re.compile(r"\s+FOR (NO KEY )?UPDATE( OF \w+)?")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one backend spells the shared statements."""

    name: str
    format_params: bool  # %s and %(name)s rather than ? and :name
    index_hints: bool  # SQLite's INDEXED BY and CROSS JOIN
    row_locks: bool  # FOR UPDATE, FOR NO KEY UPDATE
    arrays: bool  # a list binds as one array (= ANY), rather than as many parameters
    # A WITH may change rows (INSERT, UPDATE, DELETE): one statement, one round trip, where
    # SQLite takes two statements (and no trip).
    writes_in_with: bool
    # A flag column that is set, as a partial index's condition names it (SQLite's say
    # ``pending = 1``, and its planner matches the condition only as written).
    set_flag: str
    # The latest of a group's ``posted_at`` texts, as seconds since the epoch.
    last_posted: str

    def sql(self, text: str) -> str:
        return _spelled(self, text)

    def on(self, db: Any) -> Sql:
        """The backend's connection, for the shared statements that need no ``Ops``."""
        return Sql(db, self)


@lru_cache(maxsize=512)
def _spelled(dialect: Dialect, text: str) -> str:
    if not dialect.row_locks:
        text = _LOCK.sub("", text)
    if not dialect.index_hints:
        text = _HINT.sub("", text).replace(" CROSS JOIN ", " JOIN ")
    if dialect.format_params:
        text = text.replace("%", "%%").replace("?", "%s")
        text = _NAMED.sub(r"%(\1)s", text)
    return text


SQLITE = Dialect(
    "sqlite",
    format_params=False,
    index_hints=True,
    row_locks=False,
    arrays=False,
    writes_in_with=False,
    set_flag="1",
    last_posted="max(CAST(strftime('%s', posted_at) AS REAL))",
)
POSTGRES = Dialect(
    "postgres",
    format_params=True,
    index_hints=False,
    row_locks=True,
    arrays=True,
    writes_in_with=True,
    set_flag="true",
    last_posted="max(extract(epoch FROM posted_at::timestamptz))::double precision",
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Ops:
    """The operations each backend does its own way, as the shared modules call them
    (each takes the backend's own connection first)."""

    facts: Callable[[Any, Channel, str], ImageInChannel]
    remove: Callable[[Any, int, str], None]
    restore: Callable[[Any, Channel, str], None]
    # The skip fact of a posted (or unposted) image's group afresh: near-duplicates leave the
    # pool, when the channel skips them, or return to it.
    after_post: Callable[[Any, Channel, str], None]
    # The image as a publisher sees it: file, lease, posted at, channel (its near-duplicates).
    describe: Callable[[Any, FileRow, Lease | None, str | None, int | None], Selection]
    # A channel's groups forgotten, its library's fingerprints back on the backlog.
    regroup: Callable[[Any, int, int], None]
    # A channel's pool: filled from its library, renumbered.
    fill: Callable[[Any, Channel, int], None]
    rebuild: Callable[[Any, Channel], None]
    # After a legacy import: a library's images over 4 MiB with no known digest wait for
    # one, even those listed while the import was planned (SQLite; PostgreSQL: nothing).
    hold_unchecked: Callable[[Any, int], None]
    # A select list over the channel ``c``: its pool's size (expired leases not counted),
    # its running leases, and those of them past their time but not yet reclaimed at the
    # list's one parameter, ``now`` (``state.sql.reports.pool_counts``).
    pool_counts: str


@dataclass(frozen=True, slots=True)
class Sql:
    """A connection inside one transaction, with its backend's dialect: what a shared
    statement needs, when it needs none of the backend's own operations."""

    db: Any  # sqlite3.Connection or psycopg.Connection
    dialect: Dialect

    def execute(self, sql: str, args: Args = ()) -> Cursor:
        cursor: Cursor = self.db.execute(self.dialect.sql(sql), args)
        return cursor

    def one(self, sql: str, args: Args = ()) -> Any:
        """The first row, or None."""
        return self.execute(sql, args).fetchone()

    def all(self, sql: str, args: Args = ()) -> list[Any]:
        return self.execute(sql, args).fetchall()

    def count(self, sql: str, args: Args = ()) -> int:
        """A ``count(*)``'s value."""
        row = self.one(sql, args)
        return 0 if row is None else int(row[0])

    def many(self, sql: str, rows: Iterable[Args]) -> None:
        """One statement for each of ``rows`` (``executemany``)."""
        cursor = self.db.cursor()
        try:
            cursor.executemany(self.dialect.sql(sql), rows)
        finally:
            cursor.close()

    def among(self, sql: str, args: dict[str, Any], keys: Iterable[str]) -> list[Any]:
        """Rows of ``sql``, which reads ``... IN :keys``, for every one of ``keys``.

        PostgreSQL binds the keys as one array (``= ANY``); SQLite as parameters, a
        chunk at a time under its limit on them."""
        return [row for text, bound in _spread(self.dialect, sql, args, keys)
                for row in self.all(text, bound)]  # fmt: skip

    def for_each(self, sql: str, args: dict[str, Any], keys: Iterable[str]) -> int:
        """``among`` for a statement that returns no rows; how many rows it changed."""
        spread = _spread(self.dialect, sql, args, keys)
        return sum(self.execute(text, bound).rowcount for text, bound in spread)


def _spread(
    dialect: Dialect, sql: str, args: dict[str, Any], keys: Iterable[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    wanted = sorted(set(keys))
    if not wanted:
        return
    if dialect.arrays:
        yield sql.replace(" IN :keys", " = ANY(:keys)"), {**args, "keys": wanted}
        return
    for start in range(0, len(wanted), _CHUNK):
        chunk = {f"k{n}": key for n, key in enumerate(wanted[start : start + _CHUNK])}
        marks = ", ".join(f":{name}" for name in chunk)
        yield sql.replace(":keys", f"({marks})"), {**args, **chunk}


@dataclass(frozen=True, slots=True)
class Tx(Sql):
    """A ``Sql`` with its backend's operations, for the statements that call them.

    ``library_ids``: the ids of libraries already read, by name, shared by every
    transaction of one store that keeps them (``state.sql.names.library``); None: read
    each time."""

    ops: Ops
    library_ids: dict[str, int] | None = None
