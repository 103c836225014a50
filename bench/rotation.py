"""Rotation's cost: ``/select`` p50 with balance, seasons, repeat_after and max_posts on, and off.

One service (``python -m app serve``, SQLite) over an emulated folder of ``images``
pictures in ``folders`` subfolders, listed by its first catch-up, with two channels on
that one library: ``plain`` (no balance, no seasons) and ``rotated`` (``balance =
"folders"``, a few folders weighted, a tenth of the folders seasonal, half of them out
of season today, ``repeat_after`` and ``max_posts`` on). One connection sends, in
alternating rounds, ``requests`` leasing selects (each released, untimed) and as many
previews to each channel; the p50 of each is compared. 1,000 images only: a million
takes longer to list than this machine can spare now (the bulk loader writes every
picture in one folder).

    python -m bench.rotation [--images 1000] [--folders 100] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.channels import serving
from bench.strategies import API_TOKEN, wait_for
from emulator import Emulator, EmulatorServer

CHANNELS = ("plain", "rotated")


def run(
    images: int = 1_000, folders: int = 100, requests: int = 300, rounds: int = 3
) -> dict[str, Any]:
    emu = Emulator()
    for n in range(images):
        emu.put_file(f"/Photos/f{n % folders:03d}/img_{n:06d}.jpg", f"rotation-{n}".encode())
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rotation-")))
        base_url = stack.enter_context(_service(emu, server.base_url, work, folders))
        client = stack.enter_context(
            httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_TOKEN}"})
        )
        wait_for(lambda: all(_offers(client, c) for c in CHANNELS), timeout=600, every=0.1)
        runs: dict[str, dict[str, list[float]]] = {
            c: {"leasing": [], "preview": []} for c in CHANNELS
        }
        for _ in range(rounds):
            for channel in CHANNELS:
                runs[channel]["leasing"].append(_p50(client, channel, requests, lease=True))
                runs[channel]["preview"].append(_p50(client, channel, requests, lease=False))
    p50 = {c: {kind: statistics.median(values) for kind, values in runs[c].items()}
           for c in CHANNELS}  # fmt: skip
    return {
        "benchmark": "rotation",
        "images": images,
        "folders": folders,
        "requests": requests,
        "rounds": rounds,
        "p50_ms": p50,
        "runs_ms": runs,
        "leasing_ratio": round(p50["rotated"]["leasing"] / p50["plain"]["leasing"], 3),
        "preview_ratio": round(p50["rotated"]["preview"] / p50["plain"]["preview"], 3),
    }


def _offers(client: httpx.Client, channel: str) -> bool:
    """Does ``channel`` offer a picture yet? Ready, a large first listing may still hold the
    store for its last seconds (503 busy, with when to ask again), and the first selection
    reads the channel's pool into memory (seconds, at a million pictures)."""
    reply = client.post(f"/channels/{channel}/select", json={"dry_run": True}, timeout=300)
    if reply.status_code not in (200, 503):
        reply.raise_for_status()
    return reply.status_code == 200


def _p50(client: httpx.Client, channel: str, requests: int, lease: bool) -> float:
    """The median time of ``requests`` selects in ``channel``, in milliseconds."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        reply = client.post(f"/channels/{channel}/select", json={} if lease else {"dry_run": True})
        times.append((time.perf_counter() - started) * 1000)
        if reply.is_error:
            raise RuntimeError(f"{channel}: {reply.status_code} {reply.text}")
        if lease:
            lease_id = reply.json()["lease"]["id"]
            client.post(f"/channels/{channel}/release", json={"lease_id": lease_id})
    return round(statistics.median(times), 3)


def config(folders: int, today: date) -> str:
    """Both channels; ``rotated`` weighs a few folders, keeps a tenth seasonal (half of
    those out of season on ``today``), and has ``repeat_after`` and ``max_posts`` on."""
    weights = ", ".join(f'"f{n:03d}" = {n % 3 + 2}' for n in range(0, folders, 7))
    seasonal = range(folders - max(2, folders // 10), folders)
    lines = ["[channels.rotated.seasons]"]
    for k, n in enumerate(seasonal):
        start = today - timedelta(days=1) if k % 2 == 0 else today + timedelta(days=10)
        end = start + timedelta(days=5)
        lines.append(f'f{n:03d} = "{start:%m-%d}..{end:%m-%d}"')
    return (
        '[libraries.photos]\nfolder = "/Photos"\nrecursive = true\n\n'
        '[channels.plain]\nlibrary = "photos"\n\n'
        '[channels.rotated]\nlibrary = "photos"\nbalance = "folders"\n'
        'when_exhausted = "new_cycle"\nrepeat_after = "30d"\nmax_posts = 3\n'
        f"weights = {{ {weights} }}\n\n" + "\n".join(lines) + "\n"
    )  # fmt: skip


@contextmanager
def _service(emu: Emulator, emulator_url: str, state: Path, folders: int) -> Iterator[str]:
    path = state / "unposted.toml"
    path.write_text(config(folders, datetime.now(UTC).date()))
    # nothing waits for a fingerprint: hashing off
    with serving(emu, emulator_url, state, path, NEAR_DUPLICATE_HASHING="false") as base_url:
        yield base_url


def report(figures: dict[str, Any]) -> str:
    """The section of ``docs/benchmarks.md``."""
    p50 = figures["p50_ms"]
    return (
        f"One service over {figures['images']:,} images in {figures['folders']} folders, two "
        'channels on the library: `plain`, and `rotated` with `balance = "folders"` (some '
        "folders weighted), a tenth of its folders seasonal (half of them out of season), "
        '`repeat_after = "30d"` and `max_posts = 3`. '
        f"One connection, {figures['requests']} requests a run, {figures['rounds']} rounds "
        "alternating; p50 medians. Leasing (each lease released, untimed): "
        f"{p50['plain']['leasing']:.2f} ms plain, {p50['rotated']['leasing']:.2f} ms rotated "
        f"({figures['leasing_ratio']:.2f}x); previews: {p50['plain']['preview']:.2f} ms and "
        f"{p50['rotated']['preview']:.2f} ms ({figures['preview_ratio']:.2f}x). At 1,000,000 "
        "images not measured: listing a million files in 100 folders takes longer than this "
        "machine can spare (the bulk loader writes one folder).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(run(args.images, args.folders, args.requests), indent=2))


if __name__ == "__main__":
    main()
