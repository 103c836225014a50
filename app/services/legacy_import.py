"""Importing the publisher's legacy ``posted.json``: parse, match, then one atomic write.

Digests of files up to 4 MiB match content hashes by arithmetic alone (``state.legacy``).
Only while some digests still match nothing are images over 4 MiB downloaded, each at
most once ever: its whole-file SHA-256 is remembered in the store, so a later import
never fetches it again. Downloads are counted in ``unposted_legacy_import_downloads``.
A malformed file raises ``InvalidInput`` before anything is read from Dropbox or
written; the import itself is one store transaction. Blocking: call from a thread.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from app.dropbox.client import DownloadedHashes, DropboxClient
from app.errors import ConfigError, FileNotFound
from app.metrics import Metrics
from app.runtime import Services
from app.services.selection import require_ready
from state.legacy import (
    lookup_hashes,
    parse_posted_json,
    plan_import,
    unmatched_digests,
)
from state.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """``imported``: distinct entries in the file; ``matched``: images in the folder now
    marked posted; ``unresolved``: digests still matching no image (kept and exported);
    ``downloads``: images over 4 MiB downloaded to match digests."""

    imported: int
    matched: int
    unresolved: int
    downloads: int

    def as_json(self) -> dict[str, int]:
        return asdict(self)


class LegacyImport:
    def __init__(self, store: Store, metrics: Metrics, dropbox: DropboxClient | None) -> None:
        self._store, self._metrics, self._dropbox = store, metrics, dropbox

    @classmethod
    def from_services(cls, services: Services) -> LegacyImport:
        return cls(services.store, services.metrics, services.dropbox)

    def run(self, raw: bytes | str) -> ImportReport:
        state = parse_posted_json(raw)
        require_ready(self._store)
        earlier = self._store.unresolved_digests()
        in_catalog = self._store.catalog_hashes(lookup_hashes(state, earlier))
        large, downloads = self._match_large(unmatched_digests(state, in_catalog, earlier))
        plan = plan_import(state, in_catalog, large, earlier)
        self._store.import_posted(plan.matches, plan.unresolved)
        entries = len(state.hashes) + len(state.dropbox_content_hashes)
        report = ImportReport(entries, plan.matched, len(plan.unresolved), downloads)
        log.info(
            "legacy posted state imported: %s",
            report,
            extra={"event": "legacy_import_complete", **report.as_json()},
        )
        return report

    def _match_large(self, pending: set[str]) -> tuple[dict[str, str], int]:
        """``digest -> content_hash`` for images over 4 MiB, and how many were downloaded."""
        found = self._store.catalog_hashes_by_sha256(pending) if pending else {}
        remaining = pending - found.keys()
        downloads = 0
        for image in self._store.large_images_without_sha256() if remaining else ():
            if not remaining:
                break
            hashes = self._download(image.path)
            if hashes is None:
                continue
            downloads += 1
            if hashes.sha256 in remaining:
                found[hashes.sha256] = hashes.content_hash
                remaining.discard(hashes.sha256)
        return found, downloads

    def _download(self, path: str) -> DownloadedHashes | None:
        """Hash one image by downloading it; remember the result so it is never fetched again."""
        if self._dropbox is None:
            raise ConfigError("matching images over 4 MiB needs Dropbox credentials")
        try:
            hashes = self._dropbox.download_hashes(path)
        except FileNotFound:
            return None  # gone since the last catch-up: nothing to match
        self._metrics.legacy_downloads.inc()
        # Remembered under the hash of the bytes read, in case the file changed since listing.
        self._store.remember_sha256(hashes.content_hash, hashes.sha256)
        log.info(
            "downloaded %s to match legacy digests",
            path,
            extra={"event": "legacy_import_download", "size": hashes.size},
        )
        return hashes
