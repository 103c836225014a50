"""Selecting, posting and releasing images in a channel: the service behind the API and CLI.

The store answers a selection from its indexes in one transaction (SQLite: from its
pools in memory, a leasing one through its group commit, awaited here without holding a
thread); this module adds
what surrounds it: the optional temporary link (exactly one Dropbox call, no
download), the archive move after posting (server-side ``move_v2``, then a catch-up so
the catalog follows), metrics and the log events ``image_selection_start`` /
``image_selection_complete``. Store calls run in the store lane and Dropbox calls in
the Dropbox lane (``app.lanes``): the event loop never waits on either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NotRequired, Protocol, runtime_checkable

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads a TypedDict from here before 3.12

from app.answers import Answers
from app.configuration.file import Config
from app.errors import (
    ArchiveNotAllowed,
    ChannelMisconfigured,
    DropboxError,
    FileNotFound,
    InvalidInput,
    NotReady,
    UnpostedError,
    answer,
)
from app.lanes import Lanes
from app.services.thumbnails import FINGERPRINT_SIZE, Thumbnails
from state.casefold import fold
from state.store import LeaseInfo, NamedLease, PostedRecord, Selection, Selections, SelectRequest

if TYPE_CHECKING:
    from app.dropbox.client import DropboxClient
    from app.metrics import Metrics

log = logging.getLogger(__name__)

PostedLease = Literal["ended", "expired", "released", "not_found"]
_POSTED_LEASE: dict[NamedLease, PostedLease] = {
    "active": "ended", "posted": "ended", "expired": "expired",
    "released": "released", "not_found": "not_found",
}  # fmt: skip


@runtime_checkable
class GroupCommitted(Protocol):
    """A store answering a leasing selection once the commit holding its lease is done
    (``state.sqlite.group_commit``)."""

    def select_soon(self, channel: str, request: SelectRequest) -> Future[Selection]: ...


@dataclass(frozen=True, slots=True)
class SelectOptions:
    """What a publisher asks for; ``lease_seconds`` None means the channel's own."""

    dry_run: bool = False
    name: str | None = None
    link: bool = False
    lease_seconds: int | None = None


_CLOSED = ConfigDict(extra="forbid")  # the document says ``additionalProperties: false``


@with_config(_CLOSED)
class FileRefReply(TypedDict):
    path: str
    name: str


@with_config(_CLOSED)
class LeaseReply(TypedDict):
    id: str
    expires_at: str


@with_config(_CLOSED)
class NearDuplicateReply(TypedDict):
    """Another picture of the same group in the channel: ``distance`` bits of 256 apart."""

    content_hash: str
    path: str
    distance: int


@with_config(_CLOSED)
class RenderedReply(TypedDict):
    """The picture in the channel's render profile (``/select`` with ``render``): ``url``
    is signed for the lease and needs no token while the lease is active."""

    url: str
    width: int
    height: int
    format: str
    bytes: int


@with_config(_CLOSED)
class SelectReply(TypedDict):
    """An image (``/select``); ``lease`` null on a preview or an image already posted;
    ``rendered`` only with ``render`` (null for a channel without a render profile)."""

    content_hash: str
    id: str
    path: str
    name: str
    size: int
    rev: str
    server_modified: str
    sidecars: list[FileRefReply]
    duplicates: list[str]
    near_duplicates: list[NearDuplicateReply]
    lease: LeaseReply | None
    temporary_link: str | None
    posted_at: str | None
    rendered: NotRequired[RenderedReply | None]


@dataclass(frozen=True, slots=True)
class Offer:
    """A selection as handed to the publisher, with its temporary link if asked for.

    ``as_json`` is its reply, ``SelectReply``: one definition, checked by the type checker
    where the reply is built and describing it in the OpenAPI document (``app.api.replies``).
    """

    selection: Selection
    temporary_link: str | None

    def as_json(self) -> SelectReply:
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
            "near_duplicates": [
                {"content_hash": n.content_hash, "path": n.path, "distance": n.distance}
                for n in chosen.near_duplicates
            ],
            "lease": {"id": lease.id, "expires_at": lease.expires_at} if lease else None,
            "temporary_link": self.temporary_link,
            "posted_at": chosen.posted_at,
        }


@dataclass(frozen=True, slots=True)
class PostedReceipt:
    """A recorded post. ``lease``: what became of the lease named with it; ``archive_error``:
    why the archive move failed, when it did (the post stands either way)."""

    content_hash: str
    posted_at: str
    archived_to: str | None
    lease: PostedLease | None
    archive_error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "content_hash": self.content_hash,
            "posted_at": self.posted_at,
            "archived_to": self.archived_to,
            "lease": self.lease,
            "archive_error": self.archive_error,
        }


def lease_json(info: LeaseInfo) -> dict[str, str]:
    return {
        "id": info.id,
        "channel": info.channel,
        "content_hash": info.content_hash,
        "expires_at": info.expires_at,
        "state": info.state,
    }


class SelectionService:
    def __init__(
        self,
        config: Config,
        store: Selections,
        lanes: Lanes,
        metrics: Metrics,
        dropbox: Callable[[str], DropboxClient] | None = None,
        request_catch_up: Callable[[str], None] | None = None,
        archive_folder: str | None = None,
        thumbnails: Thumbnails | None = None,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        """``refused``: channels that may not select, and why (``app.services.rotation``)."""
        self._config, self._store, self._lanes, self._metrics = config, store, lanes, metrics
        self._refused = {} if refused is None else refused
        self._dropbox, self._request_catch_up = dropbox, request_catch_up
        self._archive_folder, self._thumbnails = archive_folder, thumbnails
        self._answers: Answers | None = None

    # -- selecting ------------------------------------------------------------------
    async def select(self, channel: str, options: SelectOptions) -> Offer:
        started = time.perf_counter()
        level = logging.DEBUG if options.dry_run else logging.INFO
        log.debug("image selection started", extra={
            "event": "image_selection_start", "channel": channel,
            "dry_run": options.dry_run, "by_name": options.name is not None,
        })  # fmt: skip
        try:
            selection = await self._selection(channel, self._request(channel, options))
            link = await self._link(channel, selection) if options.link else None
        except UnpostedError as exc:
            self._finish(channel, started, answer(exc).code, None, level)
            raise
        self._finish(channel, started, _outcome(selection, options), selection, level)
        return Offer(selection, link)

    async def preview(self, channel: str) -> Selection:
        """What ``select`` would hand out now: nothing leased, no selection counted."""
        request = self._request(channel, SelectOptions(dry_run=True))
        return await self._lanes.store.run(self._store.select, channel, request)

    async def _selection(self, channel: str, request: SelectRequest) -> Selection:
        """A store that commits leases as a group is awaited without holding a thread of
        the store lane, so that every lease pending at once can share one commit."""
        if not request.dry_run and isinstance(self._store, GroupCommitted):
            loop = asyncio.get_running_loop()
            if self._answers is None or self._answers.loop is not loop:
                self._answers = Answers(loop)
            return await self._answers.wait(self._store.select_soon(channel, request))
        return await self._lanes.store.run(self._store.select, channel, request)

    def _request(self, channel: str, options: SelectOptions) -> SelectRequest:
        if channel in self._refused:
            raise ChannelMisconfigured(self._refused[channel])
        default = self._config.channels[channel].spec.lease_seconds
        return SelectRequest(options.lease_seconds or default, options.dry_run, options.name)

    async def _link(self, channel: str, selection: Selection) -> str:
        """One ``get_temporary_link`` call; on failure the lease just taken is given back."""
        library = self._config.channels[channel].library
        try:
            return await self._lanes.dropbox.run(
                self._require_dropbox(library).temporary_link, selection.path
            )
        except UnpostedError as exc:
            if selection.lease is not None:
                await self._lanes.store.run(self._store.release, channel, selection.lease.id)
            if isinstance(exc, FileNotFound):  # gone from Dropbox since the last catch-up
                self._catch_up_soon(library)
                raise FileNotFound(selection.path) from exc
            raise

    def _finish(
        self, channel: str, started: float, outcome: str, chosen: Selection | None, level: int
    ) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.selections.labels(channel, outcome).inc()
        self._metrics.selection_seconds.observe(elapsed)
        if chosen is not None:
            self._metrics.selection_considered.labels(channel).inc()
            if chosen.lease is not None:
                self._metrics.leases.labels(channel, "granted").inc()
        log.log(level, "image selection complete: %s", outcome, extra={
            "event": "image_selection_complete", "channel": channel, "outcome": outcome,
            "ms": round(elapsed * 1000, 3), "considered": int(chosen is not None),
            "downloads": 0, "content_hash": chosen.content_hash if chosen else None,
        })  # fmt: skip

    # -- leases ---------------------------------------------------------------------
    async def release(self, channel: str, lease_id: str) -> None:
        await self._lanes.store.run(self._store.release, channel, lease_id)
        self._metrics.leases.labels(channel, "released").inc()

    async def renew(self, channel: str, lease_id: str, seconds: int | None) -> LeaseInfo:
        seconds = seconds or self._config.channels[channel].spec.lease_seconds
        info = await self._lanes.store.run(self._store.renew, channel, lease_id, seconds)
        self._metrics.leases.labels(channel, "renewed").inc()
        return info

    async def lease(self, channel: str, lease_id: str) -> LeaseInfo:
        return await self._lanes.store.run(self._store.lease_info, channel, lease_id)

    async def lease_link(self, channel: str, info: LeaseInfo) -> str:
        """A fresh temporary link to a leased image, wherever it is now: a lease can outlive
        the link handed out with it (Dropbox's last four hours)."""
        library = self._config.channels[channel].library
        paths = await self._lanes.store.run(self._store.archive_paths, library, info.content_hash)
        if not paths:  # the lease outlived every copy of its image
            raise FileNotFound(info.content_hash)
        dropbox = self._require_dropbox(library)
        return await self._lanes.dropbox.run(dropbox.temporary_link, paths[0])

    # -- after the publisher has posted ---------------------------------------------
    async def posted(
        self,
        channel: str,
        content_hash: str,
        lease_id: str | None = None,
        sha256: str | None = None,
        archive: bool = False,
        operator: bool = False,
    ) -> PostedReceipt:
        """Record ``content_hash`` as posted (idempotent), then archive it if asked.

        ``operator``: asked with the operator's token, which may always archive; a channel's
        token may only where its channel has the right (``archive`` in its table)."""
        if archive and not (operator or self._config.channels[channel].archive):
            raise ArchiveNotAllowed(
                f"channel {channel} may not archive: it would take the picture from every"
                " channel of its library; post without archive (nothing was recorded)"
            )
        if archive and not self._archive_folder:
            raise InvalidInput("archive needs ARCHIVE_FOLDER to be configured; nothing recorded")
        record = await self._lanes.store.run(
            self._store.mark_posted, channel, content_hash, lease_id, sha256
        )
        self._count_post(channel, record)
        archived_to, problem = (
            await self._archive(channel, content_hash) if archive else (None, None)
        )
        log.info("image posted: %s", content_hash, extra={
            "event": "image_posted", "channel": channel, "content_hash": content_hash,
            "archived_to": archived_to, "archive_error": problem, "lease": record.lease,
        })  # fmt: skip
        lease = None if record.lease is None else _POSTED_LEASE[record.lease]
        return PostedReceipt(record.content_hash, record.posted_at, archived_to, lease, problem)

    def _count_post(self, channel: str, record: PostedRecord) -> None:
        self._metrics.posted.labels(channel).inc()
        if record.lease in ("active", "expired"):
            self._metrics.leases.labels(channel, "posted").inc()

    async def _archive(self, channel: str, content_hash: str) -> tuple[str | None, str | None]:
        """Move every path of this content, and its sidecars, into ``ARCHIVE_FOLDER``.

        Returns where the first image went, and what went wrong if something did. A path
        already gone (an earlier attempt, or a hand) is skipped, so retrying an archive
        that failed half-way completes it. The post is recorded whatever happens here.
        Before the move, the archive path is recorded for the hashing worker: content not
        fingerprinted yet is fingerprinted there once the library no longer holds it.
        """
        library = self._config.channels[channel].library
        destinations: list[str] = []
        try:
            paths = await self._lanes.store.run(self._store.archive_paths, library, content_hash)
            waits = bool(paths) and await self._before_the_move(library, content_hash, paths[0])
            for path in paths:
                destinations.append(await self._move(library, path))
                if waits and len(destinations) == 1:
                    await self._after_the_move(library, content_hash, path, destinations[0])
        except (DropboxError, NotReady) as exc:  # NotReady: the catalog is being listed afresh
            self._metrics.archive_failures.inc()
            code = answer(exc).code
            log.warning("archiving %s failed: %s", content_hash, exc,
                        extra={"event": "archive_failed", "code": code})  # fmt: skip
            problem = f"the post is recorded, but moving it to the archive failed ({code})"
            return (destinations[0] if destinations else None), problem
        finally:
            if destinations:  # even after a failure half-way, the catalog should follow
                self._catch_up_soon(library)
        return (destinations[0] if destinations else None), None

    async def _before_the_move(self, library: str, content_hash: str, path: str) -> bool:
        """Content not fingerprinted yet is fingerprinted where it goes, and its thumbnail
        is taken now, while it is where the catalog says (the hashing worker reads the
        cache first); if Dropbox does not make it now, the archive path serves later.
        True when the content waits for its fingerprint."""
        target = self.archive_path(library, path)
        waits = await self._lanes.store.run(
            self._store.fingerprint_elsewhere, library, content_hash, target
        )
        if waits and self._thumbnails is not None:
            try:
                await self._thumbnails.get(library, content_hash, path, FINGERPRINT_SIZE)
            except UnpostedError as exc:
                log.info("no thumbnail of %s before archiving it: %s", path, exc)
        return waits

    async def _after_the_move(
        self, library: str, content_hash: str, path: str, destination: str
    ) -> None:
        """Dropbox chose another name (the archive held one): fingerprint it there."""
        if destination != self.archive_path(library, path):
            await self._lanes.store.run(
                self._store.fingerprint_elsewhere, library, content_hash, destination
            )

    async def _move(self, library: str, path: str) -> str:
        dropbox = self._require_dropbox(library)
        target = self.archive_path(library, path)
        try:
            return await self._lanes.dropbox.run(dropbox.move, path, target)
        except FileNotFound:
            log.info("not archiving %s: already gone", path)
            return target

    def archive_path(self, library: str, path: str) -> str:
        """Where ``path`` goes: the same place relative to the folder, under the archive."""
        folder = self._config.libraries[library].spec.folder
        if fold(path).startswith(fold(folder) + "/"):  # fold keeps lengths: one char each
            relative = path[len(folder) + 1 :]
        else:
            relative = path.rsplit("/", 1)[-1]
        return f"{self._archive_folder}/{relative}"

    def _catch_up_soon(self, library: str) -> None:
        if self._request_catch_up is not None:
            self._request_catch_up(library)

    def _require_dropbox(self, library: str) -> DropboxClient:
        if self._dropbox is None:
            raise InvalidInput("this command cannot call Dropbox")
        return self._dropbox(library)


def _outcome(selection: Selection, options: SelectOptions) -> str:
    if selection.posted_at is not None:
        return "already_posted"
    return "preview" if options.dry_run else "selected"
