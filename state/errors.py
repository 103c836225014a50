"""Errors raised by the store and the domain rules it enforces.

The full hierarchy, with the service's own errors, is drawn in ``app.errors``.
"""

from __future__ import annotations


class UnpostedError(Exception):
    """Base of every error unposted raises on purpose."""

    code = "error"


class RequestError(UnpostedError):
    """A caller's request cannot be served; nothing was changed. Recoverable."""

    code = "bad_request"
    status = 400


class InvalidInput(RequestError):
    code = "invalid_request"
    status = 422


class NotReady(RequestError):
    code = "not_ready"
    status = 503


class NoImages(RequestError):
    code = "no_images"
    status = 404

    def __init__(self) -> None:
        super().__init__("No images found")


class NoNewImages(RequestError):
    code = "no_new_images"
    status = 404

    def __init__(self, leased: int = 0) -> None:
        message = "No new images to post (all duplicates)"
        if leased:
            message += f"; {leased} leased to publishers"
        super().__init__(message)
        self.leased = leased


class FileNotFound(RequestError):
    code = "not_found"
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Selected file not found: {name}")


class ImageNotFound(RequestError):
    """A content hash the channel's library does not hold."""

    code = "not_found"
    status = 404


class LeaseConflict(RequestError):
    code = "leased"
    status = 409


class LeaseNotFound(RequestError):
    code = "lease_not_found"
    status = 404


class LeaseExpired(RequestError):
    """The lease ran out: the image may already be with another publisher."""

    code = "lease_expired"
    status = 409


class Held(RequestError):
    code = "held"
    status = 409


class Pending(RequestError):
    """An image over 4 MiB that must be checked against legacy posted state first."""

    code = "pending"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Selected file is being checked against the legacy posted state: {name};"
            " try again shortly"
        )


class AwaitingFingerprint(RequestError):
    """An image a channel that skips near-duplicates holds back until it is fingerprinted."""

    code = "awaiting_fingerprint"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Selected file waits for its fingerprint (it may be a near-duplicate of a posted"
            f" one): {name}; try again shortly"
        )


class UnknownName(RequestError):
    """A library or channel that the configuration does not define."""

    code = "not_found"
    status = 404


class Unavailable(UnpostedError):
    """The service cannot answer now but will by itself; retry after ``retry_after`` s."""

    code = "unavailable"
    status = 503
    retry_after = 1


class StoreBusy(Unavailable):
    code = "busy"


class StorageFull(Unavailable):
    code = "storage_full"
    retry_after = 5


class StoreDamaged(Unavailable):
    """The database file was truncated, replaced, deleted or moved under the running
    service, or SQLite found it corrupt. Unlike its siblings it does not recover by itself:
    nothing more is recorded until an operator restores the file and restarts."""

    code = "store_damaged"
    retry_after = 60


class StoreError(UnpostedError):
    """The database cannot be used as it is. Fatal: the service stops."""

    code = "store_error"


class SchemaTooNew(StoreError):
    code = "schema_too_new"


class StoreCorrupt(StoreError):
    code = "store_corrupt"


class DatabaseRefused(StoreError):
    """The PostgreSQL server named cannot be used: no such host, nothing listening, the
    password or the database wrong. Met at the first connection; the message names the
    host and database, never the password."""

    code = "database_refused"
