"""The composition root: what the lifespan builds, starts and stops.

``Runtime.build`` opens the store, brings the configured libraries and channels into
it, makes one Dropbox client per account, one sync worker (and webhook inbox) per
library, and the services the routes use. Only the app factory and the CLI import
this module; routes receive the pieces they need (``app.api.deps``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from app.configuration.environment import Settings
from app.configuration.file import Config, LibraryConfig
from app.dropbox.client import DropboxClient, RetryPolicy, connection_pool
from app.lanes import DROPBOX_THREADS, Lanes
from app.metrics import WAIT, CatalogGauge, Metrics
from app.services.captions import Captions
from app.services.disk_cache import DiskCache
from app.services.heif import HeifStandIn
from app.services.pictures import Pictures
from app.services.posted_state import LegacyImport, PostedHistory
from app.services.render import Renders
from app.services.rotation import RotationKeeper
from app.services.selection import SelectionService
from app.services.status import StatusReports
from app.services.thumbnails import Thumbnails
from app.services.webhooks import Deliverer
from app.sync.catch_up import CatchUp
from app.sync.fingerprints import Fingerprinter
from app.sync.rounds import Rounds
from app.sync.worker import SyncWorker
from state import casefold, open_store
from state.changes import FileKinds
from state.errors import UnpostedError
from state.store import CatalogSync, GraceExpired, NearDuplicates, Store
from webhooks.inbox import Inbox, Inboxes

log = logging.getLogger(__name__)
_LIBRARY_GAUGES = ("images", "unique_images", "skipped", "pending", "without_content_hash",
                   "fingerprinted", "unhashable", "awaiting_fingerprint")  # fmt: skip
_CHANNEL_GAUGES = ("available", "leased", "posted", "cycle", "near_duplicate_groups",
                   "near_duplicates_skipped", "awaiting_fingerprint", "waiting",
                   "retired")  # fmt: skip
PARALLEL_CATCH_UPS = 4  # SQLite: one writer, which more catch-ups at once would only queue for
# On a database server a catch-up of a few changes is a dozen round trips and a Dropbox call:
# it waits far more than it works, and a thousand libraries' notifications at once need
# many side by side (four at a time left a replica at 15 % of a core, bench.many_tenants).
SERVER_PARALLEL_CATCH_UPS = 16
HASHING_THREADS = 2  # every library's hashing passes: mostly waits for Dropbox thumbnails
SERVER_HASHING_THREADS = 8  # new content is offered once hashed: as many as catch-ups need
SERVER_STORE_THREADS = 16  # a database server's store lane (its pool has room for them)
RECLAIM_BATCH = 64  # a few milliseconds of the writer at a time: selections interleave
RECLAIM_EVERY_SECONDS = 1.0
GRACE_BATCH = 64
GRACE_NAMED = 5  # a burst past its grace is one line per batch, naming this many


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    config: Config
    store: Store
    metrics: Metrics
    lanes: Lanes
    dropbox: dict[str, DropboxClient]  # by account
    connections: requests.Session  # the clients' one pool of connections to Dropbox
    workers: dict[str, SyncWorker]  # by library
    inboxes: Inboxes
    selection: SelectionService
    legacy: LegacyImport
    posted: PostedHistory
    status: StatusReports
    stop_event: threading.Event
    thumbnails: Thumbnails
    pictures: Pictures
    fingerprinters: dict[str, Fingerprinter]  # by library
    catch_up_threads: ThreadPoolExecutor  # shared by the workers, each one job at a time
    hashing: Rounds  # the hashing workers' passes, on threads they share
    renders: Renders
    webhooks: Deliverer
    rotation: RotationKeeper

    @classmethod
    def build(
        cls,
        settings: Settings,
        config: Config,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Runtime:
        """``clock``: the time seasons are judged by (tests move it by hand)."""
        casefold.prepare()
        store = open_store(settings.state_dir, settings.database)
        for relisting in store.define(
            [library.spec for library in config.libraries.values()],
            [channel.spec for channel in config.channels.values()],
        ):
            log.warning(
                "library %s: the catalog was built from %s, the configuration says %s;"
                " listing from scratch (posted state kept)",
                relisting.library, relisting.was, relisting.now,
                extra={"event": "library_relisted", "library": relisting.library},
            )  # fmt: skip
        metrics, stop = Metrics(), threading.Event()
        server = settings.database is not None
        parallel = SERVER_PARALLEL_CATCH_UPS if server else PARALLEL_CATCH_UPS
        hashing_threads = SERVER_HASHING_THREADS if server else HASHING_THREADS
        # The workers' shared threads: the catch-ups the gate lets through, and room beside
        # them for short jobs (reading a library's state, asking Dropbox whose credentials).
        catch_up_threads = 2 * parallel
        # As many connections as calls may be made at once: the catch-ups' threads, the
        # hashing, the Dropbox and render lanes, and a longpoll a library (SYNC_MODE).
        calls = catch_up_threads + hashing_threads + DROPBOX_THREADS + settings.render_concurrency
        connections = connection_pool(settings, calls + len(config.libraries))
        dropbox = {
            library.spec.account: DropboxClient(
                settings, metrics, retry, stop, library.refresh_token, connections
            )
            for library in config.libraries.values()
        }
        cache = DiskCache(settings.cache_dir, settings.thumbnail_cache_mb * 1024 * 1024)
        hashing = Rounds(hashing_threads, "fingerprints")
        fingerprinters = _fingerprinters(config, store.near, dropbox, cache, metrics, stop, hashing)
        threads = ThreadPoolExecutor(catch_up_threads, thread_name_prefix="catch-up")
        workers = _workers(
            settings, config, store.catalog, dropbox, metrics, stop, fingerprinters, threads,
            asyncio.Semaphore(parallel),
        )  # fmt: skip
        inboxes = Inboxes([_inbox(worker) for worker in workers.values()])
        # PostgreSQL's calls wait on the server, side by side: a thread each, one call each.
        lanes = Lanes(SERVER_STORE_THREADS, store_batch=1) if settings.database else Lanes()

        def client(library: str) -> DropboxClient:
            return dropbox[config.libraries[library].spec.account]

        def catch_up(library: str) -> None:
            workers[library].request_threadsafe()

        thumbnails = Thumbnails(cache, lanes, client)
        rotation = RotationKeeper(config, store.browsing, lanes, clock)
        rotation.check_at_start()
        selection = SelectionService(
            config, store.selections, lanes, metrics, client, catch_up, settings.archive_folder,
            thumbnails, rotation.refused,
        )  # fmt: skip
        legacy = LegacyImport(
            config, catalog=store.catalog, legacy=store.legacy, posted=store.posted,
            metrics=metrics, dropbox=client, request_catch_up=catch_up,
        )  # fmt: skip
        pictures = Pictures(
            config, browsing=store.browsing, near=store.near, lanes=lanes,
            thumbnails=thumbnails, captions=Captions(cache, lanes, client),
        )  # fmt: skip
        renders = Renders(
            settings, config, lanes, metrics, client, _heif(settings, cache, fingerprinters)
        )
        readiness = functools.partial(unready_reasons, workers, store.catalog)
        runtime = cls(
            settings=settings, config=config, store=store, metrics=metrics, lanes=lanes,
            dropbox=dropbox, connections=connections, workers=workers, inboxes=inboxes,
            selection=selection,
            legacy=legacy, posted=PostedHistory(store.posted, store.selections, lanes),
            status=StatusReports(store.reports, lanes, metrics, readiness),
            stop_event=stop, thumbnails=thumbnails, pictures=pictures,
            fingerprinters=fingerprinters, catch_up_threads=threads, hashing=hashing,
            renders=renders,
            webhooks=Deliverer(settings, config, store.outbox, metrics, stop, lanes),
            rotation=rotation,
        )  # fmt: skip
        metrics.watch_catalog(runtime.catalog_gauges)
        return runtime

    async def start(self) -> None:
        await self._keep_seasons()  # before serving: nothing out of season is offered
        # Before serving too: no request waits for its channel's pool to be read (seconds
        # at a million images), nor any leasing request behind it (state.sqlite.warming).
        await asyncio.to_thread(self.store.warm)
        for worker in self.workers.values():
            await worker.start()
        self.store.catalog.watch_catch_ups(self._ring)
        if self.settings.near_duplicate_hashing:
            self.hashing.start()
            for fingerprinter in self.fingerprinters.values():
                fingerprinter.start()
        self.webhooks.start()
        self._reclaimer = asyncio.create_task(self._reclaim_forever(), name="reclaim leases")
        self._grace = asyncio.create_task(self._offer_overdue_forever(), name="fingerprint grace")

    async def stop(self) -> None:
        self._reclaimer.cancel()
        self._grace.cancel()
        await asyncio.gather(self._reclaimer, self._grace, return_exceptions=True)
        await self.thumbnails.close()
        await self.renders.close()
        for worker in self.workers.values():
            await worker.stop()
        self.catch_up_threads.shutdown(wait=False)
        self.stop_event.set()
        await asyncio.to_thread(self.webhooks.stop)
        await asyncio.to_thread(self.hashing.stop)
        self.lanes.close()
        self.connections.close()  # the clients' pool: they hold nothing else to close
        self.store.close()

    def _ring(self, library: str) -> None:
        """Another process may owe ``library`` a catch-up (any thread)."""
        worker = self.workers.get(library)
        if worker is not None:
            worker.ring_threadsafe()

    async def _reclaim_forever(self) -> None:
        """Return images whose lease ran out, or whose hold came to its end, to their
        pools, a bounded batch at a time; open and close seasons as the clock turns."""
        while True:
            await asyncio.sleep(RECLAIM_EVERY_SECONDS)
            await self._drain(self.store.selections.reclaim_expired, "reclaim expired leases")
            await self._drain(self.store.browsing.end_due_holds, "end holds whose time came")
            await self._keep_seasons()

    async def _drain(self, step: Callable[[int], int], what: str) -> None:
        """``step`` a batch at a time until it finds nothing more to do."""
        try:
            while await self.lanes.store.run(step, RECLAIM_BATCH):
                pass
        except UnpostedError as exc:
            log.warning("cannot %s now: %s", what, exc)

    async def _keep_seasons(self) -> None:
        try:
            await self.rotation.keep()
        except UnpostedError as exc:
            log.warning("cannot open or close seasons now: %s", exc)
        except Exception:  # a bug must not end the reclaiming beside it
            log.exception("opening or closing seasons failed")

    async def _offer_overdue_forever(self) -> None:
        """Offer the images whose wait for a fingerprint outlasted the grace period."""
        while True:
            await asyncio.sleep(RECLAIM_EVERY_SECONDS)
            try:
                while await self._offer_overdue():
                    pass
            except UnpostedError as exc:
                log.warning("cannot offer images past their fingerprint grace now: %s", exc)
            except Exception:  # a bug must not end the step for good
                log.exception("offering images past their fingerprint grace failed")

    async def _offer_overdue(self) -> int:
        """One batch of images past their grace period into their pools, each counted and
        logged once, in one line per channel (the wait ends as it is offered, so it is never
        found again)."""
        before = time.time() - self.settings.near_duplicate_grace_seconds
        offer = self.store.near.offer_unfingerprinted
        expired = await self.lanes.store.run(offer, before, GRACE_BATCH)
        by_channel: dict[str, list[GraceExpired]] = {}
        for image in expired:
            by_channel.setdefault(image.channel, []).append(image)
        for channel, images in by_channel.items():
            self.metrics.fingerprint_grace_expired.labels(channel).inc(len(images))
            named = [image.path or image.content_hash for image in images]
            shown = ", ".join(named[:GRACE_NAMED]) + (", ..." if len(named) > GRACE_NAMED else "")
            log.warning(
                "channel %s: offering %d picture(s) not fingerprinted after %.0f s: %s",
                channel, len(images), time.time() - min(i.since for i in images), shown,
                extra={"event": "fingerprint_grace_expired", "channel": channel,
                       "content_hashes": [image.content_hash for image in images]},
            )  # fmt: skip
        return len(expired)

    def catalog_gauges(self) -> Iterator[CatalogGauge]:
        config = self.config
        libraries, channels = self.store.reports.statuses(config.libraries, config.channels)
        for library, status in libraries.items():
            for state in _LIBRARY_GAUGES:
                yield "library", library, state, getattr(status, state)
        for channel, counts in channels.items():
            for state in _CHANNEL_GAUGES:
                yield "channel", channel, state, getattr(counts, state)
            since = counts.oldest_awaiting_since
            yield WAIT, channel, "", 0.0 if since is None else max(0.0, time.time() - since)


def unready_reasons(workers: dict[str, SyncWorker], catalog: CatalogSync) -> dict[str, str]:
    """Why each library's catalog cannot be trusted now; empty when all can. Blocking."""
    reasons = {}
    for name, worker in workers.items():
        problem = worker.health.problem()
        if catalog.sync_state(name).ready_at is None:
            waiting = "the first catch-up has not completed"
            reasons[name] = f"{waiting}; {problem}" if problem else waiting
        elif problem:
            reasons[name] = problem
    return reasons


def _heif(
    settings: Settings, cache: DiskCache, fingerprinters: dict[str, Fingerprinter]
) -> HeifStandIn:
    """HEIC's thumbnails and fingerprints from its rendered copy (``app.services.heif``)."""

    def fingerprint(library: str, content_hash: str, thumbnail: bytes) -> bool:
        return fingerprinters[library].fingerprint_rendered(content_hash, thumbnail)

    return HeifStandIn(cache, fingerprint if settings.near_duplicate_hashing else None)


def _inbox(worker: SyncWorker) -> Inbox:
    return Inbox(worker.request, lambda: worker.account_id)


def _workers(
    settings: Settings,
    config: Config,
    catalog: CatalogSync,
    dropbox: dict[str, DropboxClient],
    metrics: Metrics,
    stop: threading.Event,
    fingerprinters: dict[str, Fingerprinter],
    threads: ThreadPoolExecutor,
    gate: asyncio.Semaphore,
) -> dict[str, SyncWorker]:
    """One sync worker per library; ``gate`` bounds the catch-ups running at once."""
    kinds = FileKinds.of(settings.image_extensions, settings.sidecar_extensions)

    def worker(library: LibraryConfig) -> SyncWorker:
        client = dropbox[library.spec.account]
        catch_up = CatchUp(library.spec, kinds, catalog, client, metrics)
        caught_up = fingerprinters[library.name].request
        return SyncWorker(
            settings, catalog, client, catch_up, metrics, stop, gate, caught_up, threads
        )

    return {name: worker(library) for name, library in config.libraries.items()}


def _fingerprinters(
    config: Config,
    near: NearDuplicates,
    dropbox: dict[str, DropboxClient],
    cache: DiskCache,
    metrics: Metrics,
    stop: threading.Event,
    hashing: Rounds,
) -> dict[str, Fingerprinter]:
    """One hashing worker per library, searching as far as its widest channel groups."""

    def radius(library: str) -> int:
        distances = [c.spec.near_duplicate_distance for c in config.channels_of(library)]
        return max(distances, default=0)

    return {
        name: Fingerprinter(
            name,
            near,
            dropbox[library.spec.account],
            cache,
            metrics,
            radius(name),
            stop,
            hashing,
        )
        for name, library in config.libraries.items()
    }
