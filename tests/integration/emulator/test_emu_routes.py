"""Every route driven through the real dropbox SDK over HTTP."""

from __future__ import annotations

import hashlib
import threading

import dropbox
import pytest
import requests
from dropbox import files
from dropbox.exceptions import ApiError, BadInputError

from emulator import Emulator, EmulatorServer
from tests.waiting import wait_until


def test_list_folder_pages_10000_files_with_limit_2000(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.bulk_generate("/Photos", 10_000)
    result = dbx.files_list_folder("/Photos", limit=2000)
    names, pages = [e.path_lower for e in result.entries], 1
    while result.has_more:
        result = dbx.files_list_folder_continue(result.cursor)
        names += [e.path_lower for e in result.entries]
        pages += 1
    assert pages >= 5
    assert len(names) == len(set(names)) == 10_000
    assert set(names) == set(emulator.files("/Photos"))
    first = emulator.files("/Photos")[names[0]]
    entry = dbx.files_get_metadata(names[0])
    assert isinstance(entry, files.FileMetadata)
    assert (entry.content_hash, entry.rev, entry.id) == (first.content_hash, first.rev, first.id)


def test_continue_returns_changes_then_an_empty_page(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    cursor = dbx.files_list_folder("/Photos").cursor
    emulator.put_file("/Photos/b.jpg", b"b")
    emulator.delete("/Photos/a.jpg")
    result = dbx.files_list_folder_continue(cursor)
    assert [(type(e), e.path_lower) for e in result.entries] == [
        (files.FileMetadata, "/photos/b.jpg"),
        (files.DeletedMetadata, "/photos/a.jpg"),
    ]
    empty = dbx.files_list_folder_continue(result.cursor)
    assert empty.entries == [] and not empty.has_more and empty.cursor


def test_get_latest_cursor_sees_only_later_changes(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Photos/old.jpg", b"o")
    cursor = dbx.files_list_folder_get_latest_cursor("/Photos", recursive=True).cursor
    emulator.put_file("/Photos/new.jpg", b"n")
    entries = dbx.files_list_folder_continue(cursor).entries
    assert [e.path_lower for e in entries] == ["/photos/new.jpg"]


def test_list_folder_errors(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.put_file("/file.jpg", b"x")
    with pytest.raises(ApiError) as missing:
        dbx.files_list_folder("/nope")
    assert missing.value.error.is_path() and missing.value.error.get_path().is_not_found()
    with pytest.raises(ApiError) as not_folder:
        dbx.files_list_folder("/file.jpg")
    assert not_folder.value.error.get_path().is_not_folder()
    with pytest.raises(BadInputError, match="empty string"):
        dbx.files_list_folder("/")


@pytest.mark.parametrize("body", [{"path": "", "limit": 0}, {"path": "", "limit": 2001}, {}])
def test_bad_arguments_get_400_plain_text(
    emulator: Emulator, emulator_server: EmulatorServer, body: dict[str, object]
) -> None:
    reply = requests.post(
        emulator_server.base_url + "/2/files/list_folder",
        json=body,
        headers={"Authorization": f"Bearer {emulator.access_token}"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.text.startswith('Error in call to API function "files/list_folder"')


def test_folder_deleted_under_a_cursor_is_path_not_found(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    cursor = dbx.files_list_folder("/Photos").cursor
    emulator.delete("/Photos")
    with pytest.raises(ApiError) as gone:
        dbx.files_list_folder_continue(cursor)
    assert gone.value.error.is_path() and gone.value.error.get_path().is_not_found()


def test_reset_after_invalidation(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    cursor = dbx.files_list_folder("").cursor
    emulator.invalidate_cursors()
    with pytest.raises(ApiError) as reset:
        dbx.files_list_folder_continue(cursor)
    assert reset.value.error.is_reset()


def test_longpoll_wakes_on_a_change(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.create_folder("/Photos")
    cursor = dbx.files_list_folder("/Photos").cursor
    results: list[files.ListFolderLongpollResult] = []
    poller = threading.Thread(
        target=lambda: results.append(dbx.files_list_folder_longpoll(cursor, timeout=480))
    )
    poller.start()
    wait_until(lambda: emulator.counters.in_flight("files/list_folder/longpoll") == 1)
    emulator.put_file("/Photos/new.jpg", b"n")
    poller.join(20)  # far below the 480 s timeout: only the change can have ended it
    assert [r.changes for r in results] == [True]
    assert emulator.counters.calls("files/list_folder/longpoll", 200) == 1


def test_longpoll_needs_no_auth_and_validates_its_timeout(
    emulator_server: EmulatorServer, dbx: dropbox.Dropbox
) -> None:
    """The SDK refuses a timeout under 30 itself, so this one goes over plain HTTP."""
    cursor = dbx.files_list_folder("").cursor
    url = emulator_server.base_url + "/2/files/list_folder/longpoll"
    short = requests.post(url, json={"cursor": cursor, "timeout": 10}, timeout=5)
    assert short.status_code == 400
    garbled = requests.post(url, json={"cursor": "AAEnonsense", "timeout": 30}, timeout=5)
    assert garbled.status_code == 400


def test_download_returns_bytes_and_metadata(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    meta = emulator.put_file("/Photos/Big.jpg", size=5 * 2**20, seed=3)
    result, response = dbx.files_download("/photos/big.JPG")
    with response:
        body = response.content
    assert body == emulator.read("/Photos/Big.jpg")
    assert (result.content_hash, result.size, result.path_display) == (
        meta.content_hash,
        5 * 2**20,
        "/Photos/Big.jpg",
    )
    assert emulator.counters.calls("files/download", 200) == 1
    assert emulator.counters.bytes_served("files/download") == 5 * 2**20
    with pytest.raises(ApiError) as missing:
        dbx.files_download("/Photos/none.jpg")
    assert missing.value.error.get_path().is_not_found()


def test_temporary_link_serves_bytes_then_expires(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.put_file("/Photos/a.jpg", b"jpeg bytes")
    emulator.temp_link_ttl = 0.5
    link = dbx.files_get_temporary_link("/Photos/a.jpg")
    assert link.metadata.path_lower == "/photos/a.jpg"
    fetched = requests.get(link.link, timeout=5)
    assert fetched.status_code == 200 and fetched.content == b"jpeg bytes"
    assert emulator.counters.bytes_served("temp_link") == len(b"jpeg bytes")
    wait_until(lambda: requests.get(link.link, timeout=5).status_code == 410)


def test_move_v2(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    original = emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    cursor = dbx.files_list_folder("/Photos").cursor
    moved = dbx.files_move_v2("/Photos/a.jpg", "/Archive/a.jpg").metadata
    assert isinstance(moved, files.FileMetadata)
    assert (moved.path_display, moved.id) == ("/Archive/a.jpg", original.id)
    entries = dbx.files_list_folder_continue(cursor).entries
    assert [(type(e), e.path_lower) for e in entries] == [(files.DeletedMetadata, "/photos/a.jpg")]
    folder = dbx.files_move_v2("/Archive", "/Archived").metadata
    assert isinstance(folder, files.FolderMetadata)
    with pytest.raises(ApiError) as missing:
        dbx.files_move_v2("/Photos/a.jpg", "/x.jpg")
    assert missing.value.error.is_from_lookup()
    with pytest.raises(ApiError) as conflict:
        dbx.files_move_v2("/Photos/b.jpg", "/Archived/a.jpg")
    assert conflict.value.error.get_to().get_conflict().is_file()


def test_get_current_account(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    account = dbx.users_get_current_account()
    assert account.account_id == emulator.account_id
    assert account.name.display_name


def test_get_metadata_of_a_folder_and_of_nothing(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.create_folder("/Photos")
    assert isinstance(dbx.files_get_metadata("/PHOTOS"), files.FolderMetadata)
    with pytest.raises(ApiError) as missing:
        dbx.files_get_metadata("/nope")
    assert missing.value.error.get_path().is_not_found()
    meta = emulator.put_file("/Photos/a.jpg", b"a")
    assert dbx.files_get_metadata(meta.id).path_lower == "/photos/a.jpg"
    emulator.delete("/Photos/a.jpg")
    with pytest.raises(ApiError):
        dbx.files_get_metadata(meta.id)
    deleted = dbx.files_get_metadata("/Photos/a.jpg", include_deleted=True)
    assert isinstance(deleted, files.DeletedMetadata)


def test_stopping_the_server_ends_a_pending_longpoll(emulator: Emulator) -> None:
    server = EmulatorServer(emulator).start()
    url = server.base_url + "/2/files/list_folder/longpoll"
    cursor = emulator.lister.start("", True, False, None).encode()
    replies: list[requests.Response] = []
    poller = threading.Thread(
        target=lambda: replies.append(
            requests.post(url, json={"cursor": cursor, "timeout": 480}, timeout=30)
        )
    )
    poller.start()
    wait_until(lambda: emulator.counters.in_flight("files/list_folder/longpoll") == 1)
    server.stop()
    poller.join(20)  # far below the 480 s timeout: only the stop can have ended it
    assert replies and replies[0].json() == {"changes": False}


def test_move_v2_autorename_returns_the_name_chosen(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Archive/a.jpg", b"old")
    emulator.put_file("/Photos/a.jpg", b"new")
    emulator.put_file("/Photos/b.jpg", b"b")
    emulator.create_folder("/Archive/Sub")
    emulator.create_folder("/Photos/Sub")
    cursor = dbx.files_list_folder("/Archive").cursor
    with pytest.raises(ApiError) as conflict:
        dbx.files_move_v2("/Photos/a.jpg", "/Archive/a.jpg")
    assert conflict.value.error.get_to().get_conflict().is_file()
    moved = dbx.files_move_v2("/Photos/a.jpg", "/Archive/a.jpg", autorename=True).metadata
    assert (moved.name, moved.path_lower) == ("a (1).jpg", "/archive/a (1).jpg")
    again = dbx.files_move_v2("/Photos/b.jpg", "/Archive/a.jpg", autorename=True).metadata
    assert again.path_display == "/Archive/a (2).jpg"
    folder = dbx.files_move_v2("/Photos/Sub", "/Archive/Sub", autorename=True).metadata
    assert isinstance(folder, files.FolderMetadata) and folder.name == "Sub (1)"
    entries = dbx.files_list_folder_continue(cursor).entries
    assert [e.path_lower for e in entries] == [
        "/archive/a (1).jpg",
        "/archive/a (2).jpg",
        "/archive/sub (1)",
    ]
    assert emulator.read("/Archive/a.jpg") == b"old"


@pytest.mark.parametrize("bad", ["/Photos/", "/Photos ", "/Photos\t", "/Photos/a.jpg/"])
def test_paths_ending_in_a_slash_or_whitespace_are_malformed(
    emulator: Emulator, dbx: dropbox.Dropbox, bad: str
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    calls = [
        lambda: dbx.files_list_folder(bad),
        lambda: dbx.files_list_folder_get_latest_cursor(bad),
        lambda: dbx.files_get_metadata(bad),
        lambda: dbx.files_get_temporary_link(bad),
        lambda: dbx.files_download(bad),
    ]
    for call in calls:
        with pytest.raises(ApiError) as malformed:
            call()
        assert malformed.value.error.get_path().is_malformed_path(), call
    with pytest.raises(ApiError) as source:
        dbx.files_move_v2(bad, "/Elsewhere/a.jpg")
    assert source.value.error.get_from_lookup().is_malformed_path()
    with pytest.raises(ApiError) as destination:
        dbx.files_move_v2("/Photos/a.jpg", bad)
    assert destination.value.error.get_to().is_malformed_path()
    assert emulator.files() == {"/photos/a.jpg": emulator.files()["/photos/a.jpg"]}


def test_malformed_path_wire_shape(emulator: Emulator, emulator_server: EmulatorServer) -> None:
    reply = requests.post(
        emulator_server.base_url + "/2/files/get_metadata",
        json={"path": "/Photos/"},
        headers={"Authorization": f"Bearer {emulator.access_token}"},
        timeout=5,
    )
    assert reply.status_code == 409
    assert reply.json() == {
        "error_summary": "path/malformed_path/..",
        "error": {".tag": "path", "path": {".tag": "malformed_path"}},
    }


def test_an_empty_file_is_listed_hashed_and_downloaded(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Photos/empty.jpg", b"")
    (entry,) = dbx.files_list_folder("/Photos").entries
    assert (entry.size, entry.content_hash) == (0, hashlib.sha256(b"").hexdigest())
    result, response = dbx.files_download("/Photos/empty.jpg")
    with response:
        assert response.content == b"" and response.headers["content-length"] == "0"
    assert result.content_hash == entry.content_hash
    link = dbx.files_get_temporary_link("/Photos/empty.jpg").link
    assert requests.get(link, timeout=5).content == b""


def test_non_downloadable_files_are_listed_as_such_and_refused(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.put_file("/Docs/plan.gdoc", b"cloud document", downloadable=False)
    emulator.put_file("/Docs/photo.jpg", b"photo")
    listed = {e.name: e for e in dbx.files_list_folder("/Docs").entries}
    assert listed["plan.gdoc"].is_downloadable is False
    assert listed["plan.gdoc"].export_info is not None
    assert listed["photo.jpg"].is_downloadable is True and listed["photo.jpg"].export_info is None
    without = dbx.files_list_folder("/Docs", include_non_downloadable_files=False)
    assert [e.name for e in without.entries] == ["photo.jpg"]
    emulator.put_file("/Docs/sheet.gsheet", b"another", downloadable=False)
    emulator.put_file("/Docs/more.jpg", b"more")
    assert [e.name for e in dbx.files_list_folder_continue(without.cursor).entries] == ["more.jpg"]
    with pytest.raises(ApiError) as download:
        dbx.files_download("/Docs/plan.gdoc")
    assert download.value.error.is_unsupported_file()
    with pytest.raises(ApiError) as link:
        dbx.files_get_temporary_link("/Docs/plan.gdoc")
    assert link.value.error.is_unsupported_file()
    assert dbx.files_get_metadata("/Docs/plan.gdoc").is_downloadable is False


def test_path_lower_of_non_ascii_names(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    for name in ("ΣΑΣ.jpg", "σας.jpg", "İzmir.jpg", "\u1c90.jpg"):
        emulator.put_file(f"/Ünï/{name}", name.encode())
    entries = dbx.files_list_folder("/ünï").entries
    assert sorted((e.path_lower, e.name) for e in entries) == [
        ("/ünï/izmir.jpg", "İzmir.jpg"),
        ("/ünï/σας.jpg", "σας.jpg"),
        ("/ünï/σασ.jpg", "ΣΑΣ.jpg"),
        ("/ünï/\u1c90.jpg", "\u1c90.jpg"),
    ]
    assert dbx.files_get_metadata("/ÜNÏ/IZMIR.JPG").name == "İzmir.jpg"
