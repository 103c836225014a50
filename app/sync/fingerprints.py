"""The hashing worker of one library: a fingerprint for every new content, in the background.

After each catch-up (and every ``IDLE_SECONDS`` regardless) it walks the library's
backlog (``NearDuplicates.fingerprint_backlog``) 25 contents at a time. For each batch it
takes the thumbnails the console has cached already and asks Dropbox for the rest in one
``files/get_thumbnail_batch`` call (never the files), hashes them
(``app.services.perceptual``), finds each one's neighbours in the library's index
(``state.neighbours``) and records the batch in one short transaction, which groups them
in every channel. Content that waits only to be grouped again (another distance) needs
no thumbnail at all.

Its passes run on the hashing threads that every library shares (``app.sync.rounds``),
outside the lanes the requests use, and write nothing while a catch-up is in flight
beyond what a selection would: so neither waits on it.
A thumbnail Dropbox refuses for good (a format it does not convert, a file over its
limit) leaves the content unhashed and never grouped; one refused for now (the file
moved since the catch-up) stays on the backlog for the next pass. Failures back off.

Content a post archived before it was hashed is fingerprinted at the archive path the post
recorded (``NearDuplicates.fingerprint_elsewhere``), so a posted picture keeps its
near-duplicates out whichever came first. Posted content gone from Dropbox before it was
hashed (not in the library, nor at its archive path) is recorded as such and counted
(``unposted_posted_unfingerprinted``): nothing can be compared with it any more.

Dropbox makes no thumbnail of HEIC: such content is recorded unhashable, until a channel
renders it (``app.services.render``); its fingerprint then comes from the rendered copy
(``fingerprint_rendered``), and is grouped as any other.

With replicas (PostgreSQL), every replica's worker looks at the shared backlog, and a
pass runs only inside the library's hashing turn (``NearDuplicates.hashing_turn``), one
replica at a time: no thumbnail is asked for twice. A worker that finds the turn taken
leaves the backlog to its holder, which looks again once its turn has ended for content
added meanwhile. The turn says how many fingerprints the library holds: an index that
holds fewer missed what another replica recorded, and is loaded again before grouping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.dropbox.client import DropboxClient
from app.dropbox.thumbnail import BATCH_THUMBNAILS, Thumbnail
from app.errors import UnpostedError
from app.metrics import Metrics
from app.services.disk_cache import DiskCache
from app.services.thumbnails import FINGERPRINT_SIZE
from app.sync.rounds import Rounds
from state.similarity import Fingerprint
from state.store import NearDuplicates, Unhashed

if TYPE_CHECKING:
    from app.services.perceptual import Unhashable
    from state.neighbours import NeighbourIndex

log = logging.getLogger(__name__)
SIZE = FINGERPRINT_SIZE  # the console's grid size: a thumbnail it cached is reused
# A look at the backlog nobody asked for: a safety net (every catch-up asks for a pass, and a
# turn taken by another replica is followed by that replica's own look). Every 30 s it cost a
# service of a thousand libraries 33 queries a second doing nothing; the grace period
# (NEAR_DUPLICATE_GRACE_SECONDS, 600 s by default) is longer.
IDLE_SECONDS = 300.0
_LOAD_PAGE = 20_000
_BACKOFF_CAP_SECONDS = 300.0
GONE = "gone_before_fingerprint"
"""The refusal recorded for posted content that left Dropbox before it was hashed."""


class Fingerprinter:
    def __init__(
        self,
        library: str,
        store: NearDuplicates,
        dropbox: DropboxClient,
        cache: DiskCache,
        metrics: Metrics,
        radius: int,
        stop: threading.Event,
        rounds: Rounds | None = None,
    ) -> None:
        """``radius``: the largest distance any channel of the library groups at;
        ``rounds``: the shared threads its passes run on (None: only ``run_once`` is used)."""
        self.library, self.radius = library, radius
        self._index: NeighbourIndex | None = None
        self._store, self._dropbox, self._cache = store, dropbox, cache
        self._metrics, self._stop = metrics, stop
        self._wanted = threading.Event()
        self._busy = False
        self._loaded = False
        self._failures = 0
        self._backing_off = False
        self._rounds = rounds
        self._turn = threading.Lock()  # a pass and a rendered copy's fingerprint take turns

    @property
    def index(self) -> NeighbourIndex:
        """The library's fingerprints, to search: made when first needed, not at start."""
        if self._index is None:
            self._index = _new_index()
        return self._index

    def start(self) -> None:
        """Take turns on the shared threads, the first one now."""
        self.request()

    def request(self) -> None:
        """Look at the backlog soon (any thread); after a failure, once the backoff ends."""
        self._wanted.set()
        if self._rounds is not None and not self._backing_off:
            self._rounds.ask(self)

    @property
    def idle(self) -> bool:
        """Nothing asked for and nothing under way (what tests and benches await)."""
        return not self._wanted.is_set() and not self._busy

    def turn(self) -> float:
        """One pass (asked for, or the last turn's wait is over); the seconds until the
        next look by itself: ``IDLE_SECONDS`` (another replica may add content while this
        one holds the turn), or a backoff after a failure."""
        if self._stop.is_set():
            return IDLE_SECONDS
        self._busy, self._backing_off = True, False
        self._wanted.clear()
        try:
            self.run_once()
            self._failures = 0
            return IDLE_SECONDS
        except UnpostedError as exc:
            self._failures += 1
            log.warning("fingerprints of %s: %s", self.library, exc)
            self._wanted.set()  # still to do, after the backoff
            return self._back_off(min(_BACKOFF_CAP_SECONDS, 2.0**self._failures))
        except Exception:  # a bug must not end hashing for good
            log.exception("fingerprints of %s crashed", self.library)
            return self._back_off(_BACKOFF_CAP_SECONDS)
        finally:
            self._busy = False

    def _back_off(self, seconds: float) -> float:
        """Requests made meanwhile wait for the backoff to end."""
        self._backing_off = True
        return seconds

    def run_once(self) -> int:
        """One pass over the backlog in the hashing turn; returns how many contents were
        recorded. The index is loaded the first time there is something to do, not at
        start."""
        if not self._store.fingerprint_backlog(self.library, None, 1):
            return 0
        with self._turn, self._store.hashing_turn(self.library) as stored:
            if stored is None:
                return 0  # another process hashes the library, and looks again after
            self._load(stored)
            after, recorded = self._drain()
        # Content added during the turn by a process that found it taken is ours to hash.
        if after is not None and self._store.fingerprint_backlog(self.library, after, 1):
            self.request()
        return recorded

    def fingerprint_rendered(self, content_hash: str, thumbnail: bytes) -> bool:
        """Fingerprint content from a thumbnail of its rendered copy (HEIC, which Dropbox
        does not thumbnail), whatever was recorded before; False when another process
        holds the library's hashing turn, or the thumbnail yields no hash."""
        (made,) = _perceptual_hashes([thumbnail])
        if not isinstance(made, bytes):
            return False
        with self._turn, self._store.hashing_turn(self.library) as stored:
            if stored is None:
                return False
            self._load(stored)
            near = self.index.within(made, self.radius, exclude=content_hash)
            found = Fingerprint(content_hash, made, None, tuple(near))
            self._store.record_fingerprints(self.library, [found], [])
            self.index.add(content_hash, made)
        self._metrics.fingerprint_thumbnails.labels(self.library, "rendered").inc()
        self._count([found])
        return True

    def _drain(self) -> tuple[int | None, int]:
        """Batches until the backlog has no more: the last position seen, and how many."""
        after, recorded = None, 0
        while not self._stop.is_set():
            batch = self._store.fingerprint_backlog(self.library, after, BATCH_THUMBNAILS)
            if not batch:
                break
            after = batch[-1].position
            recorded += self._record(batch)
        return after, recorded

    def _load(self, stored: int) -> None:
        """The library's stored fingerprints into the index: once per process, and again
        when the store holds another number of them than the index (another process
        recorded some since)."""
        if self._loaded and len(self.index) == stored:
            return
        index, after = _new_index(), None
        while page := self._store.fingerprints(self.library, after, _LOAD_PAGE):
            for content_hash, value in page:
                index.add(content_hash, value)
            after = page[-1][0]
            if len(page) < _LOAD_PAGE:
                break  # the last page
        if self._loaded:
            log.info("fingerprints of %s: index loaded again (%d)", self.library, len(index))
        self._index, self._loaded = index, True

    def _record(self, batch: Sequence[Unhashed]) -> int:
        thumbnails = self._thumbnails([u for u in batch if u.hash is None and u.path])
        hashed = _hashed(thumbnails)
        found, added, done = [], [], [u.position for u in batch if u.gone]
        lost = [u.content_hash for u in batch if u.gone and u.posted]
        for waiting in batch:
            fingerprint = (
                None
                if waiting.gone
                else self._fingerprint(waiting, thumbnails.get(waiting.content_hash), hashed)
            )
            if fingerprint is not None and fingerprint.refusal == GONE:
                lost.append(waiting.content_hash)
            if fingerprint is None or fingerprint.refusal == GONE:
                continue
            done.append(waiting.position)
            if fingerprint.hash is not None and fingerprint.content_hash not in self.index:
                added.append(fingerprint.content_hash)
            if fingerprint.hash is not None:
                self.index.add(fingerprint.content_hash, fingerprint.hash)
            found.append(fingerprint)
        found.extend(Fingerprint(content_hash, None, GONE) for content_hash in lost)
        done.extend(u.position for u in batch if u.content_hash in lost and not u.gone)
        try:
            self._store.record_fingerprints(self.library, found, done)
        except BaseException:
            for content_hash in added:  # not stored: not indexed either
                self.index.remove(content_hash)
            raise
        self._count(found)
        return len(found)

    def _count(self, found: Sequence[Fingerprint]) -> None:
        for fingerprint in found:
            if fingerprint.refusal == GONE:
                log.warning(
                    "fingerprints of %s: %s was posted and left Dropbox before it was"
                    " fingerprinted; its near-duplicates cannot be kept out",
                    self.library, fingerprint.content_hash,
                    extra={"event": "posted_unfingerprinted"},
                )  # fmt: skip
                self._metrics.posted_unfingerprinted.labels(self.library).inc()
                continue
            outcome = "hashed" if fingerprint.hash is not None else "unhashable"
            self._metrics.fingerprints.labels(self.library, outcome).inc()

    def _fingerprint(
        self, waiting: Unhashed, thumbnail: Thumbnail | None, hashed: dict[str, bytes | Unhashable]
    ) -> Fingerprint | None:
        """What to record for one content; None to leave it waiting. ``hashed``: the
        batch's thumbnails that came with a picture, hashed."""
        value = waiting.hash
        if value is None:
            if waiting.archived and thumbnail is not None and _not_found(thumbnail):
                return Fingerprint(waiting.content_hash, None, GONE)  # gone from the archive too
            if thumbnail is None or (thumbnail.image is None and not thumbnail.lasting):
                return None
            if thumbnail.image is None:
                return Fingerprint(waiting.content_hash, None, thumbnail.refusal)
            made = hashed[waiting.content_hash]
            if not isinstance(made, bytes):
                return Fingerprint(waiting.content_hash, None, made.reason)
            value = made
        near = self.index.within(value, self.radius, exclude=waiting.content_hash)
        return Fingerprint(waiting.content_hash, value, None, tuple(near))

    def _thumbnails(self, wanted: Sequence[Unhashed]) -> dict[str, Thumbnail]:
        """From the console's cache where it has them, else from Dropbox in one call."""
        found: dict[str, Thumbnail] = {}
        missing = []
        for waiting in wanted:
            entry = self._cache.read("thumbnails", f"{SIZE}-{waiting.content_hash}")
            if entry is None:
                missing.append(waiting)
            elif entry.refusal is None:
                found[waiting.content_hash] = Thumbnail(entry.data)
            else:
                found[waiting.content_hash] = Thumbnail(None, entry.refusal)
        self._metrics.fingerprint_thumbnails.labels(self.library, "cache").inc(len(found))
        if missing:
            paths = [waiting.path or "" for waiting in missing]
            fetched = self._dropbox.thumbnails(paths, SIZE)
            self._metrics.fingerprint_thumbnails.labels(self.library, "dropbox").inc(len(missing))
            found.update(zip((w.content_hash for w in missing), fetched, strict=True))
        return found


def _hashed(thumbnails: dict[str, Thumbnail]) -> dict[str, bytes | Unhashable]:
    """The hashes of the thumbnails that came with a picture, in one PDQ pass."""
    pictures = {key: t.image for key, t in thumbnails.items() if t.image is not None}
    return dict(zip(pictures, _perceptual_hashes(list(pictures.values())), strict=True))


# NumPy (the index, PDQ) loads with the first fingerprint a process finds or searches, not
# at start: a service with nothing to fingerprint (or NEAR_DUPLICATE_HASHING off) never
# holds its 16 MB. (Pillow loads at start all the same: rendering imports it.)
def _new_index() -> NeighbourIndex:
    from state.neighbours import NeighbourIndex

    return NeighbourIndex()


def _perceptual_hashes(thumbnails: Sequence[bytes]) -> list[bytes | Unhashable]:
    from app.services.perceptual import perceptual_hashes

    return perceptual_hashes(thumbnails)


def _not_found(thumbnail: Thumbnail) -> bool:
    return thumbnail.image is None and (thumbnail.refusal or "").endswith("not_found")
