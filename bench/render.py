"""Rendering for a channel's profile: time and memory per picture, downloads, ``/select``.

1. A 24-megapixel JPEG and a 12-megapixel HEIC (made here with Pillow and pillow-heif)
   rendered to a 1080-pixel 4:5 JPEG: the time of each render (median of ``reps``), and
   the peak memory it adds, measured in a process of its own (``VmHWM`` after the render
   less ``VmHWM`` before it, the input already read).
2. The service over the emulator with two channels of that profile: the originals
   downloaded for the first ``/select`` with ``render: true`` (one), for the same picture
   in the other channel, and for it again (none: the render cache).
3. ``/select`` previews by name of a picture already rendered, with and without
   ``render: true``, alternating, ``requests`` of each: the medians and their ratio.

    python -m bench.render [--reps 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from app.configuration.environment import Settings
from app.configuration.render import parse_profile
from app.main import create_app
from app.services.renderer import enable_heif, render
from bench.strategies import API_TOKEN
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer

PROFILE = {"aspect": "4:5", "max_side": 1080, "format": "jpeg", "quality": 85}
PICTURES = {"jpeg": (6000, 4000), "heic": (4032, 3024)}  # 24 and 12 megapixels
_KINDS = {"jpeg": "JPEG", "heic": "HEIF"}
CONFIG = """
[libraries.photos]
folder = "/Photos"
""" + "".join(
    f'\n[channels.{name}]\nlibrary = "photos"\n[channels.{name}.render]\n'
    'aspect = "4:5"\nmax_side = 1080\n'
    for name in ("instagram", "threads")
)
DOWNLOADS = "files/download"


def run(
    reps: int = 3, requests: int = 200, sizes: dict[str, tuple[int, int]] = PICTURES
) -> dict[str, Any]:
    """``sizes``: of the JPEG and the HEIC (a smoke test makes them small)."""
    with tempfile.TemporaryDirectory(prefix="bench-render-") as work:
        folder = Path(work)
        files = {kind: _picture(folder, kind, size) for kind, size in sizes.items()}
        per_picture = {kind: _measure_apart(path, reps) for kind, path in files.items()}
        for kind, (width, height) in sizes.items():
            per_picture[kind]["megapixels"] = round(width * height / 1e6, 1)
        service = _through_the_service(folder, files["jpeg"].read_bytes(), requests)
    return {"reps": reps, "profile": PROFILE, "pictures": per_picture, **service}


def _picture(folder: Path, kind: str, size: tuple[int, int]) -> Path:
    """Detail in every channel: gradients, and a Mandelbrot set's edges (noise would make
    a HEIC many times a phone's, and slow to encode and decode)."""
    enable_heif()
    red = Image.linear_gradient("L").resize(size)
    green = Image.effect_mandelbrot(size, (-2.0, -1.5, 1.0, 1.5), 64)
    blue = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (red, green, blue))
    out = folder / f"picture.{kind}"
    image.save(out, _KINDS[kind], quality=90)
    return out


def _measure_apart(path: Path, reps: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.render", "--measure", str(path), "--reps", str(reps)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["input_bytes"] = path.stat().st_size
    return figures


def measure(path: Path, reps: int) -> dict[str, Any]:
    """In this process alone: each render's time, and the memory the renders added."""
    enable_heif()
    data, profile = path.read_bytes(), parse_profile(PROFILE)
    before = _high_water_kib()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        made = render(data, profile, 64_000_000)
        times.append(time.perf_counter() - started)
    with Image.open(io.BytesIO(made.data)) as check:
        size = check.size
    return {
        "render_seconds": round(statistics.median(times), 3),
        "peak_added_mib": round((_high_water_kib() - before) / 1024, 1),
        "output": {"width": size[0], "height": size[1], "bytes": len(made.data)},
    }


def _high_water_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _through_the_service(folder: Path, picture: bytes, requests: int) -> dict[str, Any]:
    emulator = Emulator()
    emulator.create_folder("/Photos")
    emulator.put_file("/Photos/big.jpg", picture)
    config = folder / "unposted.toml"
    config.write_text(CONFIG)
    with EmulatorServer(emulator) as server, _service(server.base_url, emulator, folder) as client:
        downloads = []
        for channel in ("instagram", "threads", "instagram"):
            before = emulator.counters.calls(DOWNLOADS)
            body = {"name": "big.jpg", "render": True, "dry_run": True}
            client.post(f"/channels/{channel}/select", json=body).raise_for_status()
            downloads.append(emulator.counters.calls(DOWNLOADS) - before)
        timing = _select_timing(client, requests)
    return {"downloads_per_request": downloads, **timing}


def _select_timing(client: httpx.Client, requests: int) -> dict[str, Any]:
    plain: list[float] = []
    rendered: list[float] = []
    for _ in range(requests):
        for body, into in (({}, plain), ({"render": True}, rendered)):
            started = time.perf_counter()
            asked = {"name": "big.jpg", "dry_run": True, **body}
            client.post("/channels/instagram/select", json=asked).raise_for_status()
            into.append(time.perf_counter() - started)
    plain_ms, rendered_ms = statistics.median(plain) * 1000, statistics.median(rendered) * 1000
    return {
        "requests": requests,
        "select_ms": round(plain_ms, 3),
        "select_render_cached_ms": round(rendered_ms, 3),
        "render_cached_vs_plain": round(rendered_ms / plain_ms, 2),
    }


@contextmanager
def _service(emulator_url: str, emulator: Emulator, folder: Path) -> Iterator[httpx.Client]:
    values: dict[str, Any] = {
        "unposted_config": folder / "unposted.toml", "dropbox_base_url": emulator_url,
        "dropbox_access_token": emulator.access_token, "dropbox_app_key": emulator.app_key,
        "dropbox_app_secret": emulator.app_secret, "api_token": API_TOKEN,
        "state_dir": folder / "state", "log_level": "WARNING", "near_duplicate_hashing": False,
    }  # fmt: skip
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    server = ThreadedServer(create_app(settings, environ={})).start()
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError("the service did not become ready")
                time.sleep(0.05)
            yield client
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one picture, here
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.reps)))  # noqa: T201
        return
    print(json.dumps(run(args.reps, args.requests), indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
