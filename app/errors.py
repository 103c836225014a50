"""The service's errors, and the one table that says how each is answered.

Each error says what went wrong; ``ANSWERS`` says how a caller is told: the HTTP status,
the reply's ``error`` code and ``Retry-After`` (``app.api.errors``), the exit code of the
command line (``app.cli``), and what the console's error page says
(``app.console.pages``). ``answer(exc)`` finds an error's row, or its nearest
ancestor's. Hierarchy (the store's errors live in ``state.errors``, re-exported here)::

    UnpostedError
    ├── RequestError          a caller's request cannot be served; nothing changed
    │   ├── InvalidInput      a malformed body or argument
    │   ├── NotReady          the first catch-up has not completed
    │   ├── NoImages          the folder holds no images
    │   ├── NoNewImages       every image is posted or leased
    │   ├── FileNotFound      ``name`` matches no image
    │   ├── LeaseConflict     the image is leased to another publisher
    │   ├── LeaseNotFound     no such lease (in this channel)
    │   ├── LeaseExpired      a lease that ran out cannot be renewed
    │   ├── Held              the image is held out of selection
    │   ├── OutOfSeason       the image's folder is out of season in the channel
    │   ├── Pending           the image waits to be checked against legacy state
    │   ├── AwaitingFingerprint  the image waits for its fingerprint (``skip``)
    │   ├── Retired           posted ``max_posts`` times in the channel
    │   ├── WaitingToRepeat   posted less than ``repeat_after`` ago
    │   ├── UnknownName       no such library or channel
    │   ├── ImageNotFound     no such content in the channel's library
    │   ├── NotPosted         no post of this content in the channel's current cycle to undo
    │   ├── NoThumbnail       Dropbox makes no thumbnail of this file
    │   ├── RenderRefused     a picture the channel's render profile cannot be applied to
    │   │   ├── UnsupportedPicture  not a format that is rendered (415)
    │   │   └── PictureTooLarge     over the size or pixel limit, or max_bytes (413)
    │   ├── RenderLinkRefused  a rendered link signed wrong, or its lease is over (403)
    │   ├── ArchiveNotAllowed the channel may not archive (``archive`` in its table)
    │   ├── ChannelRequired   the token reaches several channels: the route must name one
    │   ├── NoWebhook         a webhook's action, for a channel without one (409)
    │   ├── ChannelMisconfigured  its configuration names what its library lacks (409)
    │   └── BodyRefused       a request body refused while it is read (an HTTPException too)
    │       ├── BodyTooLarge  over the route's limit, declared or streamed
    │       ├── BodyTimeout   the body did not arrive in time
    │       └── DuplicateKey  a JSON object names a key twice
    ├── Unavailable           recovers by itself (all but one): try again after a while
    │   ├── StoreBusy         the database is held by another process or a long write
    │   ├── StoreClosed       the store was closed: the service is stopping
    │   ├── StorageFull       the state directory's disk is full
    │   └── StoreDamaged      the SQLite file was damaged underneath: until restarted
    ├── ConfigError           fatal: the settings cannot work
    ├── StateDirError         fatal: the state directory cannot be used as it is
    │   └── StateDirInUse     another process holds it
    ├── StoreError            fatal: the database cannot be used
    │   ├── SchemaTooNew      written by a newer unposted
    │   ├── StoreCorrupt      torn or not a database
    │   └── DatabaseRefused   PostgreSQL's first connection failed (host, password, ...)
    └── DropboxError          a Dropbox call failed (``app.dropbox.client``)
        ├── DropboxAuthError  fatal until the credentials change
        ├── DropboxUnavailable  recoverable: 5xx, timeouts, rate limits past our bound
        ├── CursorReset       recoverable: list the folder again
        └── FolderNotFound    recoverable: the folder is gone; list again once it exists

Beside it: ``emulator.runner.CannotListen``, an ``OSError`` (a port in use: one line).
Per-item problems during a catch-up (a file without ``content_hash``) are counted,
never raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException

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
    NotPosted,
    NotReady,
    OutOfSeason,
    Pending,
    RequestError,
    Retired,
    SchemaTooNew,
    StorageFull,
    StoreBusy,
    StoreClosed,
    StoreCorrupt,
    StoreDamaged,
    StoreError,
    Unavailable,
    UnknownName,
    UnpostedError,
    WaitingToRepeat,
)

__all__ = [
    "ANSWERS",
    "Answer",
    "ArchiveNotAllowed",
    "AwaitingFingerprint",
    "BodyRefused",
    "BodyTimeout",
    "BodyTooLarge",
    "ChannelMisconfigured",
    "ChannelRequired",
    "ConfigError",
    "CursorReset",
    "DatabaseRefused",
    "DropboxAuthError",
    "DropboxError",
    "DropboxUnavailable",
    "DuplicateKey",
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
    "NotPosted",
    "NotReady",
    "OutOfSeason",
    "Pending",
    "PictureTooLarge",
    "RenderLinkRefused",
    "RenderRefused",
    "RequestError",
    "Retired",
    "SchemaTooNew",
    "StateDirError",
    "StateDirInUse",
    "StorageFull",
    "StoreBusy",
    "StoreClosed",
    "StoreCorrupt",
    "StoreDamaged",
    "StoreError",
    "Unavailable",
    "UnknownName",
    "UnpostedError",
    "UnsupportedPicture",
    "WaitingToRepeat",
    "answer",
]


class NoThumbnail(RequestError):
    """Dropbox makes no thumbnail of this file (its format, its size), or not of this path."""


class RenderRefused(RequestError):
    """A picture the render profile cannot be applied to. Raised by ``/select`` after the
    lease is taken: the picture stays leased to the caller, named in ``details``."""

    details: dict[str, object] | None = None


class UnsupportedPicture(RenderRefused):
    """Not a format that is rendered, or bytes that do not decode."""


class PictureTooLarge(RenderRefused):
    """Over the size limit, the pixel limit (a decompression bomb), or ``max_bytes``."""


class RenderLinkRefused(RequestError):
    """A rendered picture's signed link: a signature that does not match, or a lease over."""


class ArchiveNotAllowed(RequestError):
    """Archiving takes a picture from every channel of the library: the operator grants it
    per channel (``archive``), and a post that asks for it without the right is refused."""


class ChannelRequired(RequestError):
    """A route without ``/channels/{name}``, for a token that reaches several channels."""


class NoWebhook(RequestError):
    """A test event for a channel without a webhook (``[channels.NAME.notify]``)."""


class ChannelMisconfigured(RequestError):
    """The channel's configuration names what its library lacks (a weight's folder), found
    once the library was listed: it selects nothing until mended and restarted."""


class BodyRefused(RequestError, HTTPException):
    """A body refused while it is read (``app.api.body``).

    Also an ``HTTPException`` because FastAPI, reading a JSON body for a route, turns any
    other exception into its own 400 but lets an ``HTTPException`` through unchanged; as
    a ``RequestError`` it then reaches the one handler of ``app.api.errors``.
    """

    def __init__(self, message: str) -> None:
        RequestError.__init__(self, message)
        HTTPException.__init__(self, answer(self).status or 400, message)

    def __str__(self) -> str:
        return str(self.detail)


class BodyTooLarge(BodyRefused):
    """Over the route's limit, declared or streamed."""


class BodyTimeout(BodyRefused):
    """The body did not arrive in time."""


class DuplicateKey(BodyRefused):
    """A JSON object names a key twice."""


class ConfigError(UnpostedError):
    """The settings or the configuration file cannot work; the message names the key."""


class StateDirError(UnpostedError):
    """The state directory cannot be used as it is (``app.state_dir``)."""


class StateDirInUse(StateDirError):
    """Another process holds the state directory."""


class DropboxError(UnpostedError):
    """A Dropbox call failed."""


class DropboxAuthError(DropboxError):
    """Dropbox refused the credentials."""


class DropboxUnavailable(DropboxError):
    """Dropbox did not answer in time: 5xx, timeouts, rate limits past our bound."""


class CursorReset(DropboxError):
    """Dropbox no longer knows the cursor: list the folder again."""


class FolderNotFound(DropboxError):
    """The library's folder is gone."""


@dataclass(frozen=True, slots=True)
class Answer:
    """How an error is told. ``status`` None: it never answers a request as such (it
    stops the process); ``page``: the console's words in place of the error's own."""

    code: str
    status: int | None = None
    retry_after: int | None = None
    exit_code: int = 1
    page: str | None = None


_DROPBOX_REFUSED = "Dropbox refused a call made for this page"
_DROPBOX_LATE = "Dropbox did not answer in time; try again shortly"

ANSWERS: dict[type[BaseException], Answer] = {
    UnpostedError: Answer("error"),
    RequestError: Answer("bad_request", 400),
    InvalidInput: Answer("invalid_request", 422),
    NotReady: Answer("not_ready", 503),
    NoImages: Answer("no_images", 404),
    NoNewImages: Answer("no_new_images", 404),
    FileNotFound: Answer("not_found", 404),
    ImageNotFound: Answer("not_found", 404),
    NotPosted: Answer("not_posted", 404),
    LeaseConflict: Answer("leased", 409),
    LeaseNotFound: Answer("lease_not_found", 404),
    LeaseExpired: Answer("lease_expired", 409),
    Held: Answer("held", 409),
    OutOfSeason: Answer("out_of_season", 409),
    Pending: Answer("pending", 409),
    AwaitingFingerprint: Answer("awaiting_fingerprint", 409),
    Retired: Answer("retired", 409),
    WaitingToRepeat: Answer("waiting", 409),
    UnknownName: Answer("not_found", 404),
    NoThumbnail: Answer("no_thumbnail", 404),
    RenderRefused: Answer("render_refused", 422),
    UnsupportedPicture: Answer("unsupported_picture", 415),
    PictureTooLarge: Answer("picture_too_large", 413),
    RenderLinkRefused: Answer("forbidden", 403),
    ArchiveNotAllowed: Answer("archive_not_allowed", 403),
    ChannelRequired: Answer("channel_required", 400),
    NoWebhook: Answer("no_webhook", 409),
    ChannelMisconfigured: Answer("channel_misconfigured", 409),
    BodyTooLarge: Answer("too_large", 413),
    BodyTimeout: Answer("request_timeout", 408),
    DuplicateKey: Answer("invalid_request", 422),
    Unavailable: Answer("unavailable", 503, retry_after=1),
    StoreBusy: Answer("busy", 503, retry_after=1),
    StoreClosed: Answer("stopping", 503, retry_after=1),
    StorageFull: Answer("storage_full", 503, retry_after=5),
    StoreDamaged: Answer("store_damaged", 503, retry_after=60),
    ConfigError: Answer("config_error", exit_code=2),
    StateDirError: Answer("state_dir", exit_code=2),
    StateDirInUse: Answer("state_dir_in_use", exit_code=2),
    StoreError: Answer("store_error"),
    SchemaTooNew: Answer("schema_too_new"),
    StoreCorrupt: Answer("store_corrupt"),
    DatabaseRefused: Answer("database_refused", exit_code=2),
    DropboxError: Answer("dropbox_error", 502, page=_DROPBOX_REFUSED),
    DropboxAuthError: Answer("dropbox_auth", 502, page=_DROPBOX_REFUSED),
    DropboxUnavailable: Answer("dropbox_unavailable", 503, page=_DROPBOX_LATE),
    CursorReset: Answer("cursor_reset", 502, page=_DROPBOX_REFUSED),
    FolderNotFound: Answer("folder_not_found", 502, page=_DROPBOX_REFUSED),
}


def answer(exc: BaseException) -> Answer:
    """The row of ``exc``'s class, or of its nearest ancestor in ``ANSWERS``."""
    for kind in type(exc).__mro__:
        found = ANSWERS.get(kind)
        if found is not None:
            return found
    return ANSWERS[UnpostedError]
