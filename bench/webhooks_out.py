"""Events out: what the webhooks' outbox adds to a change, and how fast it delivers.

- ``/posted``: the service (uvicorn in a thread) over an emulator folder, with two
  channels of one library: ``hooked``, whose webhook asks for every event (its events go
  to a local receiver), and ``plain``, without one. Each round leases a picture in each
  and posts it, the two channels in turn (which goes first alternates); only the
  ``POST /posted`` is timed. Medians of each, and their ratio: the outbox's row and the
  low-water check in the post's transaction, and the deliverer working beside it.
- Catch-up: the initial listing of ``catch_up_size`` files into a fresh SQLite store whose
  one channel's webhook asks for every event, and into one whose channel has none, in
  turn, ``reps`` times each (a first listing tells no ``images.added``: what it pays is
  the channel's level looked at after each page).
- Delivery: the service stopped, its store opened as it left it, ``events`` posts of the
  channel ``hooked`` are written first (one ``image.posted`` each); the deliverer then
  sends them to the local receiver (a threaded HTTP server in this process that answers
  ``204``): events per second from its start to the last one received. Then ``paced``
  more posts, ``rate`` a second, with the deliverer running: from each change (its
  row's time) to its arrival at the receiver, p50 and p99.

SQLite only.

    python -m bench.webhooks_out [--rounds 1000] [--catch-up-size 100000] [--events 10000]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, get_args

import httpx

from app.configuration.environment import Settings
from app.configuration.file import load_config
from app.lanes import Lanes
from app.main import create_app
from app.metrics import Metrics
from app.services.webhooks import Deliverer, message_id
from bench import catch_up
from bench.strategies import API_TOKEN, IMAGE_SIZE, wait_for
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer
from state.sqlite import SqliteStore
from state.store import MAX_PAGE, ChannelDef, Delivery, ImageQuery, NotifyEvent

FOLDER = "/Photos"
SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123").decode()
EVERY: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.hooked]
library = "default"

[channels.hooked.notify]
url = "{url}"
secret_env = "HOOK_SECRET"
low_water = 10

[channels.plain]
library = "default"
"""


def run(
    rounds: int = 1_000,
    catch_up_size: int = 100_000,
    events: int = 10_000,
    reps: int = 3,
    paced: int = 1_000,
    rate: float = 200.0,
) -> dict[str, Any]:
    emu = Emulator()
    emu.create_folder(FOLDER)
    for meta in emu.bulk_generate(FOLDER, rounds + events + paced + 20, ".jpg", IMAGE_SIZE):
        _ = meta.content_hash
    with (
        EmulatorServer(emu) as server, Receiver() as receiver,
        tempfile.TemporaryDirectory() as work,
    ):  # fmt: skip
        settings = _settings(emu, server.base_url, Path(work), receiver.url)
        posted = _posted(settings, rounds)
        delivery = _delivery(settings, receiver, events, paced, rate)
    return {
        "benchmark": "webhooks_out",
        "posted": posted,
        "catch_up": _catch_ups(catch_up_size, reps),
        "delivery": delivery,
    }


# -- /posted, with and without a webhook -----------------------------------------------


def _settings(emu: Emulator, emulator_url: str, work: Path, hook_url: str) -> Settings:
    config = work / "unposted.toml"
    config.write_text(CONFIG.format(url=hook_url))
    values: dict[str, Any] = {
        "unposted_config": config, "dropbox_base_url": emulator_url,
        "dropbox_access_token": emu.access_token, "dropbox_app_key": emu.app_key,
        "dropbox_app_secret": emu.app_secret, "api_token": API_TOKEN,
        "state_dir": work / "state", "log_level": "WARNING", "near_duplicate_hashing": False,
    }  # fmt: skip
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _posted(settings: Settings, rounds: int) -> dict[str, Any]:
    timed: dict[str, list[float]] = {"hooked": [], "plain": []}
    app = create_app(settings, environ={"HOOK_SECRET": SECRET})
    server = ThreadedServer(app).start()
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            wait_for(lambda: client.get("/readyz").status_code == 200, timeout=120)
            for number in range(rounds):
                order = ("hooked", "plain") if number % 2 == 0 else ("plain", "hooked")
                for channel in order:
                    timed[channel].append(_post_one(client, channel))
            outbox = app.state.runtime.store.outbox  # everything sent before the stop
            wait_for(lambda: outbox.head("hooked") is None, timeout=120)
    finally:
        server.stop()
    hooked, plain = (statistics.median(timed[name]) * 1000 for name in ("hooked", "plain"))
    return {
        "rounds": rounds,
        "hooked_ms": round(hooked, 3),
        "plain_ms": round(plain, 3),
        "hooked_vs_plain": round(hooked / plain, 3),
    }


def _post_one(client: httpx.Client, channel: str) -> float:
    chosen = client.post(f"/channels/{channel}/select", json={}).raise_for_status().json()
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    started = time.perf_counter()
    client.post(f"/channels/{channel}/posted", json=body).raise_for_status()
    return time.perf_counter() - started


# -- the initial catch-up, with and without a webhook ------------------------------------


def _catch_ups(size: int, reps: int) -> dict[str, Any]:
    emu = catch_up._folder(size)
    runs: dict[str, list[float]] = {"hooked": [], "plain": []}
    channels = {
        "hooked": ChannelDef("default", "default", notify=EVERY, low_water=10),
        "plain": ChannelDef("default", "default"),
    }
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        catch_up._initial(emu, server.base_url, Path(work) / "warm-up")  # untimed
        for rep in range(reps):
            order = ("hooked", "plain") if rep % 2 == 0 else ("plain", "hooked")
            for name in order:
                state = Path(work) / f"{name}-{rep}"
                done = catch_up._initial(emu, server.base_url, state, channel=channels[name])
                runs[name].append(done["seconds"])
    hooked, plain = (statistics.median(runs[name]) for name in ("hooked", "plain"))
    return {
        "size": size,
        "reps": reps,
        "hooked_seconds": round(hooked, 3),
        "plain_seconds": round(plain, 3),
        "hooked_vs_plain": round(hooked / plain, 3),
    }


# -- delivery to a local receiver -------------------------------------------------------


def _delivery(
    settings: Settings, receiver: Receiver, events: int, paced: int, rate: float
) -> dict[str, Any]:
    store = SqliteStore(settings.database_path)
    stop, lanes = threading.Event(), Lanes()
    config = load_config(settings, {"HOOK_SECRET": SECRET})
    deliverer = Deliverer(settings, config, store.outbox, Metrics(), stop, lanes)
    try:
        available = _available(store, events + paced)
        newest = _newest_id(store)
        for content_hash in available[:events]:  # one image.posted each, none sent yet
            store.selections.mark_posted("hooked", content_hash, None, None)
        written = _written_after(store, newest)
        started = time.perf_counter()
        deliverer.start()
        _wait_arrived(receiver, written, 600)
        seconds = time.perf_counter() - started
        latencies = _paced(store, receiver, available[events:], rate)
    finally:
        deliverer.stop()
        lanes.close()
        store.close()
    return {
        "events": len(written),
        "seconds": round(seconds, 3),
        "events_per_second": round(len(written) / seconds),
        "paced": len(latencies),
        "rate_per_second": rate,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(_p99(latencies) * 1000, 2),
    }


def _available(store: SqliteStore, count: int) -> list[str]:
    """``count`` pictures the channel ``hooked`` has not posted, by content hash."""
    hashes: list[str] = []
    after = None
    while len(hashes) < count:
        page = store.browsing.images("hooked", ImageQuery("available", after=after, limit=MAX_PAGE))
        hashes += [item.image.content_hash for item in page.items]
        if page.next is None:
            break
        after = page.next
    if len(hashes) < count:
        raise RuntimeError(f"only {len(hashes)} pictures left to post, {count} needed")
    return hashes[:count]


def _newest_id(store: SqliteStore) -> int:
    newest = store.outbox.deliveries("hooked", 1)
    return newest[0].id if newest else 0


def _written_after(store: SqliteStore, newest: int) -> list[Delivery]:
    """The channel's events past ``newest``, oldest first."""
    rows: list[Delivery] = []
    batch = 1_000
    while True:
        rows = store.outbox.deliveries("hooked", batch)
        if len(rows) < batch or rows[-1].id <= newest:
            break
        batch *= 2
    return sorted((row for row in rows if row.id > newest), key=lambda row: row.id)


def _wait_arrived(receiver: Receiver, rows: list[Delivery], timeout: float) -> None:
    wanted = {message_id(row) for row in rows}
    wait_for(lambda: wanted <= receiver.arrivals().keys(), timeout=timeout, every=0.01)


def _paced(
    store: SqliteStore, receiver: Receiver, content_hashes: list[str], rate: float
) -> list[float]:
    """Post at ``rate`` a second, the deliverer running; each event's wait from its
    change (the row's wall-clock time) to its arrival."""
    newest = _newest_id(store)
    started = time.perf_counter()
    for number, content_hash in enumerate(content_hashes):
        pause = started + number / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        store.selections.mark_posted("hooked", content_hash, None, None)
    rows = _written_after(store, newest)
    _wait_arrived(receiver, rows, 120)
    arrived = receiver.arrivals()
    return [arrived[message_id(row)] - row.created for row in rows]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Receiver:
    """A publisher's endpoint on 127.0.0.1: answers ``204`` at once (HTTP/1.1, the
    connection kept), recording when each ``webhook-id`` arrived (wall clock)."""

    def __init__(self) -> None:
        self._arrived: dict[str, float] = {}
        self._lock = threading.Lock()
        record = self._record

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                record(self.headers.get("webhook-id", ""))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def _record(self, webhook_id: str) -> None:
        now = time.time()
        with self._lock:
            self._arrived.setdefault(webhook_id, now)

    def count(self) -> int:
        with self._lock:
            return len(self._arrived)

    def arrivals(self) -> dict[str, float]:
        with self._lock:
            return dict(self._arrived)

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks_out")
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--catch-up-size", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, args.catch_up_size, args.events), indent=2))


if __name__ == "__main__":
    main()
