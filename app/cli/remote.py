"""The channel commands over HTTP, for a service that runs elsewhere.

With ``UNPOSTED_URL`` and ``UNPOSTED_TOKEN`` (or ``--url`` and ``--token``) the commands
ask the service through ``unposted_client`` and never open the state directory, its
lock, or the configuration: the service answers for them. ``resync`` asks for a
re-list (``POST /admin/resync``) and follows it through ``GET /status``, the operator's
view of each library, until the service has finished a catch-up that began after the
request (its ``catch_ups`` count moved past the run in flight).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from unposted_client import UnpostedClient

from app.cli.output import Progress
from app.errors import InvalidInput
from state.store import ImageQuery

if TYPE_CHECKING:
    from app.services.selection import SelectOptions

Json = dict[str, Any]
POLL_SECONDS = 0.25


class RemoteOperations:
    def __init__(self, url: str, token: str, channel: str | None) -> None:
        self._client = UnpostedClient(url, token, channel=channel)
        self._root = UnpostedClient(url, token)  # the operator's view: every library

    def close(self) -> None:
        self._client.close()
        self._root.close()

    def status(self) -> Json:
        return dict(self._client.status().raw)

    def select(self, options: SelectOptions) -> Json:
        offer = self._client.select(
            options.dry_run, options.name, options.link, options.lease_seconds
        )
        return dict(offer.raw)

    def posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None, archive: bool
    ) -> Json:
        return dict(self._client.posted(content_hash, lease_id, sha256, archive).raw)

    def unpost(self, content_hash: str) -> Json:
        return dict(self._client.unpost(content_hash).raw)

    def release(self, lease_id: str) -> Json:
        self._client.release(lease_id)
        return dict(self._client.lease(lease_id).raw)

    def renew(self, lease_id: str, lease_seconds: int | None) -> Json:
        return dict(self._client.renew(lease_id, lease_seconds).raw)

    def hold(self, content_hash: str, until: str | None = None) -> Json:
        return dict(self._client.hold(content_hash, until).raw)

    def unhold(self, content_hash: str) -> Json:
        return dict(self._client.unhold(content_hash).raw)

    def images(self, query: ImageQuery) -> Json:
        page = self._client.images(query.state, query.name_prefix, query.after, query.limit)
        return dict(page.raw)

    def history(self, after: str | None, limit: int) -> Json:
        return dict(self._client.history(after, limit).raw)

    def find(self, reference: str) -> list[tuple[str, str]]:
        return [(match.content_hash, match.path) for match in self._client.find(reference)]

    def export_posted(self) -> Json:
        return dict(self._client.export_posted().raw)

    def reset_posted(self) -> Json:
        return dict(self._client.reset_posted().raw)

    def import_legacy(self, raw: bytes) -> Json:
        return dict(self._client.import_posted(raw).raw)

    def resync(self, library: str | None, channel: str | None) -> list[str]:
        report = self._operator_view()
        names = self._libraries(report, library, channel)
        before = {name: _runs_to_wait_for(report["libraries"][name]) for name in names}
        for name in names:
            self._client.resync(name)
        return [self._follow(name, before[name]) for name in names]

    def _operator_view(self) -> Json:
        report = dict(self._root.status().raw)
        if "libraries" not in report:
            raise InvalidInput("resync needs the operator's token (API_TOKEN)")
        return report

    def _libraries(self, report: Json, library: str | None, channel: str | None) -> list[str]:
        libraries: Json = report["libraries"]
        if channel is not None:
            channels: Json = report.get("channels") or {}
            if channel not in channels:
                raise InvalidInput(f"no channel {channel!r} on the service")
            return [channels[channel]["library"]]
        if library is not None and library not in libraries:
            raise InvalidInput(f"no library {library!r} on the service")
        return [library] if library else list(libraries)

    def _follow(self, name: str, target: int) -> str:
        bar = Progress(f"{name}: listing")
        started = time.monotonic()
        try:
            while True:
                library = self._operator_view()["libraries"][name]
                progress = library.get("progress") or {}
                expected = library["images"] + library["skipped"]
                bar.update(progress.get("entries", 0), progress.get("pages", 0), expected)
                if library.get("catch_ups", 0) >= target and not library["listing"]:
                    break
                if library.get("last_error") and not library["syncing"]:
                    raise InvalidInput(f"{name}: the re-list failed: {library['last_error']}")
                time.sleep(POLL_SECONDS)
        finally:
            bar.done()
        seconds = time.monotonic() - started
        return f"{name}: listed again: {library['images']} images, {seconds:.1f} s"


def _runs_to_wait_for(library: Json) -> int:
    """The ``catch_ups`` count that means a run begun after now has finished: a run in
    flight took no notice of the request."""
    return int(library.get("catch_ups", 0)) + (2 if library["syncing"] else 1)
