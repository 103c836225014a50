"""The channel commands' ``Operations`` (``app.cli.asking``) on the state directory.

``LocalOperations`` runs the domain code on the state directory, as the service would
(``app.cli.local``); ``app.cli.remote.RemoteOperations`` is the same over HTTP. The
Dropbox SDK and the metrics are imported only by the operations that use them (see
``LocalState.dropbox``): a ``status`` or a ``hold`` starts without them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any, TypeVar

from app.cli.asking import Json
from app.cli.local import LocalState
from app.cli.output import Output, Progress
from app.errors import InvalidInput
from app.lanes import Lanes
from app.services.holds import hold_json, read_until
from app.services.pictures import history_json, page_json
from app.services.posted_state import LegacyImport, export_json, reset_posted, undone_json, unpost
from app.services.selection import SelectionService, SelectOptions, lease_json
from app.sync.catch_up import CatchUp
from state.changes import FileKinds
from state.store import ImageQuery

T = TypeVar("T")
LOCAL = "local command line"
"""Who undid a post from the command line on the state directory (no token there)."""


class LocalOperations:
    """The operations on the state directory, for the channel named (or the default)."""

    def __init__(self, local: LocalState, channel: str | None) -> None:
        self._local = local
        self._channel_name = channel

    @property
    def channel(self) -> str:
        return self._local.channel(self._channel_name)

    def status(self) -> Json:
        """Every library and channel; with ``--channel``, that one and its library."""
        local = self._local
        channels = list(local.config.channels)
        libraries = list(local.config.libraries)
        if self._channel_name is not None:
            channels = [self.channel]
            libraries = [local.config.channels[self.channel].library]
        by_library, by_channel = local.store.reports.statuses(libraries, channels)
        return {
            "libraries": {name: asdict(status) for name, status in by_library.items()},
            "channels": {name: asdict(status) for name, status in by_channel.items()},
        }

    def select(self, options: SelectOptions) -> Json:
        channel = self.channel
        offer = self._selection(lambda service: service.select(channel, options))
        return dict(offer.as_json())

    def posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None, archive: bool
    ) -> Json:
        channel = self.channel
        receipt = self._selection(
            lambda service: service.posted(
                channel, content_hash, lease_id, sha256, archive, operator=True
            )
        )  # the local command line acts with the state directory's own authority
        return receipt.as_json()

    def unpost(self, content_hash: str) -> Json:
        channel = self.channel
        undone = unpost(self._local.store.selections, channel, content_hash, LOCAL)
        return undone_json(channel, undone)

    def release(self, lease_id: str) -> Json:
        channel = self.channel

        async def release_then_show(service: SelectionService) -> Json:
            await service.release(channel, lease_id)
            return lease_json(await service.lease(channel, lease_id))

        return self._selection(release_then_show)

    def renew(self, lease_id: str, lease_seconds: int | None) -> Json:
        channel = self.channel
        info = self._selection(lambda service: service.renew(channel, lease_id, lease_seconds))
        return lease_json(info)

    def hold(self, content_hash: str, until: str | None = None) -> Json:
        ends = None if until is None else read_until(until)
        held = self._local.store.browsing.hold(self.channel, content_hash, ends)
        return hold_json(content_hash, held)

    def unhold(self, content_hash: str) -> Json:
        if not self._local.store.browsing.unhold(self.channel, content_hash):
            Output.notice("unposted: there was no hold on it; nothing changed")
        return hold_json(content_hash, None)

    def images(self, query: ImageQuery) -> Json:
        return page_json(self._local.store.browsing.images(self.channel, query))

    def history(self, after: str | None, limit: int) -> Json:
        return history_json(self._local.store.browsing.history(self.channel, after, limit))

    def find(self, reference: str) -> list[tuple[str, str]]:
        found = self._local.store.browsing.find_images(self.channel, reference)
        return [(match.content_hash, match.path) for match in found]

    def resync(self, library: str | None, channel: str | None) -> list[str]:
        local = self._local
        kinds = FileKinds.of(local.settings.image_extensions, local.settings.sidecar_extensions)
        done = []
        for name in self._libraries(library, channel):
            local.store.catalog.begin_listing(name)
            expected = local.store.reports.library_status(name)
            catch_up = CatchUp(
                local.config.libraries[name].spec, kinds, local.store.catalog, local.dropbox(name)
            )
            bar = Progress(f"{name}: listing", expected.images + expected.skipped)
            try:
                summary = catch_up.run(progress=bar)
            finally:
                bar.done()
            done.append(f"{name}: listed again: {summary.line()}")
        return done

    def _libraries(self, library: str | None, channel: str | None) -> list[str]:
        config = self._local.config
        if channel is not None:
            return [config.channels[self._local.channel(channel)].library]
        if library is not None and library not in config.libraries:
            raise InvalidInput(f"no library {library!r} in the configuration")
        return [library] if library else list(config.libraries)

    def export_posted(self) -> Json:
        return export_json(self._local.store.posted.export_posted(self.channel))

    def reset_posted(self) -> Json:
        return export_json(reset_posted(self._local.store.posted, self.channel))

    def import_legacy(self, raw: bytes) -> Json:
        from app.metrics import Metrics

        local = self._local
        store = local.store
        legacy = LegacyImport(
            local.config, catalog=store.catalog, legacy=store.legacy, posted=store.posted,
            metrics=Metrics(), dropbox=local.dropbox_if_configured,
        )  # fmt: skip
        return legacy.run(self.channel, raw).as_json()

    def _selection(self, call: Callable[[SelectionService], Coroutine[Any, Any, T]]) -> T:
        from app.metrics import Metrics  # prometheus_client: only for what counts

        local, lanes = self._local, Lanes()
        try:
            service = SelectionService(
                local.config, local.store.selections, lanes, Metrics(), local.dropbox,
                archive_folder=local.settings.archive_folder,
            )  # fmt: skip
            return asyncio.run(call(service))
        finally:
            lanes.close()
