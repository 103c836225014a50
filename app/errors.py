"""The service's errors, and the one place they become HTTP replies.

Hierarchy (domain errors live in ``state.errors``, re-exported here)::

    UnpostedError
    ├── RequestError          a caller's request cannot be served; nothing changed
    │   ├── InvalidInput      422  malformed body or argument
    │   ├── NotReady          503  the first catch-up has not completed
    │   ├── NoImages          404  the folder holds no images
    │   ├── NoNewImages       404  every image is posted or leased
    │   ├── FileNotFound      404  ``name`` matches no image
    │   ├── LeaseConflict     409  the image is leased to another publisher
    │   ├── LeaseNotFound     404  no such lease (in this channel)
    │   ├── LeaseExpired      409  a lease that ran out cannot be renewed
    │   ├── Held              409  the image is held out of selection
    │   ├── Pending           409  the image waits to be checked against legacy state
    │   ├── AwaitingFingerprint  409  the image waits for its fingerprint (``skip``)
    │   ├── UnknownName       404  no such library or channel
    │   ├── ImageNotFound     404  no such content in the channel's library
    │   ├── NoThumbnail       404  Dropbox makes no thumbnail of this file
    │   └── ArchiveNotAllowed 403  the channel may not archive (``archive`` in its table)
    ├── Unavailable           503  with Retry-After; recovers by itself (all but one)
    │   ├── StoreBusy         the database is held by another process or a long write
    │   ├── StorageFull       the state directory's disk is full
    │   └── StoreDamaged      the SQLite file was damaged underneath: 503 until restarted
    ├── ConfigError           fatal: the settings cannot work
    ├── StoreError            fatal: the database cannot be used
    │   ├── SchemaTooNew      written by a newer unposted
    │   ├── StoreCorrupt      torn or not a database
    │   └── DatabaseRefused   PostgreSQL's first connection failed (host, password, ...)
    └── DropboxError          a Dropbox call failed (``app.dropbox.client``)
        ├── DropboxAuthError  fatal until the credentials change
        ├── DropboxUnavailable  recoverable: 5xx, timeouts, rate limits past our bound
        ├── CursorReset       recoverable: list the folder again
        └── FolderNotFound    recoverable: the folder is gone; list again once it exists

Beside it: ``app.state_dir.StateDirError`` (the state directory is unusable or held by
another process: exit 2), ``app.api.body.BodyRefused`` (a request body over its limit,
too slow, or with a duplicate key: 413, 408, 422), ``app.threaded_server.CannotListen``
(a port in use: one line).

Per-item problems during a catch-up (a file without ``content_hash``) are counted,
never raised.
"""

from __future__ import annotations

from state.errors import (
    AwaitingFingerprint,
    DatabaseRefused,
    FileNotFound,
    Held,
    ImageNotFound,
    InvalidInput,
    LeaseConflict,
    LeaseExpired,
    LeaseNotFound,
    NoImages,
    NoNewImages,
    NotReady,
    Pending,
    RequestError,
    SchemaTooNew,
    StorageFull,
    StoreBusy,
    StoreCorrupt,
    StoreDamaged,
    StoreError,
    Unavailable,
    UnknownName,
    UnpostedError,
)

__all__ = [
    "ArchiveNotAllowed",
    "AwaitingFingerprint",
    "ConfigError",
    "CursorReset",
    "DatabaseRefused",
    "DropboxAuthError",
    "DropboxError",
    "DropboxUnavailable",
    "FileNotFound",
    "FolderNotFound",
    "Held",
    "ImageNotFound",
    "InvalidInput",
    "LeaseConflict",
    "LeaseExpired",
    "LeaseNotFound",
    "NoImages",
    "NoNewImages",
    "NoThumbnail",
    "NotReady",
    "Pending",
    "RequestError",
    "SchemaTooNew",
    "StorageFull",
    "StoreBusy",
    "StoreCorrupt",
    "StoreDamaged",
    "StoreError",
    "Unavailable",
    "UnknownName",
    "UnpostedError",
]


class NoThumbnail(RequestError):
    """Dropbox makes no thumbnail of this file (its format, its size), or not of this path."""

    code = "no_thumbnail"
    status = 404


class ArchiveNotAllowed(RequestError):
    """Archiving takes a picture from every channel of the library: the operator grants it
    per channel (``archive``), and a post that asks for it without the right is refused."""

    code = "archive_not_allowed"
    status = 403


class ConfigError(UnpostedError):
    code = "config_error"


class DropboxError(UnpostedError):
    code = "dropbox_error"


class DropboxAuthError(DropboxError):
    code = "dropbox_auth"


class DropboxUnavailable(DropboxError):
    code = "dropbox_unavailable"


class CursorReset(DropboxError):
    code = "cursor_reset"


class FolderNotFound(DropboxError):
    code = "folder_not_found"
