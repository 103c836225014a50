"""Many libraries and channels in one service: does ``/select`` cost the same as with one?

Two services run side by side on one emulator, each over ``total`` images loaded by the
bulk loader: one with a single library and channel, and one with ``count`` libraries of
``total / count`` images, each with its own channel, defined by a configuration file.
``wrk`` (16 connections, its own process) sends previews: to ``/channels/default/select``
for the first, and to a channel picked at random for every request for the second. The
rounds alternate between the two, so slow moments of a shared machine fall on both.

    python -m bench.channels [--count 50] [--total 50000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import select_load
from bench.load import CONNECTIONS, Target, measure, probe
from bench.select_load import _free_port
from bench.strategies import API_TOKEN, sdk_client, wait_for
from emulator import Emulator, EmulatorServer
from state.sqlite.bulk import bulk_load


def run(
    count: int = 50, total: int = 50_000, seconds: float = 10.0, rounds: int = 2
) -> dict[str, Any]:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (make bench installs it as root)")
    emu = Emulator()
    folders = [f"/Photos/l{n:02d}" for n in range(count)]
    for folder in ["/Photos/one", *folders]:
        emu.create_folder(folder)
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-channels-")))
        per = total // count
        configs = [
            _filled(emu, server.base_url, work / "one", {"default": ("/Photos/one", total)}),
            _filled(emu, server.base_url, work / "many",
                    {f"l{n:02d}": (f, per) for n, f in enumerate(folders)}),
        ]  # fmt: skip
        # both start side by side: the sooner both are ready
        services = [
            stack.enter_context(started(emu, server.base_url, config.parent, config))
            for config in configs
        ]
        for service in services:
            service.wait_ready()
        one, many = (service.base_url for service in services)
        runs: dict[str, list[dict[str, Any]]] = {"one": [], "many": []}
        for _ in range(rounds):
            runs["one"].append(_wrk(one, ["/channels/default/select"], seconds, work))
            paths = [f"/channels/l{n:02d}/select" for n in range(count)]
            runs["many"].append(_wrk(many, paths, seconds, work))
    one_rps = statistics.median(r["requests_per_second"] for r in runs["one"])
    many_rps = statistics.median(r["requests_per_second"] for r in runs["many"])
    return {
        "benchmark": "channels",
        "libraries": count,
        "images": total,
        "one": {"requests_per_second": one_rps, "runs": runs["one"]},
        "many": {"requests_per_second": many_rps, "runs": runs["many"]},
        "many_vs_one_throughput": round(many_rps / one_rps, 3),
    }


def _filled(
    emu: Emulator, emulator_url: str, state: Path, libraries: dict[str, tuple[str, int]]
) -> Path:
    """The configuration file of a service over ``libraries`` (name: folder, images), each
    with a channel of its name, and its catalog loaded beside it."""
    database = state / "unposted.sqlite3"
    config = state / "unposted.toml"
    state.mkdir(parents=True)
    lines = []
    for seed, (name, (folder, size)) in enumerate(libraries.items()):
        bulk_load(database, size, _cursor(emulator_url, emu.access_token, folder),
                  folder=folder, seed=seed, library=name, channel=name)  # fmt: skip
        lines += [f'[libraries.{name}]\nfolder = "{folder}"\n',
                  f'[channels.{name}]\nlibrary = "{name}"\n']  # fmt: skip
    config.write_text("\n".join(lines))
    return config


@contextmanager
def serving(
    emu: Emulator, emulator_url: str, state: Path, config: Path, **env_extra: str
) -> Iterator[str]:
    """``python -m app serve`` on ``config`` and the state in ``state``, wired to the
    emulator, until ready (300 s at most); its base URL, stopped when done."""
    with started(emu, emulator_url, state, config, **env_extra) as service:
        service.wait_ready()
        yield service.base_url


@dataclass(frozen=True)
class Started:
    """A ``serve`` process, and where it answers once ready."""

    process: select_load.Process
    base_url: str

    def wait_ready(self) -> None:
        """Until it is ready (300 s at most); an error if it exits first."""
        wait_for(lambda: _ready(self.process, self.base_url), timeout=300)


@contextmanager
def started(
    emu: Emulator, emulator_url: str, state: Path, config: Path, **env_extra: str
) -> Iterator[Started]:
    """``serving`` without the wait: the service is started, not yet ready."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "UNPOSTED_"))},
        "UNPOSTED_CONFIG": str(config), "DROPBOX_BASE_URL": emulator_url,
        "DROPBOX_ACCESS_TOKEN": emu.access_token, "DROPBOX_APP_KEY": emu.app_key,
        "DROPBOX_APP_SECRET": emu.app_secret, "API_TOKEN": API_TOKEN, "STATE_DIR": str(state),
        "LOG_LEVEL": "WARNING", **env_extra,
    }  # fmt: skip
    log = (state / "service.log").open("wb")
    process = select_load.start_app(["serve", "--port", str(port)], env, state, log)
    try:
        yield Started(process, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _cursor(emulator_url: str, access_token: str, folder: str) -> str:
    sdk = sdk_client(emulator_url, access_token)
    try:
        return str(sdk.files_list_folder_get_latest_cursor(folder, limit=2000).cursor)
    finally:
        sdk.close()


def _ready(process: select_load.Process, base_url: str) -> bool:
    if process.poll() is not None:
        raise RuntimeError("the service exited early")
    try:
        return probe(base_url + "/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _wrk(base_url: str, paths: list[str], seconds: float, work: Path) -> dict[str, Any]:
    """Previews, each to one of ``paths`` picked at random."""
    target = Target(f"channels-{len(paths)}", paths[0], '{"dry_run": true}', paths=tuple(paths))
    return measure(base_url, target, seconds, CONNECTIONS, "wrk", work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--total", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(run(args.count, args.total, args.seconds), indent=2))


if __name__ == "__main__":
    main()
