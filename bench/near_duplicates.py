"""Near-duplicates: how well the service's own pipeline finds re-exported photos, and at what cost.

The test set: the photographs scikit-image's wheel bundles in ``skimage/data`` (read as
files; scikit-image is not imported, and nothing is fetched), and scenes drawn as the
demo draws them. Each picture is exported as an original (JPEG, quality 92) and as
variants: resized to 50% and 25%, re-encoded at JPEG quality 60, cropped 3% at one
edge, brightened 10% (what the service should catch), and flipped, turned 90 degrees,
turned 5 degrees, cropped 10% and 25% (what it is not expected to catch; measured so the
README can say so). Every file goes into the emulator; a real catch-up lists them; the
service's hashing worker (``Fingerprinter``) takes Dropbox thumbnails from the emulator's
``files/get_thumbnail_batch`` (Pillow, as Dropbox makes them) and hashes, indexes and
groups them into a real SQLite store. The figures come from the stored fingerprints
and groups:

- per variant kind, recall (the variant within the distance of its original) and
  precision (of the pairs "original of A, variant of this kind of B" within the
  distance, those with A = B), and how often the variant landed in its original's group;
- the false-match rate: pairs of different photographs (any export of each) within the
  distance, over all such pairs;
- the same at other distances, and for PDQ on the thumbnail as it comes and for
  imagehash's 64-bit pHash (when ``imagehash`` is installed), the measurements behind
  the choice of hash and default distance;
- API calls per new picture (``get_thumbnail_batch`` calls over pictures; downloads).

``bench.near_costs`` measures the catch-up with and without the backlog, the worker's
cost, the neighbour search at a million, and ``/select`` with groups skipped.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.demo import draw_scene
from app.dropbox.client import DropboxClient
from app.metrics import Metrics
from app.services.disk_cache import DiskCache
from app.services.pdq import luminance, pdq
from app.services.perceptual import Unhashable, perceptual_hash
from app.sync.catch_up import CatchUp
from app.sync.fingerprints import SIZE, Fingerprinter
from emulator import Emulator, EmulatorServer
from state.changes import FileKinds
from state.similarity import DEFAULT_DISTANCE, distance
from state.sqlite import SqliteStore
from state.store import ChannelDef, LibraryDef

FOLDER = "/Photos"
PHOTOGRAPHS = (
    "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg", "retina.jpg",
    "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "moon.png",
    "coins.png", "brick.png", "grass.png", "gravel.png", "page.png", "clock_motion.png",
    "cell.png", "horse.png", "text.png", "color.png", "logo.png", "microaneurysms.png",
)  # fmt: skip
CAUGHT = ("resize50", "resize25", "jpeg60", "crop3", "bright10")
NOT_CAUGHT = ("flip", "rotate90", "rotate5", "crop10", "crop25")
DISTANCES = (24, 32, 40, 48, 56)
Picture = Image.Image


def run(scenes: int = 40, photographs: bool = True) -> dict[str, Any]:
    bases = dict(_photographs() if photographs else [])
    bases.update(_scenes(scenes))
    files = {f"{base}__{kind}.jpg": data for base, image in bases.items()
             for kind, data in _exports(image)}  # fmt: skip
    pipeline = _pipeline(files)
    hashes = {name: pipeline["hashes"].get(name) for name in files}
    figures = {
        "photographs": sum(1 for base in bases if not base.startswith("scene")),
        "scenes": scenes,
        "files": len(files),
        "distance": DEFAULT_DISTANCE,
        "unhashable": sorted(name for name, value in hashes.items() if value is None),
        "api": pipeline["api"],
        "worker": pipeline["worker"],
        "quality": _quality(hashes, DEFAULT_DISTANCE, pipeline["groups"]),
        "by_distance": {str(d): _quality(hashes, d, None) for d in DISTANCES},
        "alternatives": _alternatives(pipeline["thumbnails"]),
    }
    figures["figures_line"] = _line(figures)
    return figures


# -- the test set ---------------------------------------------------------------------


def _photographs() -> Iterator[tuple[str, Picture]]:
    """scikit-image's bundled photographs, read from its package folder if installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return
    folder = Path(spec.origin).parent / "data"
    for name in PHOTOGRAPHS:
        if (folder / name).exists():
            with Image.open(folder / name) as image:
                yield name.rsplit(".", 1)[0].replace("_", "-"), image.convert("RGB")


def _scenes(count: int) -> Iterator[tuple[str, Picture]]:
    with tempfile.TemporaryDirectory() as work:
        for seed in range(count):
            path = Path(work) / f"scene{seed}.png"
            draw_scene(path, random.Random(1000 + seed), "bench")
            with Image.open(path) as image:
                yield f"scene{seed}", image.convert("RGB")


def _exports(image: Picture) -> Iterator[tuple[str, bytes]]:
    width, height = image.size
    edge, tenth, quarter = round(width * 0.03), round(width * 0.10), round(width * 0.25)
    yield "original", _jpeg(image)
    yield "resize50", _jpeg(_scaled(image, 0.5))
    yield "resize25", _jpeg(_scaled(image, 0.25))
    yield "jpeg60", _jpeg(image, 60)
    yield "crop3", _jpeg(image.crop((edge, 0, width, height)))
    yield "bright10", _jpeg(ImageEnhance.Brightness(image).enhance(1.1))
    yield "flip", _jpeg(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    yield "rotate90", _jpeg(image.transpose(Image.Transpose.ROTATE_90))
    yield "rotate5", _jpeg(image.rotate(5, resample=Image.Resampling.BICUBIC))
    yield "crop10", _jpeg(image.crop((tenth, 0, width, height)))
    yield "crop25", _jpeg(image.crop((quarter, quarter, width, height)))


def _scaled(image: Picture, factor: float) -> Picture:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg(image: Picture, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# -- the pipeline ---------------------------------------------------------------------


def _pipeline(files: dict[str, bytes]) -> dict[str, Any]:
    """Emulator, catch-up, hashing worker, store: the service's own code end to end."""
    emu = Emulator()
    emu.create_folder(FOLDER)
    for name, data in files.items():
        emu.put_file(f"{FOLDER}/{name}", data)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        settings = _settings(emu, server.base_url, Path(work))
        store = SqliteStore(settings.database_path)
        dropbox = DropboxClient(settings)
        try:
            store.define([LibraryDef("default", FOLDER)], [ChannelDef("default", "default")])
            kinds = FileKinds.of(settings.image_extensions, settings.sidecar_extensions)
            CatchUp(LibraryDef("default", FOLDER), kinds, store.catalog, dropbox).run()
            emu.counters.reset()
            worker = _worker(store, dropbox, Path(work), len(files))
            api = _api(emu, len(files))
            by_hash = {name_hash: name for name, name_hash in _content_hashes(emu).items()}
            stored = dict(store.near.fingerprints("default", None, 1_000_000))
            hashes = {by_hash[h]: value for h, value in stored.items()}
            groups = _groups(store, by_hash)
            thumbnails = _thumbnails(dropbox, list(files))
        finally:
            dropbox.close()
            store.close()
    return {"hashes": hashes, "groups": groups, "api": api, "worker": worker,
            "thumbnails": thumbnails}  # fmt: skip


def _settings(emu: Emulator, base_url: str, work: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dropbox_folder=FOLDER,
        dropbox_base_url=base_url,
        dropbox_access_token=SecretStr(emu.access_token),
        state_dir=work / "state",
    )


def _worker(store: SqliteStore, dropbox: DropboxClient, work: Path, files: int) -> dict[str, Any]:
    """One pass of the hashing worker: wall time, and this thread's own CPU time (the
    emulator renders thumbnails in its own threads)."""
    import threading

    cache = DiskCache(work / "cache", 64 * 1024 * 1024)
    worker = Fingerprinter(
        "default", store.near, dropbox, cache, Metrics(), DEFAULT_DISTANCE, threading.Event()
    )
    started, cpu = time.perf_counter(), time.thread_time()
    recorded = worker.run_once()
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "recorded": recorded,
        "wall_seconds": round(wall, 3),
        "service_cpu_seconds": round(cpu, 3),
        "service_cpu_ms_per_image": round(cpu / files * 1000, 3),
        "wall_ms_per_image": round(wall / files * 1000, 3),
    }


def _api(emu: Emulator, files: int) -> dict[str, Any]:
    batches = emu.counters.calls("files/get_thumbnail_batch")
    return {
        "get_thumbnail_batch": batches,
        "get_thumbnail_v2": emu.counters.calls("files/get_thumbnail_v2"),
        "downloads": emu.counters.calls("files/download"),
        "calls_per_new_image": round(batches / files, 4),
    }


def _content_hashes(emu: Emulator) -> dict[str, str]:
    return {meta.name: meta.content_hash for meta in emu.files(FOLDER).values()}


def _groups(store: SqliteStore, by_hash: dict[str, str]) -> dict[str, int]:
    """File name -> group id in the channel, for files in groups of two or more."""
    found, after = {}, None
    while True:
        page = store.near.near_groups("default", after, 200)
        for group in page.items:
            for member in group.members:
                found[by_hash[member.content_hash]] = group.group_id
        if page.next is None:
            return found
        after = page.next


def _thumbnails(dropbox: DropboxClient, names: list[str]) -> dict[str, bytes | None]:
    """The same thumbnails again, for the alternatives compared below."""
    found: dict[str, bytes | None] = {}
    for start in range(0, len(names), 25):
        batch = names[start : start + 25]
        got = dropbox.thumbnails([f"{FOLDER}/{name}" for name in batch], SIZE)
        found.update(zip(batch, (thumbnail.image for thumbnail in got), strict=True))
    return found


# -- the figures ----------------------------------------------------------------------


def _quality(
    hashes: dict[str, bytes | None], limit: int, groups: dict[str, int] | None
) -> dict[str, Any]:
    return _quality_of(lambda a, b: distance(a, b), hashes, limit, groups)


def _quality_of(
    measure: Callable[[Any, Any], int],
    hashes: dict[str, Any],
    limit: int,
    groups: dict[str, int] | None,
) -> dict[str, Any]:
    names = {name.rsplit(".", 1)[0] for name in hashes}
    bases = sorted({name.split("__")[0] for name in names})

    def value(base: str, kind: str) -> Any:
        return hashes.get(f"{base}__{kind}.jpg")

    kinds: dict[str, Any] = {}
    for kind in CAUGHT + NOT_CAUGHT:
        hits = misses = false = together = 0
        for a in bases:
            original, variant = value(a, "original"), value(a, kind)
            if original is None or variant is None:
                continue
            if measure(original, variant) <= limit:
                hits += 1
            else:
                misses += 1
            if groups is not None:
                together += groups.get(f"{a}__original.jpg", -1) == groups.get(
                    f"{a}__{kind}.jpg", -2
                )
            for b in bases:
                other = value(b, kind)
                if b != a and other is not None and measure(original, other) <= limit:
                    false += 1
        kinds[kind] = {
            "recall": round(hits / max(1, hits + misses), 3),
            "precision": round(hits / (hits + false), 3) if hits + false else None,
            "pairs": hits + misses,
            "false_matches": false,
        }
        if groups is not None:
            kinds[kind]["grouped_with_original"] = round(together / max(1, hits + misses), 3)
    kinds["different_photographs"] = _false_rate(measure, hashes, bases, limit)
    return kinds


def _false_rate(
    measure: Callable[[Any, Any], int], hashes: dict[str, Any], bases: list[str], limit: int
) -> dict[str, Any]:
    """Pairs of exports of two different photographs within ``limit``, over all such pairs."""
    by_base: dict[str, list[Any]] = {}
    for name, value in hashes.items():
        if value is not None:
            by_base.setdefault(name.split("__")[0], []).append(value)
    pairs = matches = 0
    nearest = 10**6
    for a, b in itertools.combinations(bases, 2):
        for x in by_base.get(a, []):
            for y in by_base.get(b, []):
                found = measure(x, y)
                pairs += 1
                matches += found <= limit
                nearest = min(nearest, found)
    return {"pairs": pairs, "matches": matches, "rate": matches / max(1, pairs),
            "nearest": nearest}  # fmt: skip


def _alternatives(thumbnails: dict[str, bytes | None]) -> dict[str, Any]:
    """PDQ on the thumbnail as it comes, and imagehash's pHash, on the same thumbnails."""

    def pdq_raw(data: bytes) -> bytes | None:
        with Image.open(io.BytesIO(data)) as image:
            rgb = np.asarray(image.convert("RGB"), np.uint8)
        hashes, _ = pdq(luminance(rgb[np.newaxis]))
        return bytes(hashes[0].tobytes())

    def pdq64(data: bytes) -> bytes | None:
        try:
            return perceptual_hash(data)
        except Unhashable:
            return None

    makers: dict[str, tuple[Callable[[bytes], Any], tuple[int, ...]]] = {
        "pdq_64x64 (chosen)": (pdq64, DISTANCES),
        "pdq_thumbnail": (pdq_raw, DISTANCES),
    }
    if importlib.util.find_spec("imagehash") is not None:
        import imagehash

        def phash(data: bytes) -> Any:
            with Image.open(io.BytesIO(data)) as image:
                return imagehash.phash(image)

        makers["imagehash_phash_64"] = (phash, (4, 6, 8, 10, 12))
    found: dict[str, Any] = {}
    for label, (make, limits) in makers.items():
        started = time.perf_counter()
        made = {name: (make(data) if data else None) for name, data in thumbnails.items()}
        per_image = (time.perf_counter() - started) / max(1, len(thumbnails)) * 1000
        measure = _hamming if label.startswith("pdq") else _imagehash_distance
        found[label] = {
            "ms_per_image": round(per_image, 3),
            "by_distance": {str(d): _quality_of(measure, made, d, None) for d in limits},
        }
    return found


def _hamming(a: bytes, b: bytes) -> int:
    return distance(a, b)


def _imagehash_distance(a: Any, b: Any) -> int:
    return int(a - b)


def _line(figures: dict[str, Any]) -> str:
    quality = figures["quality"]
    recalls = ", ".join(f"{k} {quality[k]['recall']:.0%}" for k in CAUGHT)
    false = quality["different_photographs"]
    return (
        f"distance {figures['distance']}: recall {recalls}; false matches "
        f"{false['matches']}/{false['pairs']}; {figures['api']['calls_per_new_image']} calls "
        f"per new picture, {figures['api']['downloads']} downloads"
    )
