"""A channel's posted state as a whole: the legacy ``posted.json`` import, export and reset.

Digests of files up to 4 MiB match content hashes by arithmetic alone (``state.legacy``).
Only while some digests still match nothing are images over 4 MiB downloaded, each at
most once ever: its whole-file SHA-256 is remembered in the store, so a later import
never fetches it again. Downloads are counted in ``unposted_legacy_import_downloads``.
A malformed file raises ``InvalidInput`` before anything is read from Dropbox or
written; the import itself is one store transaction. The import is blocking (call it from
a thread); ``PostedHistory`` exports, resets and undoes a post in the store lane.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from app.configuration.file import Config
from app.errors import ConfigError, FileNotFound, NotReady
from app.lanes import Lanes
from state.legacy import (
    import_digests,
    lookup_hashes,
    parse_posted_json,
    plan_import,
    unmatched_digests,
)
from state.store import (
    CatalogSync,
    LegacyLookup,
    PostedExport,
    PostedState,
    Selections,
    UndonePost,
)

if TYPE_CHECKING:
    from app.dropbox.client import DownloadedHashes, DropboxClient
    from app.metrics import Metrics

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
    """Imports into one channel; blocking (store and Dropbox): call it from a thread."""

    def __init__(
        self,
        config: Config,
        *,
        catalog: CatalogSync,
        legacy: LegacyLookup,
        posted: PostedState,
        metrics: Metrics,
        dropbox: Callable[[str], DropboxClient | None],
        request_catch_up: Callable[[str], None] | None = None,
    ) -> None:
        """``request_catch_up``: images the import leaves pending are checked after one."""
        self._config, self._metrics, self._dropbox = config, metrics, dropbox
        self._catalog, self._legacy, self._posted = catalog, legacy, posted
        self._request_catch_up = request_catch_up

    def run(self, channel: str, raw: bytes | str) -> ImportReport:
        state = parse_posted_json(raw)
        library = self._config.channels[channel].library
        if self._catalog.sync_state(library).ready_at is None:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        digests = import_digests(state, self._posted.unresolved_digests(channel))
        in_catalog = self._legacy.catalog_hashes(library, lookup_hashes(digests))
        pending = unmatched_digests(digests, in_catalog)
        large, downloads = self._match_large(library, pending)
        plan = plan_import(digests, in_catalog, large)
        self._posted.import_posted(channel, plan.matches, plan.unresolved)
        if plan.unresolved and self._request_catch_up is not None:
            self._request_catch_up(library)  # an image listed meanwhile now waits: check it
        entries = len(state.hashes) + len(state.dropbox_content_hashes)
        report = ImportReport(entries, plan.matched, len(plan.unresolved), downloads)
        log.info(
            "legacy posted state imported: %s",
            report,
            extra={"event": "legacy_import_complete", **report.as_json()},
        )
        return report

    def _match_large(self, library: str, pending: set[str]) -> tuple[dict[str, str], int]:
        """``digest -> content_hash`` for images over 4 MiB, and how many were downloaded."""
        found = self._legacy.catalog_hashes_by_sha256(library, pending) if pending else {}
        remaining = pending - found.keys()
        downloads = 0
        for image in self._legacy.large_images_without_sha256(library) if remaining else ():
            if not remaining:
                break
            hashes = self._download(library, image.path)
            if hashes is None:
                continue
            downloads += 1
            if hashes.sha256 in remaining:
                found[hashes.sha256] = hashes.content_hash
                remaining.discard(hashes.sha256)
        return found, downloads

    def _download(self, library: str, path: str) -> DownloadedHashes | None:
        """Hash one image by downloading it; remember the result so it is never fetched again."""
        dropbox = self._dropbox(library)
        if dropbox is None:
            raise ConfigError("matching images over 4 MiB needs Dropbox credentials")
        try:
            hashes = dropbox.download_hashes(path)
        except FileNotFound:
            return None  # gone since the last catch-up: nothing to match
        self._metrics.legacy_downloads.labels(library).inc()
        # Remembered under the hash of the bytes read, in case the file changed since listing.
        self._legacy.remember_sha256(hashes.content_hash, hashes.sha256)
        log.info(
            "downloaded %s to match legacy digests",
            path,
            extra={"event": "legacy_import_download", "size": hashes.size},
        )
        return hashes


class PostedHistory:
    """A channel's posted state for the API: exported, reset, or a post undone, in the
    store lane."""

    def __init__(self, posted: PostedState, selections: Selections, lanes: Lanes) -> None:
        self._posted, self._selections, self._lanes = posted, selections, lanes

    async def export(self, channel: str) -> PostedExport:
        return await self._lanes.store.run(self._posted.export_posted, channel)

    async def reset(self, channel: str) -> PostedExport:
        """``reset_posted``: what was forgotten, to import back."""
        return await self._lanes.store.run(reset_posted, self._posted, channel)

    async def unpost(self, channel: str, content_hash: str, by: str) -> UndonePost:
        """Undo the post of the channel's current cycle (``by``: the token's name)."""
        return await self._lanes.store.run(unpost, self._selections, channel, content_hash, by)


def unpost(store: Selections, channel: str, content_hash: str, by: str) -> UndonePost:
    """Undo a post; the picture may be offered again in the channel (``NotPosted``: none)."""
    undone = store.unpost(channel, content_hash, by)
    log.info("post of %s undone in %s by %s", content_hash, channel, by, extra={
        "event": "post_undone", "channel": channel, "content_hash": content_hash,
        "cycle": undone.cycle, "posted_at": undone.posted_at, "undone_by": by,
    })  # fmt: skip
    return undone


def undone_json(channel: str, undone: UndonePost) -> dict[str, str | int]:
    """What ``DELETE /posted/{content_hash}`` answers."""
    return {
        "content_hash": undone.content_hash, "channel": channel, "cycle": undone.cycle,
        "posted_at": undone.posted_at, "undone_at": undone.undone_at,
        "undone_by": undone.undone_by,
    }  # fmt: skip


def reset_posted(store: PostedState, channel: str) -> PostedExport:
    """Forget everything the channel posted; returns what was forgotten, to import back."""
    cleared = store.reset_posted(channel)
    log.warning(
        "posted state of %s reset: %d content hashes forgotten",
        channel,
        len(cleared.dropbox_content_hashes),
        extra={"event": "posted_reset", "channel": channel,
               "cleared": len(cleared.dropbox_content_hashes)},
    )  # fmt: skip
    return cleared


def export_json(export: PostedExport) -> dict[str, list[str]]:
    """The publisher's ``posted.json`` format, extended with content hashes."""
    return {
        "hashes": list(export.hashes),
        "dropbox_content_hashes": list(export.dropbox_content_hashes),
    }
