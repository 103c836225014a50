"""Errors raised by the store and the domain rules it enforces.

Each says what went wrong, never how a caller is told: the full hierarchy, with the
service's own errors and the one table that turns each into an HTTP reply, an exit code
or a console page, is in ``app.errors``.
"""

from __future__ import annotations


class UnpostedError(Exception):
    """Base of every error unposted raises on purpose."""


class RequestError(UnpostedError):
    """A caller's request cannot be served; nothing was changed. Recoverable."""


class InvalidInput(RequestError):
    """A malformed body or argument."""


class NotReady(RequestError):
    """The first catch-up has not completed: the catalog is not complete yet."""


class NoImages(RequestError):
    """The folder holds no images."""

    def __init__(self) -> None:
        super().__init__("No images found")


class NoNewImages(RequestError):
    """Every image is posted or leased, or waits for ``repeat_after``: then ``retry_at``
    (ISO 8601, UTC) says when the next one comes back, and the answer's body says it too."""

    def __init__(self, leased: int = 0, retry_at: str | None = None) -> None:
        message = "No new images to post (all duplicates)"
        if leased:
            message += f"; {leased} leased to publishers"
        if retry_at is not None:
            message += f"; the next comes back at {retry_at}"
        super().__init__(message)
        self.leased, self.retry_at = leased, retry_at
        self.details = None if retry_at is None else {"retry_at": retry_at}


class FileNotFound(RequestError):
    """``name`` matches no image."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Selected file not found: {name}")


class ImageNotFound(RequestError):
    """A content hash the channel's library does not hold."""


class NotPosted(RequestError):
    """A post to undo that is not there: the channel did not post the picture in its
    current cycle (or that post was undone already)."""


class LeaseConflict(RequestError):
    """The image is leased to another publisher."""


class LeaseNotFound(RequestError):
    """No such lease (in this channel)."""


class LeaseExpired(RequestError):
    """The lease ran out: the image may already be with another publisher."""


class Held(RequestError):
    """The image is held out of selection in this channel."""


class OutOfSeason(RequestError):
    """The image's folder is out of season in this channel."""


class Pending(RequestError):
    """An image over 4 MiB that must be checked against legacy posted state first."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Selected file is being checked against the legacy posted state: {name};"
            " try again shortly"
        )


class Retired(RequestError):
    """A picture the channel posted ``max_posts`` times: it never comes back there."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Selected file was posted as often as this channel allows: {name}")


class WaitingToRepeat(RequestError):
    """A picture posted in an earlier cycle less than ``repeat_after`` ago; ``retry_at``
    (in the answer's body too) says when it comes back."""

    def __init__(self, name: str, retry_at: str | None) -> None:
        super().__init__(
            f"Selected file was posted too recently to repeat in this channel: {name}"
            + (f"; it comes back at {retry_at}" if retry_at else "")
        )
        self.retry_at = retry_at
        self.details = None if retry_at is None else {"retry_at": retry_at}


class AwaitingFingerprint(RequestError):
    """An image a channel that skips near-duplicates holds back until it is fingerprinted."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Selected file waits for its fingerprint (it may be a near-duplicate of a posted"
            f" one): {name}; try again shortly"
        )


class UnknownName(RequestError):
    """A library or channel that the configuration does not define."""


class Unavailable(UnpostedError):
    """The service cannot answer now but will by itself: the caller should try again."""


class StoreBusy(Unavailable):
    """The database is held by another process or a long write."""


class StoreClosed(Unavailable):
    """The store was closed: the service is stopping."""


class StorageFull(Unavailable):
    """The state directory's disk is full."""


class StoreDamaged(Unavailable):
    """The database file was truncated, replaced, deleted or moved under the running
    service, or SQLite found it corrupt. Unlike its siblings it does not recover by itself:
    nothing more is recorded until an operator restores the file and restarts."""


class StoreError(UnpostedError):
    """The database cannot be used as it is. Fatal: the service stops."""


class SchemaTooNew(StoreError):
    """The database was written by a newer unposted."""


class StoreCorrupt(StoreError):
    """The database file is torn, or not a database."""


class DatabaseRefused(StoreError):
    """The PostgreSQL server named cannot be used: no such host, nothing listening, the
    password or the database wrong. Met at the first connection; the message names the
    host and database, never the password."""
