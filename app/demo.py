"""The demo: the emulator over a folder of sample images, and the service wired to it.

``python -m app demo`` needs no Dropbox account. On first run it draws a few dozen small
JPEG and PNG images into ``DATA/Dropbox/Photos`` (some exact duplicates under other
names, some with ``.txt`` sidecars, one over 4 MiB). Then, in this one process, the
emulator serves ``DATA/Dropbox`` as a Dropbox account and sends signed webhooks to the
service's ``/webhook``; the service lists ``/Photos`` and keeps its catalog in
``DATA/state``. A file dropped into the folder is seen by the emulator's directory
watch, announced by a webhook, and caught up within about a second.

``Demo`` builds and stops the two servers; ``run_demo`` is the command's output layer:
it prints the URLs, the API token and three ``curl`` lines, then waits for Ctrl-C. The
command (``app.cli.service``) holds ``DATA/state`` for the run before it imports this
module: a second demo, or a ``serve`` with that ``STATE_DIR``, is refused.
"""

from __future__ import annotations

import logging
import random
import secrets
import shlex
import shutil
import signal
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpx
from PIL import Image, ImageDraw
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.errors import UnpostedError
from app.log import setup_logging
from app.main import create_app
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer
from state.hashing import content_hash

FOLDER = "/Photos"
ARCHIVE = "/Posted"
_SUBJECTS = ("harbor", "meadow", "skyline", "forest", "dunes", "glacier", "orchard", "canyon")
_VARIANTS = 4  # 8 subjects x 4 = 32 distinct images
_DUPLICATES = {  # copy -> original: the same bytes under another name
    "harbor-1-copy.jpg": "harbor-1.jpg",
    "IMG_0042.jpg": "skyline-2.jpg",
    "meadow-3-again.png": "meadow-3.png",
    "FOREST-1-COPY.JPG": "forest-1.jpg",  # paths are case-insensitive: not FOREST-1.JPG
}
LARGE_IMAGE = "panorama-large.png"
_LARGE_SIZE = (1600, 1000)  # random RGB noise barely compresses: about 4.8 MB
_FOUR_MIB = 4 * 1024 * 1024


# --- sample images -------------------------------------------------------------------


def create_samples(folder: Path) -> bool:
    """Fill ``folder`` with sample images unless it exists; True when it was created."""
    if folder.exists():
        return False
    draft = folder.with_name(folder.name + ".partial")
    shutil.rmtree(draft, ignore_errors=True)
    draft.mkdir(parents=True)
    _draw_samples(draft)
    draft.rename(folder)  # all or nothing: an interrupted first run starts over
    return True


def _draw_samples(folder: Path) -> None:
    for number, subject in enumerate(_SUBJECTS):
        for variant in range(1, _VARIANTS + 1):
            name = f"{subject}-{variant}.{'png' if variant == 3 else 'jpg'}"
            draw_scene(folder / name, random.Random(number * 100 + variant), subject)
            if variant in (1, 2):
                caption = f"{subject.title()}, study {variant}. #unposted #demo\n"
                (folder / name).with_suffix(".txt").write_text(caption)
    for copy, original in _DUPLICATES.items():
        shutil.copyfile(folder / original, folder / copy)
    _draw_noise(folder / LARGE_IMAGE)


def draw_scene(path: Path, rng: random.Random, subject: str) -> None:
    """A small landscape: a sky gradient, a sun, two hills and a label."""
    width, height = 480, 320
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top, bottom = _colour(rng), _colour(rng)
    for y in range(height):
        mix = y / (height - 1)
        draw.line([(0, y), (width, y)], fill=_blend(top, bottom, mix))
    x, y, r = rng.randint(60, 420), rng.randint(40, 140), rng.randint(20, 45)
    draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 230, 150))
    for base in (rng.randint(200, 250), rng.randint(240, 290)):
        peak = (rng.randint(0, width), base - rng.randint(40, 120))
        draw.polygon([(0, height), (0, base), peak, (width, base), (width, height)], _colour(rng))
    draw.text((12, height - 24), f"unposted demo: {path.stem} ({subject})", fill=(255, 255, 255))
    if path.suffix == ".jpg":
        image.save(path, quality=85)
    else:
        image.save(path)


def _draw_noise(path: Path) -> None:
    width, height = _LARGE_SIZE
    noise = random.Random(4).randbytes(width * height * 3)
    Image.frombytes("RGB", (width, height), noise).save(path)
    if path.stat().st_size <= _FOUR_MIB:
        raise UnpostedError(f"{path.name} came out at most 4 MiB; make it larger")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], mix: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * mix) for x, y in zip(a, b, strict=True))


# --- the two servers ---------------------------------------------------------------


class Demo:
    """The emulator serving ``DATA/Dropbox`` and the service wired to it, on 127.0.0.1."""

    def __init__(
        self,
        data: Path,
        port: int = 8000,
        log_format: Literal["json", "console"] = "console",
    ) -> None:
        self.data = data
        self.port = port
        self.log_format: Literal["json", "console"] = log_format
        self.api_token = secrets.token_urlsafe(24)
        self.samples_created = False
        self.settings: Settings | None = None
        self._emulator: EmulatorServer | None = None
        self._service: ThreadedServer | None = None

    @property
    def folder(self) -> Path:
        return self.data / "Dropbox" / FOLDER.strip("/")

    @property
    def state_dir(self) -> Path:
        return self.data / "state"

    @property
    def service_url(self) -> str:
        assert self._service is not None, "the demo is not running"
        return self._service.base_url

    @property
    def emulator_url(self) -> str:
        assert self._emulator is not None, "the demo is not running"
        return self._emulator.base_url

    def start(self, timeout: float = 60.0) -> Self:
        self.samples_created = create_samples(self.folder)
        emulator = Emulator(app_secret=secrets.token_hex(16), root=self.data / "Dropbox")
        self._emulator = EmulatorServer(emulator).start()
        try:
            self.settings = self._settings(emulator)
            self._service = ThreadedServer(create_app(self.settings), port=self.port)
            self._service.start()
            emulator.register_webhook(self.service_url + "/webhook")
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
            self._service = None
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def curl_lines(self) -> dict[str, str]:
        """Ready-to-paste commands for ``select``, ``posted`` and ``status``."""
        auth = f"-H {shlex.quote('Authorization: Bearer ' + self.api_token)}"
        json_body = "-H 'Content-Type: application/json' -d"
        posted = shlex.quote(f'{{"content_hash": "{self.example_content_hash()}"}}')
        return {
            "select": f"curl -s -X POST {self.service_url}/select {auth} {json_body} '{{}}'",
            "posted": f"curl -s -X POST {self.service_url}/posted {auth} {json_body} {posted}",
            "status": f"curl -s {self.service_url}/status {auth}",
        }

    def example_content_hash(self) -> str:
        """The content hash of the first sample image, for the ``posted`` example."""
        return content_hash((self.folder / f"{_SUBJECTS[0]}-1.jpg").read_bytes())

    def _settings(self, emulator: Emulator) -> Settings:
        assert self._emulator is not None
        return Settings(  # type: ignore[call-arg]
            _env_file=None,  # a .env holds the real account's credentials, never the demo's
            dropbox_folder=FOLDER,
            dropbox_base_url=self._emulator.base_url,
            dropbox_app_key=emulator.app_key,
            dropbox_app_secret=SecretStr(emulator.app_secret),
            dropbox_access_token=SecretStr(emulator.access_token),
            dropbox_refresh_token=None,
            archive_folder=ARCHIVE,
            state_dir=self.state_dir,
            api_token=SecretStr(self.api_token),
            sync_mode="webhook",
            log_format=self.log_format,
        )

    def _wait_ready(self, timeout: float) -> None:
        """Until the catalog is ready and its pictures are fingerprinted (until then the
        channel holds them back, and the first ``select`` would find none)."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.api_token}"}
        with httpx.Client(base_url=self.service_url, timeout=5, headers=headers) as client:
            while not self._ready(client):
                if time.monotonic() > deadline:
                    raise UnpostedError(f"the demo service was not ready within {timeout:.0f} s")
                time.sleep(0.05)

    @staticmethod
    def _ready(client: httpx.Client) -> bool:
        if client.get("/readyz").status_code != 200:
            return False
        return bool(client.get("/status").json().get("awaiting_fingerprint", 0) == 0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- the command ---------------------------------------------------------------------


def run_demo(data: Path, port: int, log_format: Literal["json", "console"]) -> int:
    """Start the demo, print how to use it, serve until Ctrl-C (or SIGTERM), stop cleanly."""
    setup_logging("INFO", log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per webhook the emulator sends
    started = time.monotonic()
    stop = threading.Event()
    demo = Demo(data, port, log_format)
    print(f"unposted demo: starting over {data / 'Dropbox'} ...", flush=True)
    with demo:
        # Set explicitly: a shell starting the demo in the background ignores SIGINT.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda number, frame: stop.set())
        print(banner(demo, time.monotonic() - started), flush=True)
        while not stop.wait(0.5):
            pass
        print("unposted demo: stopping", flush=True)
    print("unposted demo: stopped", flush=True)
    return 0


def banner(demo: Demo, seconds: float) -> str:
    """What an operator needs to try the demo, ready to paste."""
    drawn = " (sample images drawn on this first run)" if demo.samples_created else ""
    curl = demo.curl_lines()
    lease = f"{demo.settings.lease_seconds / 60:g} minutes" if demo.settings else "a while"
    return "\n".join(
        [
            f"unposted demo ready in {seconds:.1f} s{drawn}",
            "",
            f"  service    {demo.service_url}",
            f"  console    {demo.service_url}/  (sign in with the API token; API: /docs)",
            f"  emulator   {demo.emulator_url}  (Dropbox API v2 over {demo.data / 'Dropbox'})",
            f"  folder     {demo.folder}  (drop a .jpg or .png here: selectable within a second)",
            f"  API token  {demo.api_token}",
            "",
            f"Select an image (leased to you for {lease}):",
            f"  {curl['select']}",
            f"Record an image as posted (here {_SUBJECTS[0]}-1.jpg):",
            f"  {curl['posted']}",
            "Catalog counts:",
            f"  {curl['status']}",
            "",
            f"Ctrl-C stops the demo; the catalog stays in {demo.data / 'state'}.",
        ]
    )
