"""The one module that imports ``dropbox``: Dropbox calls, our types out, our errors up.

Every call goes through ``_call``, which bounds the retries the SDK would otherwise
make forever: a 429 waits for its ``Retry-After`` (requests made while limited count
against the limit, so never earlier); 5xx, timeouts and dropped connections back off
exponentially with full jitter. Waits happen on a ``threading.Event`` so a stopping
service is never held by a sleep. Token refresh is the SDK's own (one refresh on an
expired access token). These calls block: callers run them in threads, never on the
event loop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import dropbox
import requests
from dropbox import exceptions as sdk_errors
from dropbox import files as sdk_files
from dropbox import stone_serializers
from dropbox.dropbox_client import RouteErrorResult
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.dropbox.listing import decode_page
from app.dropbox.thumbnail import BATCH_THUMBNAILS, REFUSALS, THUMBNAIL_SIZES, Thumbnail
from app.dropbox.transport import base_url_session
from app.errors import (
    CursorReset,
    DropboxAuthError,
    DropboxError,
    DropboxUnavailable,
    FileNotFound,
    FolderNotFound,
    answer,
)
from app.metrics import Metrics
from state.changes import Page
from state.hashing import ContentHasher

log = logging.getLogger(__name__)
T = TypeVar("T")
LIST_LIMIT = 2000
QUICK = 2
"""Attempts for calls a publisher's request waits on (links, moves): fail fast, not late."""
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a call is reported as failed."""

    attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    rate_limit_default: float = 5.0
    timeout_seconds: float = 60.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


@dataclass(frozen=True)
class DownloadedHashes:
    sha256: str
    content_hash: str
    size: int


class DropboxClient:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        refresh_token: SecretStr | None = None,
        session: requests.Session | None = None,
    ) -> None:
        """``refresh_token``: another account's, instead of the service's own credentials.
        ``session``: a pool of connections shared with other clients (``connection_pool``),
        which their owner closes; without one the client makes and closes its own."""
        self._retry = retry or RetryPolicy()
        self._stop = stop or threading.Event()
        self._metrics = metrics
        self._owns_session = session is None
        self.session = connection_pool(settings) if session is None else session
        self._sdk = _build_sdk(settings, self._retry.timeout_seconds, refresh_token, self.session)

    def close(self) -> None:
        if self._owns_session:
            self._sdk.close()

    # -- listing --------------------------------------------------------------------
    def list_folder(self, path: str, recursive: bool) -> Page:
        # Non-downloadable files are listed, to be counted as skipped rather than unseen.
        arg = {"path": path, "recursive": recursive, "limit": LIST_LIMIT,
               "include_non_downloadable_files": True}  # fmt: skip
        return self._call("files/list_folder", lambda: self._listing(sdk_files.list_folder, arg))

    def list_folder_continue(self, cursor: str) -> Page:
        return self._call(
            "files/list_folder/continue",
            lambda: self._listing(sdk_files.list_folder_continue, {"cursor": cursor}),
        )

    def _listing(self, route: Any, arg: dict[str, Any]) -> Page:
        """The SDK makes the call and decodes errors; the page is decoded by ``decode_page``."""
        self._sdk.check_and_refresh_access_token()
        reply = self._sdk.request_json_string_with_retry(
            "api", f"files/{route.name}", "rpc", json.dumps(arg).encode(), "user", None
        )
        if isinstance(reply, RouteErrorResult):
            error = json.loads(reply.obj_result)["error"]
            decoded = stone_serializers.json_compat_obj_decode(
                route.error_type, error, strict=False
            )
            raise sdk_errors.ApiError(reply.request_id, decoded, None, None)
        return decode_page(reply.obj_result)

    def longpoll(self, cursor: str, timeout: int = 30) -> tuple[bool, float | None]:
        """Block until the cursor's folder changes or ``timeout`` passes."""
        result = self._call(
            "files/list_folder/longpoll",
            lambda: self._sdk.files_list_folder_longpoll(cursor, timeout=timeout),
        )
        return bool(result.changes), result.backoff

    # -- files ----------------------------------------------------------------------
    def temporary_link(self, path: str) -> str:
        result = self._call(
            "files/get_temporary_link", lambda: self._sdk.files_get_temporary_link(path), QUICK
        )
        return str(result.link)

    def move(self, from_path: str, to_path: str) -> str:
        """Move server-side (no download); returns the path Dropbox chose.

        ``autorename``: onto a name the destination already holds, Dropbox picks
        ``name (1).jpg`` rather than refusing, and says so in the reply.
        """
        result = self._call(
            "files/move_v2",
            lambda: self._sdk.files_move_v2(from_path, to_path, autorename=True),
            QUICK,
        )
        return str(result.metadata.path_display)

    def thumbnail(self, path: str, size: str) -> Thumbnail:
        """One thumbnail (``files/get_thumbnail_v2``): Dropbox converts, nothing is downloaded."""
        resource = sdk_files.PathOrLink.path(path)

        def fetch() -> Thumbnail:
            try:
                _, response = self._sdk.files_get_thumbnail_v2(
                    resource, sdk_files.ThumbnailFormat.jpeg, _size(size),
                    sdk_files.ThumbnailMode.strict,
                )  # fmt: skip
            except sdk_errors.ApiError as exc:
                refusal = _refusal(exc.error)
                if refusal is None:
                    raise
                return Thumbnail(None, refusal)
            try:
                return Thumbnail(bytes(response.content))
            finally:
                response.close()

        return self._call("files/get_thumbnail_v2", fetch, QUICK)

    def thumbnails(self, paths: Sequence[str], size: str) -> list[Thumbnail]:
        """Up to ``BATCH_THUMBNAILS`` thumbnails in one call (``files/get_thumbnail_batch``)."""
        if len(paths) > BATCH_THUMBNAILS:
            raise ValueError(f"at most {BATCH_THUMBNAILS} thumbnails per call")
        entries = [
            sdk_files.ThumbnailArg(
                path, sdk_files.ThumbnailFormat.jpeg, _size(size), sdk_files.ThumbnailMode.strict
            )
            for path in paths
        ]
        result = self._call(
            "files/get_thumbnail_batch", lambda: self._sdk.files_get_thumbnail_batch(entries), QUICK
        )
        return [_batch_thumbnail(entry) for entry in result.entries]

    def download_head(self, path: str, limit: int) -> bytes:
        """The first ``limit`` bytes of a file (a sidecar's caption); the rest is never read."""

        def fetch() -> bytes:
            _, response = self._sdk.files_download(path)
            head = bytearray()
            try:
                for chunk in response.iter_content(min(limit, _CHUNK)):
                    head += chunk
                    if len(head) >= limit:
                        break
            finally:
                response.close()
            return bytes(head[:limit])

        return self._call("files/download", fetch, QUICK)

    def download_hashes(self, path: str) -> DownloadedHashes:
        """Stream a file once, returning its SHA-256 and its content_hash."""

        def fetch() -> DownloadedHashes:
            _, response = self._sdk.files_download(path)
            whole, blocks, size = hashlib.sha256(), ContentHasher(), 0
            try:
                for chunk in response.iter_content(_CHUNK):
                    whole.update(chunk)
                    blocks.update(chunk)
                    size += len(chunk)
            finally:
                response.close()
            return DownloadedHashes(whole.hexdigest(), blocks.hexdigest(), size)

        return self._call("files/download", fetch)

    def current_account_id(self, quick: bool = False) -> str:
        """Whose credentials these are; ``quick``: one short try, for callers that go on."""
        route = "users/get_current_account"
        attempts = 1 if quick else None
        account = self._call(route, self._sdk.users_get_current_account, attempts)
        return str(account.account_id)

    # -- the retry loop -------------------------------------------------------------
    def _call(self, route: str, function: Callable[[], T], attempts: int | None = None) -> T:
        """``attempts``: fewer tries than the policy's, for calls a request waits on."""
        limit = min(attempts or self._retry.attempts, self._retry.attempts)
        attempt = 0
        while True:
            try:
                result = function()
                self._count(route, "ok")
                return result
            except sdk_errors.RateLimitError as exc:
                self._count(route, "429")
                wait = exc.backoff if exc.backoff is not None else self._retry.rate_limit_default
                reason = "rate_limit"
            except (sdk_errors.InternalServerError, requests.RequestException) as exc:
                self._count(route, _status_of(exc))
                wait, reason = self._retry.backoff(attempt), "unavailable"
            except sdk_errors.DropboxException as exc:
                self._count(route, _status_of(exc))
                error = _translate(route, exc)
                log.warning(
                    "dropbox %s failed: %s",
                    route,
                    error,
                    extra={"event": "dropbox_error", "route": route, "code": answer(error).code},
                )
                raise error from exc
            attempt += 1
            if attempt >= limit:
                raise DropboxUnavailable(f"{route} failed {attempt} times; giving up for now")
            self._wait(route, reason, wait)

    def _wait(self, route: str, reason: str, seconds: float) -> None:
        log.warning(
            "dropbox %s: %s; retrying in %.2f s",
            route,
            reason,
            seconds,
            extra={"event": "dropbox_retry", "route": route, "reason": reason},
        )
        if self._metrics:
            self._metrics.dropbox_retries.labels(reason).inc()
            self._metrics.dropbox_wait_seconds.inc(seconds)
        if self._stop.wait(seconds):
            raise DropboxUnavailable("stopping")

    def _count(self, route: str, status: str) -> None:
        if self._metrics:
            self._metrics.dropbox_calls.labels(route, status).inc()


def connection_pool(settings: Settings, connections: int = 8) -> requests.Session:
    """A pool of connections to Dropbox (the SDK's ``create_session``) or to
    ``DROPBOX_BASE_URL``. The service shares one among every account's client, as the SDK
    allows (each call carries its own account's token): with a thousand accounts it keeps
    the connections its calls use at once, not one or more an account, each opened (with
    TLS) and kept apart. ``connections``: how many may be in use at once, so that none is
    dropped on its way back to the pool."""
    if settings.dropbox_base_url:
        return base_url_session(settings.dropbox_base_url, pool_maxsize=connections)
    session: requests.Session = dropbox.create_session(max_connections=connections)
    return session


def _build_sdk(
    settings: Settings, timeout: float, refresh: SecretStr | None, session: requests.Session
) -> dropbox.Dropbox:
    secret = settings.dropbox_app_secret.get_secret_value() if settings.dropbox_app_secret else None
    access = None if refresh else settings.dropbox_access_token
    refresh = refresh or settings.dropbox_refresh_token
    return dropbox.Dropbox(
        oauth2_access_token=access.get_secret_value() if access else None,
        oauth2_refresh_token=refresh.get_secret_value() if refresh else None,
        app_key=settings.dropbox_app_key if refresh else None,
        app_secret=secret if refresh else None,
        session=session,
        max_retries_on_error=0,
        max_retries_on_rate_limit=0,
        timeout=timeout,
        user_agent="unposted/0.1",
    )


def _size(size: str) -> Any:
    if size not in THUMBNAIL_SIZES:
        raise ValueError(f"thumbnail size {size!r}: expected one of {', '.join(THUMBNAIL_SIZES)}")
    return getattr(sdk_files.ThumbnailSize, size)


def _batch_thumbnail(entry: Any) -> Thumbnail:
    if entry.is_success():
        return Thumbnail(base64.b64decode(entry.get_success().thumbnail))
    if entry.is_failure():
        return Thumbnail(None, _refusal(entry.get_failure()) or "other")
    return Thumbnail(None, "other")


def _refusal(error: Any) -> str | None:
    """Why a thumbnail was refused (``ThumbnailError`` or ``ThumbnailV2Error``), if it says."""
    for tag in REFUSALS:
        if getattr(error, f"is_{tag}", lambda: False)():
            return tag
    if getattr(error, "is_not_found", lambda: False)():
        return "not_found"
    if getattr(error, "is_path", lambda: False)():
        lookup = error.get_path()
        return "path/not_found" if _is_not_found(error) else f"path/{_union_tag(lookup)}"
    return None


def _union_tag(value: Any) -> str:
    for tag in ("malformed_path", "not_file", "not_folder", "restricted_content"):
        if getattr(value, f"is_{tag}", lambda: False)():
            return tag
    return "other"


def _status_of(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return str(status) if status is not None else type(exc).__name__.lower()


def _translate(route: str, exc: sdk_errors.DropboxException) -> DropboxError:
    """SDK errors to ours. Messages carry the route and Dropbox's summary, never tokens."""
    if isinstance(exc, sdk_errors.AuthError):
        return DropboxAuthError(f"{route}: Dropbox refused the credentials ({_summary(exc)})")
    if isinstance(exc, sdk_errors.ApiError):
        return _translate_api_error(route, exc)
    return DropboxError(f"{route}: {type(exc).__name__} ({_summary(exc)})")


def _translate_api_error(route: str, exc: sdk_errors.ApiError) -> DropboxError | Any:
    error = exc.error
    summary = exc.user_message_text or str(getattr(exc, "error", ""))
    if getattr(error, "is_reset", lambda: False)():
        return CursorReset(f"{route}: cursor reset by Dropbox")
    if route.startswith("files/list_folder") and getattr(error, "is_path", lambda: False)():
        return FolderNotFound(f"{route}: the folder is not there ({error.get_path()})")
    if _is_not_found(error):
        return FileNotFound(route)
    return DropboxError(f"{route}: {summary}")


def _is_not_found(error: Any) -> bool:
    for accessor in ("get_path", "get_from_lookup"):
        try:
            lookup = getattr(error, accessor)()
        except (AttributeError, TypeError):
            continue
        if getattr(lookup, "is_not_found", lambda: False)():
            return True
    return False


def _summary(exc: sdk_errors.DropboxException) -> str:
    return str(getattr(exc, "error", "") or type(exc).__name__)[:200]
