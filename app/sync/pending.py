"""Checking new images over 4 MiB against legacy posted state before they are offered.

A legacy ``posted.json`` digest of a file over 4 MiB does not map onto a content hash,
so such an image arriving while digests remain unmatched is held back as *pending*
(``state.rules.is_pending``). After each catch-up the worker downloads each pending
image once (its digest is remembered: never twice), and the store records it as
posted in the channels whose legacy state names it, or releases it to their pools.
"""

from __future__ import annotations

import logging

from app.dropbox.client import DropboxClient
from app.errors import DropboxError, FileNotFound
from app.metrics import Metrics
from state.store import CatalogSync

log = logging.getLogger(__name__)


def resolve_pending(
    library: str, store: CatalogSync, dropbox: DropboxClient, metrics: Metrics
) -> bool:
    """Download and settle every pending image of ``library``; False when Dropbox would not
    hand one out (it stays pending, and the caller tries again later)."""
    for image in store.pending_images(library):
        try:
            hashes = dropbox.download_hashes(image.path)
        except FileNotFound:
            continue  # gone since the catch-up; the next one drops it
        except DropboxError as exc:
            log.warning("cannot check %s against legacy state yet: %s", image.path, exc)
            return False
        metrics.legacy_downloads.labels(library).inc()
        if hashes.content_hash != image.content_hash:
            continue  # changed since the listing; the next catch-up brings the new content
        store.resolve_pending(library, image.content_hash, hashes.sha256)
        log.info(
            "checked %s against legacy posted state",
            image.path,
            extra={"event": "legacy_pending_resolved", "library": library, "size": image.size},
        )
    return True
