"""The client's exceptions: one per error code of the contract a publisher handles.

::

    UnpostedClientError           any failure: .code, .message, .status (None if unreachable)
    ├── NoImagesError             404 no_images: the folder holds no images
    ├── NoNewImagesError          404 no_new_images: every image is posted or leased
    ├── NotFoundError             404 not_found: no such image, name, channel or library
    │   └── NotPostedError        404 not_posted: no post of it in this cycle to undo
    ├── LeaseNotFoundError        404 lease_not_found: no such lease in this channel
    ├── LeaseConflictError        409 leased: the image is leased to another publisher
    ├── LeaseExpiredError         409 lease_expired: a lease that ran out cannot be renewed
    ├── HeldError                 409 held: the image is held out of selection
    ├── RenderRefusedError        415 unsupported_picture, 413 picture_too_large: the
    │                             picture cannot be rendered; .lease_id: it stays leased
    ├── InvalidRequestError       422 invalid_request: the service refused the arguments
    ├── UnauthorizedError         401 unauthorized, 403 forbidden: the token cannot do this
    ├── UnavailableError          503: the service cannot answer now (after any retries)
    │   ├── NotReadyError         503 not_ready: the first catch-up has not completed
    │   └── BusyError             503 busy: the database is held by a long write
    └── UnreachableError          the service did not answer (connection, timeout)
"""

from __future__ import annotations

import httpx


class UnpostedClientError(Exception):
    """A request to unposted failed; ``code`` is the contract's error code."""

    def __init__(self, code: str, message: str, status: int | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class NoImagesError(UnpostedClientError):
    pass


class NoNewImagesError(UnpostedClientError):
    """``retry_at``: when the next picture comes back (ISO 8601, UTC), when nothing is
    left only because pictures wait for the channel's ``repeat_after``; else None."""

    retry_at: str | None = None


class NotFoundError(UnpostedClientError):
    pass


class NotPostedError(NotFoundError):
    """The channel did not post the image in its current cycle: there is no post to undo."""


class LeaseNotFoundError(UnpostedClientError):
    pass


class LeaseConflictError(UnpostedClientError):
    pass


class LeaseExpiredError(UnpostedClientError):
    pass


class HeldError(UnpostedClientError):
    pass


class RenderRefusedError(UnpostedClientError):
    """The picture cannot be rendered for the channel (its format, its size). From
    ``select(render=True)``, the picture stays leased: ``lease_id`` and ``content_hash``
    say which, to post it as it is or release it."""

    lease_id: str | None = None
    content_hash: str | None = None


class InvalidRequestError(UnpostedClientError):
    pass


class UnauthorizedError(UnpostedClientError):
    pass


class UnavailableError(UnpostedClientError):
    pass


class NotReadyError(UnavailableError):
    pass


class BusyError(UnavailableError):
    pass


class UnreachableError(UnpostedClientError):
    pass


_BY_CODE: dict[str, type[UnpostedClientError]] = {
    "no_images": NoImagesError,
    "no_new_images": NoNewImagesError,
    "not_found": NotFoundError,
    "not_posted": NotPostedError,
    "lease_not_found": LeaseNotFoundError,
    "leased": LeaseConflictError,
    "lease_expired": LeaseExpiredError,
    "held": HeldError,
    "invalid_request": InvalidRequestError,
    "unauthorized": UnauthorizedError,
    "forbidden": UnauthorizedError,
    "not_ready": NotReadyError,
    "busy": BusyError,
    "unsupported_picture": RenderRefusedError,
    "picture_too_large": RenderRefusedError,
}


def error_from(response: httpx.Response) -> UnpostedClientError:
    """The exception for an error reply, by its ``error`` code (or its status)."""
    try:
        data = response.json()
        code, message = str(data["error"]), str(data["message"])
    except (ValueError, KeyError, TypeError):
        code, message = f"http_{response.status_code}", response.text[:200]
    kind = _BY_CODE.get(code)
    if kind is None:
        kind = _by_status(response.status_code)
    error = kind(code, message, response.status_code)
    if isinstance(error, NoNewImagesError):
        back = data.get("retry_at")
        error.retry_at = back if isinstance(back, str) else None
    if isinstance(error, RenderRefusedError):
        lease = data.get("lease") or {}
        error.lease_id, error.content_hash = lease.get("id"), data.get("content_hash")
    return error


def _by_status(status: int) -> type[UnpostedClientError]:
    if status in (401, 403):
        return UnauthorizedError
    if status == 503:
        return UnavailableError
    return UnpostedClientError


def unreachable(exc: httpx.HTTPError) -> UnreachableError:
    return UnreachableError("unreachable", str(exc) or type(exc).__name__, None)
