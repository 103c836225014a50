"""Selecting, posting and releasing images: the domain service behind the HTTP API and CLI.

The store answers a selection from its indexes in one transaction; this module adds
what surrounds it: the readiness check, the optional temporary link (exactly one
Dropbox call, no download), the archive move after posting (server-side ``move_v2``,
then a catch-up so the catalog follows), metrics and the structured log events
``image_selection_start`` / ``image_selection_complete``. Every method blocks (SQLite,
and Dropbox for links and archives): callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.dropbox.client import DropboxClient
from app.errors import FileNotFound, InvalidInput, NotReady, RequestError, UnpostedError
from app.metrics import Metrics
from app.settings import Settings
from state.store import PostedExport, Selection, SelectRequest, Store

if TYPE_CHECKING:
    from app.runtime import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SelectOptions:
    """What a publisher asks for; ``lease_seconds`` None means ``LEASE_SECONDS``."""

    dry_run: bool = False
    name: str | None = None
    link: bool = False
    lease_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """A selection as handed to the publisher, with its temporary link if asked for."""

    selection: Selection
    temporary_link: str | None

    def as_json(self) -> dict[str, Any]:
        chosen, lease = self.selection, self.selection.lease
        return {
            "content_hash": chosen.content_hash,
            "id": chosen.id,
            "path": chosen.path,
            "name": chosen.name,
            "size": chosen.size,
            "rev": chosen.rev,
            "server_modified": chosen.server_modified,
            "sidecars": [{"path": ref.path, "name": ref.name} for ref in chosen.sidecars],
            "duplicates": list(chosen.duplicates),
            "lease": {"id": lease.id, "expires_at": lease.expires_at} if lease else None,
            "temporary_link": self.temporary_link,
            "posted_at": chosen.posted_at,
        }


@dataclass(frozen=True, slots=True)
class PostedReceipt:
    content_hash: str
    posted_at: str
    archived_to: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "content_hash": self.content_hash,
            "posted_at": self.posted_at,
            "archived_to": self.archived_to,
        }


class SelectionService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        dropbox: DropboxClient | None = None,
        request_catch_up: Callable[[], None] | None = None,
    ) -> None:
        self._settings, self._store, self._metrics = settings, store, metrics
        self._dropbox, self._request_catch_up = dropbox, request_catch_up

    @classmethod
    def from_services(cls, services: Services) -> SelectionService:
        return cls(
            services.settings,
            services.store,
            services.metrics,
            services.dropbox,
            services.sync.request_threadsafe,
        )

    # -- selecting ------------------------------------------------------------------
    def select(self, options: SelectOptions) -> Offer:
        started = time.perf_counter()
        log.info(
            "image selection started",
            extra={
                "event": "image_selection_start",
                "dry_run": options.dry_run,
                "by_name": options.name is not None,
                "policy": self._settings.select_policy,
            },
        )
        try:
            selection = self._store.select(self._request(options))
            link = self._link(selection) if options.link else None
        except UnpostedError as exc:
            self._finish(started, exc.code, None)
            raise
        self._finish(started, _outcome(selection, options), selection)
        return Offer(selection, link)

    def _request(self, options: SelectOptions) -> SelectRequest:
        return SelectRequest(
            policy=self._settings.select_policy,
            lease_seconds=options.lease_seconds or self._settings.lease_seconds,
            dry_run=options.dry_run,
            name=options.name,
            folder_lower=self._settings.dropbox_folder.lower(),
        )

    def _link(self, selection: Selection) -> str:
        """One ``get_temporary_link`` call; on failure the lease just taken is given back."""
        try:
            return self._require_dropbox().temporary_link(selection.path)
        except UnpostedError as exc:
            if selection.lease is not None:
                self._store.release(selection.lease.id)
            if isinstance(exc, FileNotFound):  # gone from Dropbox since the last catch-up
                self._catch_up_soon()
                raise FileNotFound(selection.path) from exc
            raise

    def _finish(self, started: float, outcome: str, selection: Selection | None) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.selections.labels(outcome).inc()
        self._metrics.selection_seconds.observe(elapsed)
        if selection is not None:
            self._metrics.selection_considered.inc()
            if selection.lease is not None:
                self._metrics.leases.labels("granted").inc()
        log.info(
            "image selection complete: %s",
            outcome,
            extra={
                "event": "image_selection_complete",
                "outcome": outcome,
                "ms": round(elapsed * 1000, 3),
                "considered": int(selection is not None),
                "downloads": 0,
                "content_hash": selection.content_hash if selection else None,
            },
        )

    # -- after the publisher has posted ---------------------------------------------
    def posted(
        self,
        content_hash: str,
        lease_id: str | None = None,
        sha256: str | None = None,
        archive: bool = False,
    ) -> PostedReceipt:
        """Record ``content_hash`` as posted (idempotent), then archive it if asked."""
        if archive and not self._settings.archive_folder:
            raise InvalidInput("archive needs ARCHIVE_FOLDER to be configured; nothing recorded")
        record = self._store.mark_posted(content_hash, lease_id, sha256)
        self._metrics.posted.inc()
        if lease_id is not None:
            self._metrics.leases.labels("posted").inc()
        archived_to = self._archive(content_hash) if archive else None
        log.info(
            "image posted: %s",
            content_hash,
            extra={
                "event": "image_posted",
                "content_hash": content_hash,
                "archived_to": archived_to,
            },
        )
        return PostedReceipt(record.content_hash, record.posted_at, archived_to)

    def release(self, lease_id: str) -> None:
        self._store.release(lease_id)
        self._metrics.leases.labels("released").inc()

    # -- the posted state as a whole ------------------------------------------------
    def export(self) -> PostedExport:
        return self._store.export_posted()

    def reset_posted(self) -> PostedExport:
        """Forget everything posted; returns what was forgotten, to import back if needed."""
        cleared = self._store.reset_posted()
        log.warning(
            "posted state reset: %d content hashes forgotten",
            len(cleared.dropbox_content_hashes),
            extra={"event": "posted_reset", "cleared": len(cleared.dropbox_content_hashes)},
        )
        return cleared

    def _archive(self, content_hash: str) -> str | None:
        """Move every path of this content, and its sidecars, into ``ARCHIVE_FOLDER``.

        Returns where the first image went. A path already gone (an earlier attempt, or
        a hand) is skipped, so retrying an archive that failed half-way completes it.
        """
        dropbox = self._require_dropbox()
        destinations: list[str] = []
        try:
            for path in self._store.archive_paths(content_hash):
                target = self.archive_path(path)
                try:
                    target = dropbox.move(path, target)
                except FileNotFound:
                    log.info("not archiving %s: already gone", path)
                destinations.append(target)
        finally:
            if destinations:  # even after a failure half-way, the catalog should follow
                self._catch_up_soon()
        return destinations[0] if destinations else None

    def archive_path(self, path: str) -> str:
        """Where ``path`` goes: the same place relative to the folder, under the archive."""
        folder = self._settings.dropbox_folder
        if path.lower().startswith(folder.lower() + "/"):
            relative = path[len(folder) + 1 :]
        else:
            relative = path.rsplit("/", 1)[-1]
        return f"{self._settings.archive_folder}/{relative}"

    def _catch_up_soon(self) -> None:
        if self._request_catch_up is not None:
            self._request_catch_up()

    def _require_dropbox(self) -> DropboxClient:
        if self._dropbox is None:
            raise RequestError("this command cannot call Dropbox")
        return self._dropbox


def require_ready(store: Store) -> None:
    """Refuse to answer from a catalog that the first catch-up has not filled yet."""
    if store.sync_state().ready_at is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")


def export_json(export: PostedExport) -> dict[str, list[str]]:
    """The publisher's ``posted.json`` format, extended with content hashes."""
    return {
        "hashes": list(export.hashes),
        "dropbox_content_hashes": list(export.dropbox_content_hashes),
    }


def _outcome(selection: Selection, options: SelectOptions) -> str:
    if selection.posted_at is not None:
        return "already_posted"
    return "preview" if options.dry_run else "selected"
