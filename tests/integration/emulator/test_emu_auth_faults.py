"""Tokens (invalid, expired, refreshed) and injected faults, seen through the real SDK."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import dropbox
import pytest
import requests
from dropbox.exceptions import ApiError, AuthError, InternalServerError, RateLimitError

from emulator import Emulator, EmulatorServer
from emulator.errors import AuthFailure
from emulator.faults import DROPPED, LISTING
from tests.waiting import wait_until

Connect = Callable[..., dropbox.Dropbox]  # the ``connect`` fixture


def _expired(emulator: Emulator, token: str) -> bool:
    try:
        emulator.tokens.check_bearer(f"Bearer {token}")
    except AuthFailure as refused:
        return refused.tag == "expired_access_token"
    return False


def test_invalid_token_is_401_invalid_access_token(
    emulator_server: EmulatorServer, connect: Connect
) -> None:
    with pytest.raises(AuthError) as refused:
        connect(emulator_server, oauth2_access_token="wrong").users_get_current_account()
    assert refused.value.error.is_invalid_access_token()


def test_missing_token_is_401(emulator_server: EmulatorServer) -> None:
    reply = requests.post(emulator_server.base_url + "/2/files/list_folder", json={"path": ""})
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"][".tag"] == "invalid_access_token"


def test_expired_token_is_refreshed_once_and_the_call_succeeds(
    emulator: Emulator, emulator_server: EmulatorServer, connect: Connect
) -> None:
    emulator.access_token_ttl = 1
    short_lived = emulator.tokens.issue().access_token
    dbx = connect(
        emulator_server,
        oauth2_access_token=short_lived,
        # The SDK would refresh early if it knew the real expiry; make it find out by 401.
        oauth2_access_token_expiration=datetime.utcnow() + timedelta(hours=1),
        oauth2_refresh_token=emulator.refresh_token,
        app_key=emulator.app_key,
        app_secret=emulator.app_secret,
    )
    wait_until(lambda: _expired(emulator, short_lived))
    assert dbx.users_get_current_account().account_id == emulator.account_id
    assert emulator.counters.calls("users/get_current_account", 401) == 1
    assert emulator.counters.calls("oauth2/token", 200) == 1
    assert emulator.counters.calls("users/get_current_account", 200) == 1


def test_refresh_token_alone_gets_an_access_token(
    emulator: Emulator, emulator_server: EmulatorServer, connect: Connect
) -> None:
    dbx = connect(
        emulator_server,
        oauth2_refresh_token=emulator.refresh_token,
        app_key=emulator.app_key,
        app_secret=emulator.app_secret,
    )
    assert dbx.users_get_current_account().account_id == emulator.account_id


def test_bad_refresh_token_is_invalid_grant(
    emulator: Emulator, emulator_server: EmulatorServer, connect: Connect
) -> None:
    dbx = connect(
        emulator_server,
        oauth2_refresh_token="revoked",
        app_key=emulator.app_key,
        app_secret=emulator.app_secret,
    )
    with pytest.raises(AuthError):
        dbx.users_get_current_account()
    assert emulator.counters.calls("oauth2/token", 400) == 1


def test_rate_limit_raises_with_the_retry_after(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.faults.rate_limit("files/list_folder", retry_after=7, times=1)
    with pytest.raises(RateLimitError) as limited:
        dbx.files_list_folder("")
    assert limited.value.backoff == 7
    assert limited.value.error.reason.is_too_many_requests()
    assert dbx.files_list_folder("").has_more is False
    assert emulator.counters.calls("files/list_folder", 429) == 1


def test_rate_limit_header_and_body(emulator: Emulator, emulator_server: EmulatorServer) -> None:
    emulator.faults.rate_limit("*", retry_after=3)
    reply = requests.post(emulator_server.base_url + "/2/files/list_folder", json={"path": ""})
    assert reply.status_code == 429 and reply.headers["retry-after"] == "3"
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"] == {"reason": {".tag": "too_many_requests"}, "retry_after": 3}


def test_server_error_then_recovery(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.faults.server_error("files/list_folder", status=503, times=2)
    for _ in range(2):
        with pytest.raises(InternalServerError) as failed:
            dbx.files_list_folder("")
        assert failed.value.status_code == 503
    dbx.files_list_folder("")
    assert emulator.counters.calls("files/list_folder", 503) == 2


def test_dropped_connection_is_a_broken_connection_not_a_status(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    emulator.faults.drop_connection("files/list_folder/continue", times=1)
    cursor = dbx.files_list_folder("").cursor
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        dbx.files_list_folder_continue(cursor)
    assert dbx.files_list_folder_continue(cursor).entries == []
    assert emulator.counters.calls("files/list_folder/continue", DROPPED) == 1


def test_reset_next_continue(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    cursor = dbx.files_list_folder("").cursor
    emulator.faults.reset_next_continue()
    with pytest.raises(ApiError) as reset:
        dbx.files_list_folder_continue(cursor)
    assert reset.value.error.is_reset()
    dbx.files_list_folder_continue(cursor)  # only the next one


def test_delay_every_call(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.faults.delay("*", 0.2)
    started = time.monotonic()
    dbx.files_list_folder("")
    dbx.users_get_current_account()
    assert time.monotonic() - started >= 0.4  # a lower bound: noise can only add to it
    emulator.faults.clear()
    assert emulator.faults.take_delay("files/list_folder") == 0


def test_counters_reset(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    dbx.files_list_folder("")
    assert emulator.counters.calls("files/list_folder") == 1
    emulator.counters.reset()
    assert emulator.counters.calls("files/list_folder") == 0


def test_overlapping_listings_are_counted_per_account(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    cursor = dbx.files_list_folder("").cursor
    assert emulator.counters.max_in_flight(LISTING) == 1
    gate = emulator.faults.hold("files/list_folder/continue")
    callers = [
        threading.Thread(target=dbx.files_list_folder_continue, args=(cursor,)),
        threading.Thread(target=dbx.files_list_folder, args=("",)),
    ]
    callers[0].start()
    wait_until(lambda: emulator.counters.in_flight(LISTING) == 1)
    callers[1].start()  # list_folder is not held: it overlaps the held continue, then ends
    callers[1].join(10)
    gate.release()
    callers[0].join(10)
    assert emulator.counters.max_in_flight(LISTING) == 2
    assert emulator.counters.max_in_flight("files/list_folder/continue") == 1
    assert emulator.counters.in_flight(LISTING) == 0
    emulator.counters.reset_max_in_flight()
    dbx.files_list_folder_continue(cursor)
    dbx.files_list_folder("")
    assert emulator.counters.max_in_flight(LISTING) == 1


def test_a_pending_longpoll_is_not_a_listing(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    cursor = dbx.files_list_folder("").cursor
    emulator.counters.reset()
    poller = threading.Thread(target=dbx.files_list_folder_longpoll, args=(cursor, 30))
    poller.start()
    wait_until(lambda: emulator.counters.in_flight("files/list_folder/longpoll") == 1)
    dbx.files_list_folder_continue(cursor)
    emulator.put_file("/wake.jpg", b"w")
    poller.join(10)
    assert emulator.counters.max_in_flight("files/list_folder/longpoll") == 1
    assert emulator.counters.max_in_flight(LISTING) == 1


def test_clearing_faults_releases_held_calls(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.faults.hold("*")
    caller = threading.Thread(target=dbx.users_get_current_account)
    caller.start()
    wait_until(lambda: emulator.counters.in_flight("users/get_current_account") == 1)
    emulator.faults.clear()
    caller.join(10)
    assert emulator.counters.calls("users/get_current_account", 200) == 1


def test_a_call_is_no_longer_in_flight_once_its_answer_is_in(
    emulator: Emulator, dbx: dropbox.Dropbox
) -> None:
    """A client with the whole answer may call again at once: its earlier call must not
    still count (a cap on calls at once would then seem broken by one)."""
    emulator.put_file("/a.jpg", b"a")
    seen = []
    for _ in range(200):
        _, response = dbx.files_download("/a.jpg")
        assert response.content == b"a"  # the whole answer is in
        response.close()
        seen.append(emulator.counters.in_flight("files/download"))
    assert seen == [0] * 200
    assert emulator.counters.max_in_flight("files/download") == 1
