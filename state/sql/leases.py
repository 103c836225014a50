"""Leases: an image held for one publisher in one channel, until released, posted or expired.

A lease row names its channel and content, never a path, so it outlives every file
and the folder itself. A running lease (``ended IS NULL``) keeps its image out of the
channel's pool, even past its time, until it is reclaimed as expired; ended leases are
kept for a day so that a late publisher learns what became of its lease, then pruned.
How a lease is granted and reclaimed is each backend's (the pool changes with it).
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from state.errors import InvalidInput, LeaseExpired, LeaseNotFound
from state.rules import Channel, iso, lease_state
from state.sql import outbox
from state.sql.dialect import Tx
from state.store import LeaseInfo, LeaseState, NamedLease

KEEP_ENDED_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class LeaseRow:
    id: str
    channel_id: int
    content_hash: str
    expires_at: float
    ended: LeaseState | None

    def state(self, now: float) -> LeaseState:
        return lease_state(self.expires_at, self.ended, now)

    def info(self, channel: str, now: float) -> LeaseInfo:
        """The lease as its publisher sees it, in the named channel."""
        return LeaseInfo(self.id, channel, self.content_hash, iso(self.expires_at), self.state(now))


COLUMNS = "id, channel_id, content_hash, expires_at, ended"
# The oldest leases past their time (``:now``), at most ``:n`` of them: a statement's
# FROM onwards.
DUE = "FROM leases WHERE ended IS NULL AND expires_at <= :now ORDER BY expires_at LIMIT :n"


def find(tx: Tx, lease_id: str) -> LeaseRow | None:
    row = tx.one(f"SELECT {COLUMNS} FROM leases WHERE id = ?", (lease_id,))
    return None if row is None else LeaseRow(*row)


def find_in(tx: Tx, channel_id: int, lease_id: str) -> LeaseRow:
    """The channel's lease, or ``LeaseNotFound``: another channel's lease is not shown."""
    lease = find(tx, lease_id)
    if lease is None or lease.channel_id != channel_id:
        raise LeaseNotFound(f"No such lease: {lease_id}")
    return lease


def named(
    tx: Tx, channel: Channel, lease_id: str | None, content_hash: str, now: float
) -> NamedLease | None:
    """What the lease named with a post was when the post came (one past its time ends
    here, as reclaiming would)."""
    if lease_id is None:
        return None
    lease = find(tx, lease_id)
    if lease is None or lease.channel_id != channel.id:
        return "not_found"
    if lease.content_hash != content_hash:
        raise InvalidInput(f"lease {lease_id} holds another image, not {content_hash}")
    state = lease.state(now)
    if state == "expired" and lease.ended is None:
        end(tx, lease, "expired", now, channel)
    return state


def running(tx: Tx, channel_id: int, content_hash: str) -> LeaseRow | None:
    row = tx.one(
        f"SELECT {COLUMNS} FROM leases WHERE channel_id = ? AND content_hash = ? AND ended IS NULL",
        (channel_id, content_hash),
    )
    return None if row is None else LeaseRow(*row)


def end(tx: Tx, lease: LeaseRow, how: LeaseState, now: float, channel: Channel) -> None:
    """End a running lease; unless it ended in a post, the image may return to the pool."""
    tx.execute(
        "UPDATE leases SET ended = ?, ended_at = ? WHERE id = ? AND ended IS NULL",
        (how, now, lease.id),
    )
    if how != "posted":
        tx.ops.restore(tx.db, channel, lease.content_hash)
        outbox.check_level(tx, channel.id, now)
    if how == "expired":
        outbox.record(tx, channel.id, "lease.expired", expired(lease))


def expired(lease: LeaseRow) -> dict[str, str]:
    """What a ``lease.expired`` event says of the lease."""
    return {"lease_id": lease.id, "content_hash": lease.content_hash,
            "expires_at": iso(lease.expires_at)}  # fmt: skip


def extend(tx: Tx, lease: LeaseRow, expires_at: float) -> None:
    tx.execute("UPDATE leases SET expires_at = ? WHERE id = ?", (expires_at, lease.id))


def release(tx: Tx, channel: Channel, lease_id: str, now: float) -> None:
    """A publisher lets its lease go (``LeaseNotFound`` when it has ended already)."""
    lease = find_in(tx, channel.id, lease_id)
    if lease.ended is not None:
        raise LeaseNotFound(f"No such lease: {lease_id} (it ended: {lease.ended})")
    end(tx, lease, "released", now, channel)


def renew(tx: Tx, channel_id: int, name: str, lease_id: str, seconds: int, now: float) -> LeaseInfo:
    """A running lease held ``seconds`` from ``now`` (``LeaseExpired`` once past its time),
    as its publisher in the channel called ``name`` sees it then."""
    lease = find_in(tx, channel_id, lease_id)
    state = lease.state(now)
    if state != "active":
        raise LeaseExpired(f"lease {lease_id} is {state}; select the image again")
    extend(tx, lease, now + seconds)
    return replace(lease, expires_at=now + seconds).info(name, now)


def prune(tx: Tx, now: float, limit: int) -> None:
    """Forget up to ``limit`` leases ended over a day ago, oldest first."""
    tx.execute(
        "DELETE FROM leases WHERE id IN (SELECT id FROM leases WHERE ended IS NOT NULL"
        " AND ended_at < ? ORDER BY ended_at LIMIT ?)",
        (now - KEEP_ENDED_SECONDS, limit),
    )


def count_active(tx: Tx, channel_id: int, now: float) -> int:
    return tx.count(
        "SELECT count(*) FROM leases WHERE channel_id = ? AND ended IS NULL AND expires_at > ?",
        (channel_id, now),
    )


def count_running(tx: Tx, channel_id: int) -> int:
    """Leases not ended, expired ones included: each still keeps an image out."""
    return tx.count(
        "SELECT count(*) FROM leases WHERE channel_id = ? AND ended IS NULL", (channel_id,)
    )


def channel_row(tx: Tx, channel_id: int) -> Channel:
    row = tx.one("SELECT id, cycle FROM channels WHERE id = ?", (channel_id,))
    assert row is not None
    return Channel(row[0], row[1])
