"""The checks around a selection that both stores make the same way.

Choosing the image is each backend's (SQLite reads a slot after the pool's size,
PostgreSQL both in one statement); what is refused, and why nothing could be chosen,
is written here once. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from state.errors import (
    AwaitingFingerprint,
    Held,
    LeaseConflict,
    NoImages,
    NoNewImages,
    OutOfSeason,
    Pending,
    Retired,
    WaitingToRepeat,
)
from state.rules import Channel, iso
from state.sql import leases, returning
from state.sql.dialect import Tx
from state.sql.posted import posted_at
from state.store import Lease


class TurnedWithNothing(Exception):
    """A new cycle began and left nothing to offer (every picture waits for
    ``repeat_after``): the turn must stand, and ``error`` answer the selection once the
    transaction has committed (raising it inside would undo the turn)."""

    def __init__(self, error: NoImages | NoNewImages) -> None:
        super().__init__(str(error))
        self.error = error


def turned_with_nothing(
    tx: Tx, library_id: int, channel_id: int, now: float
) -> NoImages | NoNewImages | TurnedWithNothing:
    """A cycle just turned and nothing came of it: when pictures wait for ``repeat_after``
    the turn stands (they come back into the new cycle); otherwise (all held, say) it is
    undone with the error, as if it had not been tried."""
    error = nothing_to_choose(tx, library_id, channel_id, now)
    if isinstance(error, NoNewImages) and error.retry_at is not None:
        return TurnedWithNothing(error)
    return error


def nothing_to_choose(
    tx: Tx, library_id: int, channel_id: int, now: float
) -> NoImages | NoNewImages:
    """Why the choice found nothing: an empty folder, or everything posted or leased (or
    waiting for ``repeat_after``: then when the next comes back)."""
    if library_images(tx, library_id) == 0:
        return NoImages()
    leased = leases.count_active(tx, channel_id, now)
    return NoNewImages(leased, returning.retry_at(tx, channel_id))


def library_images(tx: Tx, library_id: int, limit: int = 1) -> int:
    """How many images the library holds, counting no further than ``limit``."""
    return tx.count(
        "SELECT count(*) FROM (SELECT 1 FROM images WHERE library_id = ? LIMIT ?) AS held",
        (library_id, limit),
    )


def lease_ran_out(tx: Tx, channel: Channel, content_hash: str, now: float) -> bool:
    """Is a lease on this image past its time but not yet reclaimed?"""
    lease = leases.running(tx, channel.id, content_hash)
    return lease is not None and lease.state(now) == "expired"


def check_leasable(
    tx: Tx, channel: Channel, content_hash: str, name: str, now: float
) -> str | None:
    """For a selection by name: the posted time if posted; refuse if it cannot be leased.

    A lease that ran out but was not reclaimed yet is ended here, as reclaiming would.
    """
    posted = posted_at(tx, channel, content_hash)
    if posted is not None:
        return posted
    lease = leases.running(tx, channel.id, content_hash)
    if lease is not None and lease.state(now) == "active":
        raise LeaseConflict(
            f"Selected file is leased to another publisher until {iso(lease.expires_at)}: {name}"
        )
    if lease is not None:
        leases.end(tx, lease, "expired", now, channel)
    facts = tx.ops.facts(tx.db, channel, content_hash)
    if facts.retired:
        raise Retired(name)
    if facts.held:
        raise Held(f"Selected file is held out of selection in this channel: {name}")
    if facts.out_of_season:
        raise OutOfSeason(f"Selected file's folder is out of season in this channel: {name}")
    if facts.pending:
        raise Pending(name)
    if facts.awaiting_fingerprint:
        raise AwaitingFingerprint(name)
    if facts.waiting:
        raise WaitingToRepeat(name, returning.retry_at_of(tx, channel.id, content_hash))
    return None


def new_lease(lease_id: str, now: float, seconds: int) -> tuple[Lease, float]:
    expires_at = now + seconds
    return Lease(id=lease_id, expires_at=iso(expires_at)), expires_at
