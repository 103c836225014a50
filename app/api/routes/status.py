"""``GET /status`` and ``GET /channels`` (counts), ``GET /metrics`` (Prometheus).

``/status`` is mounted at the root and under ``/channels/{channel}``: a channel's counts
with its library's. At the root, the operator also sees every library (cursor,
listing, last catch-up, counts) and every channel (available, leased, posted, cycle).
"""

from __future__ import annotations

import math
from time import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from app.api.deps import (
    Authorized,
    CallerDep,
    ConfigDep,
    Operator,
    StatusDep,
    WorkersDep,
    channel,
)
from app.api.replies import ChannelsReply, StatusReply
from app.metrics import CONTENT_TYPE
from app.sync.worker import SyncWorker
from state.rules import iso
from state.store import ChannelStatus, LibraryStatus

router = APIRouter(tags=["status"], dependencies=[Authorized])
operator_router = APIRouter(tags=["status"], dependencies=[Operator])


@router.get("/status", response_model=StatusReply, response_model_exclude_unset=True)
async def status(
    request: Request,
    who: CallerDep,
    config: ConfigDep,
    counts: StatusDep,
    workers: WorkersDep,
) -> dict[str, Any]:
    everything = who.operator and "channel" not in request.path_params
    name = config.default_channel() if everything else await channel(request, who)
    if everything:
        named, libraries = list(config.channels), list(workers)
    else:
        named = [] if name is None else [name]
        libraries = [config.channels[n].library for n in named]
    by_library, by_channel = await counts.statuses(libraries, named)  # one snapshot
    report: dict[str, Any] = {}
    if name is not None:
        library = config.channels[name].library
        report = _flat(by_library[library], by_channel[name], workers[library])
    if everything:
        report["libraries"] = {
            library: _library(by_library[library], worker) for library, worker in workers.items()
        }
        report["channels"] = {name: _channel(by_channel[name], config, name) for name in named}
    return report


@router.get("/channels", response_model=ChannelsReply)
async def channels(who: CallerDep, config: ConfigDep, counts: StatusDep) -> Any:
    """The channels this token reaches, with their library and counts."""
    reachable = [name for name in config.channels if who.may(name)]
    _, by_channel = await counts.statuses([], reachable)  # one snapshot
    return {
        "channels": [
            {"name": name, **_channel(status, config, name)} for name, status in by_channel.items()
        ]
    }


@operator_router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(status: StatusDep) -> Response:
    return Response(await status.exposition(), media_type=CONTENT_TYPE)


def _flat(library: LibraryStatus, counts: ChannelStatus, worker: SyncWorker) -> dict[str, Any]:
    return {
        "images": library.images,
        "unique_images": library.unique_images,
        "available": counts.available,
        "leased": counts.leased,
        "posted": counts.posted,
        "cycle": counts.cycle,
        "skipped": library.skipped,
        "pending": library.pending,
        "without_content_hash": library.without_content_hash,
        **_awaiting(counts),
        "last_sync_at": library.last_sync_at,
        "syncing": worker.health.running,
        "cursor": library.cursor,
        "last_error": worker.health.last_error,
    }


def _library(status: LibraryStatus, worker: SyncWorker) -> dict[str, Any]:
    progress = worker.progress
    return {
        "images": status.images,
        "unique_images": status.unique_images,
        "skipped": status.skipped,
        "pending": status.pending,
        "account_id": status.account_id,
        "cursor": status.cursor,
        "listing": status.listing,
        "ready": status.ready,
        "last_sync_at": status.last_sync_at,
        "syncing": worker.health.running,
        "catch_ups": worker.health.runs,
        "last_error": worker.health.last_error,
        "fingerprinted": status.fingerprinted,
        "unhashable": status.unhashable,
        "awaiting_fingerprint": status.awaiting_fingerprint,
        "progress": None if progress is None else {
            "entries": progress.entries, "pages": progress.pages,
            "seconds": round(progress.elapsed(), 1),
        },
    }  # fmt: skip


def _channel(status: ChannelStatus, config: Any, name: str) -> dict[str, Any]:
    spec = config.channels[name].spec
    return {
        "library": status.library,
        "available": status.available,
        "leased": status.leased,
        "posted": status.posted,
        "cycle": status.cycle,
        "policy": spec.policy,
        "when_exhausted": spec.when_exhausted,
        "near_duplicates": spec.near_duplicates,
        "near_duplicate_distance": spec.near_duplicate_distance,
        "near_duplicate_groups": status.near_duplicate_groups,
        "near_duplicates_skipped": status.near_duplicates_skipped,
        **_awaiting(status),
        **_rotation(status, spec),
    }


def _rotation(status: ChannelStatus, spec: Any) -> dict[str, Any]:
    back = status.next_return_at
    return {
        "repeat_after_seconds": spec.repeat_after,
        "max_posts": spec.max_posts,
        "waiting": status.waiting,
        "next_return_at": None if back is None else iso(math.ceil(back)),
        "retired": status.retired,
    }


def _awaiting(status: ChannelStatus) -> dict[str, Any]:
    since = status.oldest_awaiting_since
    return {
        "awaiting_fingerprint": status.awaiting_fingerprint,
        "oldest_awaiting_seconds": None if since is None else round(max(0.0, time() - since), 1),
    }
