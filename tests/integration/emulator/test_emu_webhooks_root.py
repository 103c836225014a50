"""Signed webhooks checked by an independent receiver, and ``--root`` directory mirroring."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dropbox
import pytest
import requests

from emulator import Emulator, EmulatorServer, account_id_for, signature
from tests.waiting import wait_until

SECRET = "the_secret"


def test_signature_matches_the_checked_vector() -> None:
    body = b'{"delta": {"users": [12345]}}'
    expected = "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529"
    assert signature(SECRET, body) == expected


class Receiver:
    """A stdlib HTTP server that verifies X-Dropbox-Signature on its own."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.attempts = 0
        self.verified: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                mac = hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                good = hmac.compare_digest(mac, self.headers.get("X-Dropbox-Signature", ""))
                failing = receiver.attempts <= receiver.fail_first
                self.send_response(500 if failing else 200 if good else 403)
                self.end_headers()
                if good and not failing:
                    receiver.verified.append(json.loads(body))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def signed_emulator() -> Emulator:
    return Emulator(app_secret=SECRET)


def test_webhook_is_signed_and_names_the_account(signed_emulator: Emulator) -> None:
    with Receiver(SECRET) as receiver, EmulatorServer(signed_emulator):
        signed_emulator.register_webhook(receiver.url)
        signed_emulator.put_file("/Photos/a.jpg", b"a")
        wait_until(lambda: len(receiver.verified) >= 1)
    notification = receiver.verified[0]
    assert notification["list_folder"] == {"accounts": [signed_emulator.account_id]}
    assert notification["delta"] == {"users": [signed_emulator.user_id]}


def test_each_accounts_changes_name_that_account(signed_emulator: Emulator) -> None:
    other = Emulator(app_secret=SECRET, account_id=account_id_for("other"))
    with Receiver(SECRET) as receiver, EmulatorServer(signed_emulator, other) as server:
        server.register_webhook(receiver.url)
        other.put_file("/Photos/b.jpg", b"b")
        wait_until(lambda: len(receiver.verified) == 1)
        signed_emulator.put_file("/Photos/a.jpg", b"a")
        wait_until(lambda: len(receiver.verified) == 2)
    assert receiver.verified == [
        {"list_folder": {"accounts": [other.account_id]}, "delta": {"users": [other.user_id]}},
        {
            "list_folder": {"accounts": [signed_emulator.account_id]},
            "delta": {"users": [signed_emulator.user_id]},
        },
    ]
    assert other.user_id != signed_emulator.user_id


def test_failed_delivery_is_retried_with_backoff(signed_emulator: Emulator) -> None:
    signed_emulator.webhooks.initial_backoff = 0.1
    with Receiver(SECRET, fail_first=2) as receiver, EmulatorServer(signed_emulator):
        signed_emulator.register_webhook(receiver.url)
        signed_emulator.put_file("/Photos/a.jpg", b"a")
        wait_until(lambda: len(receiver.verified) == 1)
    assert receiver.attempts == 3


def test_undeliverable_webhook_is_dropped_after_the_window(signed_emulator: Emulator) -> None:
    sender = signed_emulator.webhooks
    sender.initial_backoff, sender.retry_window = 0.05, 0.3
    with Receiver(SECRET, fail_first=1000) as receiver, EmulatorServer(signed_emulator):
        signed_emulator.register_webhook(receiver.url)
        signed_emulator.put_file("/a.jpg", b"a")
        wait_until(lambda: sender.dropped == 1)
    assert receiver.attempts >= 2 and receiver.verified == []


# --- --root mode --------------------------------------------------------------------


@pytest.fixture
def rooted(
    tmp_path: Path, connect: Callable[..., dropbox.Dropbox]
) -> Iterator[tuple[Emulator, dropbox.Dropbox, Path]]:
    (tmp_path / "Photos").mkdir()
    (tmp_path / "Photos" / "first.jpg").write_bytes(b"first")
    emu = Emulator(root=tmp_path)
    with EmulatorServer(emu) as server:
        yield emu, connect(server, oauth2_access_token=emu.access_token), tmp_path


def test_root_mode_picks_up_a_new_file(rooted: tuple[Emulator, dropbox.Dropbox, Path]) -> None:
    emu, dbx, root = rooted
    listed = dbx.files_list_folder("/Photos")
    assert [e.name for e in listed.entries] == ["first.jpg"]
    (root / "Photos" / "dropped.jpg").write_bytes(b"dropped in")
    # Writing is two steps (create, then write), and a reconcile may fall between them,
    # mirroring an empty file first: then the whole file is a second revision, listed after.
    wait_until(lambda: _size(emu, "/Photos", "/photos/dropped.jpg") == len(b"dropped in"))
    entries = dbx.files_list_folder_continue(listed.cursor).entries
    assert {e.path_lower for e in entries} == {"/photos/dropped.jpg"}
    assert entries[-1].size == len(b"dropped in")
    meta, response = dbx.files_download("/Photos/dropped.jpg")
    with response:
        assert response.content == b"dropped in"


def _size(emu: Emulator, folder: str, path_lower: str) -> int | None:
    meta = emu.files(folder).get(path_lower)
    return None if meta is None else meta.size


def test_root_mode_sees_changes_removals_and_renames(
    rooted: tuple[Emulator, dropbox.Dropbox, Path],
) -> None:
    emu, _, root = rooted
    cursor = emu.lister.start("/Photos", False, False, None).encode()
    photo = root / "Photos" / "first.jpg"
    photo.write_bytes(b"changed bytes")
    wait_until(lambda: emu.files("/Photos")["/photos/first.jpg"].size == len(b"changed bytes"))
    photo.rename(root / "Photos" / "renamed.jpg")
    wait_until(lambda: list(emu.files("/Photos")) == ["/photos/renamed.jpg"])
    (root / "Photos" / "renamed.jpg").unlink()
    wait_until(lambda: emu.files("/Photos") == {})
    kinds = [type(e).__name__ for e in emu.lister.continue_(cursor).entries]
    assert kinds == ["FileMeta", "DeletedMeta", "FileMeta", "DeletedMeta"]


def test_root_mode_move_via_api_moves_on_disk(
    rooted: tuple[Emulator, dropbox.Dropbox, Path],
) -> None:
    emu, dbx, root = rooted
    moved = dbx.files_move_v2("/Photos/first.jpg", "/Archive/first.jpg").metadata
    assert moved.path_display == "/Archive/first.jpg"
    assert (root / "Archive" / "first.jpg").read_bytes() == b"first"
    assert not (root / "Photos" / "first.jpg").exists()


def test_cli_serves_a_directory_per_account(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for root, name in ((first, "a.jpg"), (second, "b.jpg")):
        root.mkdir()
        (root / name).write_bytes(b"x")
    command = [sys.executable, "-m", "emulator", "--root", str(first), "--port", "0"]
    command += ["--account-root", str(second)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip().split("=", 1) for _ in range(8)]
        assert [key for key, _ in lines] == [
            "base_url",
            *("access_token", "refresh_token", "account_id"),
            "account_root",
            *("access_token", "refresh_token", "account_id"),
        ]
        base_url = lines[0][1]
        wait_until(lambda: _answers(base_url), timeout=10)
        assert _names(base_url, lines[1][1]) == ["a.jpg"]
        assert _names(base_url, lines[5][1]) == ["b.jpg"]
        assert lines[3][1] != lines[7][1]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _names(base_url: str, token: str) -> list[str]:
    reply = requests.post(
        base_url + "/2/files/list_folder",
        json={"path": ""},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return [entry["name"] for entry in reply.json()["entries"]]


def _answers(base_url: str) -> bool:
    try:
        requests.post(base_url + "/2/users/get_current_account", timeout=1)
    except requests.ConnectionError:
        return False
    return True


def test_root_mode_autorename_renames_on_disk(
    rooted: tuple[Emulator, dropbox.Dropbox, Path],
) -> None:
    emu, dbx, root = rooted
    (root / "Archive").mkdir()
    (root / "Archive" / "first.jpg").write_bytes(b"already here")
    wait_until(lambda: "/archive/first.jpg" in emu.files("/Archive"))
    moved = dbx.files_move_v2("/Photos/first.jpg", "/Archive/first.jpg", autorename=True)
    assert moved.metadata.path_display == "/Archive/first (1).jpg"
    assert (root / "Archive" / "first (1).jpg").read_bytes() == b"first"
    assert (root / "Archive" / "first.jpg").read_bytes() == b"already here"


def test_a_cursor_from_an_earlier_run_over_the_same_root_is_reset(
    tmp_path: Path, connect: Callable[..., dropbox.Dropbox]
) -> None:
    """Positions restart with each journal: resuming would show the deleted file as present
    and miss the added one, so the earlier run's cursor must answer reset."""
    (tmp_path / "kept.jpg").write_bytes(b"kept")
    (tmp_path / "doomed.jpg").write_bytes(b"doomed")
    first = Emulator(root=tmp_path)
    with EmulatorServer(first) as server:
        cursor = connect(server, oauth2_access_token=first.access_token).files_list_folder("")
    (tmp_path / "doomed.jpg").unlink()
    (tmp_path / "added.jpg").write_bytes(b"added")
    second = Emulator(root=tmp_path)
    with EmulatorServer(second) as server:
        dbx = connect(server, oauth2_access_token=second.access_token)
        with pytest.raises(dropbox.exceptions.ApiError) as resumed:
            dbx.files_list_folder_continue(cursor.cursor)
        assert resumed.value.error.is_reset()
        with pytest.raises(dropbox.exceptions.ApiError) as polled:
            dbx.files_list_folder_longpoll(cursor.cursor, timeout=30)
        assert polled.value.error.is_reset()
        fresh = dbx.files_list_folder("")
    assert sorted(e.name for e in fresh.entries) == ["added.jpg", "kept.jpg"]
