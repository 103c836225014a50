"""``UnpostedClient``: the typed HTTP client a publisher imports to talk to unposted.

It needs only httpx, and imports nothing else from the service, so a publisher can use
it from any codebase (or copy this one file)::

    with UnpostedClient("http://unposted:8000", token) as unposted:
        image = unposted.select(link=True)        # leased to this publisher
        publish(image.temporary_link, caption_from(image.sidecars))
        unposted.posted(image.content_hash, lease_id=image.lease_id, archive=True)

The contract's errors arrive as exceptions::

    UnpostedClientError           any failure: .code, .message, .status (None if unreachable)
    ├── NoImagesError             404 no_images: the folder holds no images
    ├── NoNewImagesError          404 no_new_images: every image is posted or leased
    ├── NotFoundError             404 not_found: ``name`` matches no image
    ├── LeaseNotFoundError        404 lease_not_found: no such lease to release
    ├── LeaseConflictError        409 leased: the image is leased to another publisher
    ├── NotReadyError             503 not_ready: the first catch-up has not completed
    ├── UnauthorizedError         401: missing or wrong API token
    └── UnreachableError          the service did not answer (connection, timeout)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = [
    "Lease",
    "LeaseConflictError",
    "LeaseNotFoundError",
    "NoImagesError",
    "NoNewImagesError",
    "NotFoundError",
    "NotReadyError",
    "PostedReceipt",
    "Selection",
    "ServiceStatus",
    "Sidecar",
    "UnauthorizedError",
    "UnpostedClient",
    "UnpostedClientError",
    "UnreachableError",
]


class UnpostedClientError(Exception):
    """A request to unposted failed; ``code`` is the contract's error code."""

    def __init__(self, code: str, message: str, status: int | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class NoImagesError(UnpostedClientError):
    pass


class NoNewImagesError(UnpostedClientError):
    pass


class NotFoundError(UnpostedClientError):
    pass


class LeaseNotFoundError(UnpostedClientError):
    pass


class LeaseConflictError(UnpostedClientError):
    pass


class NotReadyError(UnpostedClientError):
    pass


class UnauthorizedError(UnpostedClientError):
    pass


class UnreachableError(UnpostedClientError):
    pass


_ERRORS: dict[str, type[UnpostedClientError]] = {
    "no_images": NoImagesError,
    "no_new_images": NoNewImagesError,
    "not_found": NotFoundError,
    "lease_not_found": LeaseNotFoundError,
    "leased": LeaseConflictError,
    "not_ready": NotReadyError,
    "unauthorized": UnauthorizedError,
}


@dataclass(frozen=True, slots=True)
class Sidecar:
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class Selection:
    """An image to publish; ``duplicates`` are other paths holding the same content."""

    content_hash: str
    id: str
    path: str
    name: str
    size: int
    rev: str
    server_modified: str
    sidecars: tuple[Sidecar, ...]
    duplicates: tuple[str, ...]
    lease: Lease | None
    temporary_link: str | None

    @property
    def lease_id(self) -> str | None:
        return self.lease.id if self.lease else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        lease = data.get("lease")
        return cls(
            content_hash=data["content_hash"],
            id=data["id"],
            path=data["path"],
            name=data["name"],
            size=data["size"],
            rev=data["rev"],
            server_modified=data["server_modified"],
            sidecars=tuple(Sidecar(s["path"], s["name"]) for s in data.get("sidecars", ())),
            duplicates=tuple(data.get("duplicates", ())),
            lease=Lease(lease["id"], lease["expires_at"]) if lease else None,
            temporary_link=data.get("temporary_link"),
        )


@dataclass(frozen=True, slots=True)
class PostedReceipt:
    content_hash: str
    posted_at: str
    archived_to: str | None


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    images: int
    unique_images: int
    available: int
    leased: int
    posted: int
    last_sync_at: str | None
    syncing: bool
    cursor: bool


class UnpostedClient:
    """One connection pool to one unposted service; use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def select(
        self,
        dry_run: bool = False,
        name: str | None = None,
        link: bool = False,
        lease_seconds: int | None = None,
    ) -> Selection:
        """A never-posted image, leased unless ``dry_run``; raises when there is none."""
        body = {"dry_run": dry_run, "name": name, "link": link, "lease_seconds": lease_seconds}
        return Selection.from_json(self._call("POST", "/select", body))

    def posted(
        self,
        content_hash: str,
        lease_id: str | None = None,
        sha256: str | None = None,
        archive: bool = False,
    ) -> PostedReceipt:
        """Record the image as posted (idempotent), optionally archiving it."""
        body: dict[str, Any] = {"content_hash": content_hash, "archive": archive}
        if lease_id is not None:
            body["lease_id"] = lease_id
        if sha256 is not None:
            body["sha256"] = sha256
        data = self._call("POST", "/posted", body)
        return PostedReceipt(data["content_hash"], data["posted_at"], data.get("archived_to"))

    def release(self, lease_id: str) -> None:
        """Give a leased image back: the publisher did not post it."""
        self._call("POST", "/release", {"lease_id": lease_id})

    def status(self) -> ServiceStatus:
        data = self._call("GET", "/status")
        fields = ServiceStatus.__dataclass_fields__
        return ServiceStatus(**{name: data[name] for name in fields})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise UnreachableError("unreachable", str(exc) or type(exc).__name__, None) from exc
        if response.is_success:
            return response.json() if response.content else None
        raise _error(response)


def _error(response: httpx.Response) -> UnpostedClientError:
    try:
        data = response.json()
        code, message = str(data["error"]), str(data["message"])
    except (ValueError, KeyError, TypeError):
        code, message = f"http_{response.status_code}", response.text[:200]
    kind = _ERRORS.get(code, UnpostedClientError)
    return kind(code, message, response.status_code)
