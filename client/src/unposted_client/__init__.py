"""unposted's HTTP client, for publishers: ``UnpostedClient`` and ``AsyncUnpostedClient``.

It depends on httpx alone and imports nothing of the service::

    with UnpostedClient("http://unposted:8000", token) as unposted:
        image = unposted.select(link=True)        # leased to this publisher
        publish(image.temporary_link, caption_from(image.sidecars))
        unposted.posted(image.content_hash, lease_id=image.lease_id, archive=True)

    async with AsyncUnpostedClient("http://unposted:8000", token) as unposted:
        image = await unposted.select()

Errors arrive as exceptions (the hierarchy is drawn in ``unposted_client._errors``);
``503 busy`` and ``503 not_ready`` are first retried as ``Retry-After`` says, within a
``RetryPolicy``.
"""

from unposted_client._async import AsyncUnpostedClient
from unposted_client._calls import RetryPolicy
from unposted_client._errors import (
    BusyError,
    HeldError,
    InvalidRequestError,
    LeaseConflictError,
    LeaseExpiredError,
    LeaseNotFoundError,
    NoImagesError,
    NoNewImagesError,
    NotFoundError,
    NotPostedError,
    NotReadyError,
    RenderRefusedError,
    UnauthorizedError,
    UnavailableError,
    UnpostedClientError,
    UnreachableError,
)
from unposted_client._models import (
    Delivery,
    HistoryEntry,
    HistoryPage,
    Hold,
    Image,
    ImagePage,
    ImportReport,
    Lease,
    LeaseInfo,
    Match,
    PostedExport,
    PostedReceipt,
    Rendered,
    Selection,
    ServiceStatus,
    Sidecar,
    UndonePost,
)
from unposted_client._sync import UnpostedClient

__all__ = [
    "AsyncUnpostedClient",
    "BusyError",
    "Delivery",
    "HeldError",
    "HistoryEntry",
    "HistoryPage",
    "Hold",
    "Image",
    "ImagePage",
    "ImportReport",
    "InvalidRequestError",
    "Lease",
    "LeaseConflictError",
    "LeaseExpiredError",
    "LeaseInfo",
    "LeaseNotFoundError",
    "Match",
    "NoImagesError",
    "NoNewImagesError",
    "NotFoundError",
    "NotPostedError",
    "NotReadyError",
    "PostedExport",
    "PostedReceipt",
    "RetryPolicy",
    "RenderRefusedError",
    "Rendered",
    "Selection",
    "ServiceStatus",
    "Sidecar",
    "UndonePost",
    "UnauthorizedError",
    "UnavailableError",
    "UnpostedClient",
    "UnpostedClientError",
    "UnreachableError",
]
