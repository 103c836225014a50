"""Several accounts of one app behind one server, each seen through its own SDK client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dropbox
import pytest
import requests
from dropbox.exceptions import ApiError, AuthError, RateLimitError

from emulator import Emulator, EmulatorServer, account_id_for

Connect = Callable[..., dropbox.Dropbox]  # the ``connect`` fixture

Pair = tuple[Emulator, Emulator, EmulatorServer]


@pytest.fixture
def pair() -> Iterator[Pair]:
    alice = Emulator(account_id=account_id_for("alice"))
    bob = Emulator(account_id=account_id_for("bob"))
    alice.put_file("/Photos/alice.jpg", b"alice's")
    bob.put_file("/Photos/bob.jpg", b"bob's")
    with EmulatorServer(alice, bob) as server:
        yield alice, bob, server


def test_each_token_reaches_its_own_account(pair: Pair, connect: Connect) -> None:
    alice, bob, server = pair
    for emu, name in ((alice, "alice.jpg"), (bob, "bob.jpg")):
        dbx = connect(server, oauth2_access_token=emu.access_token)
        assert dbx.users_get_current_account().account_id == emu.account_id
        assert [e.name for e in dbx.files_list_folder("/Photos").entries] == [name]
        assert emu.counters.calls("files/list_folder") == 1
    assert server.emu is alice and server.accounts == (alice, bob)


def test_a_token_is_routed_by_its_account_now_not_by_memory(pair: Pair, connect: Connect) -> None:
    alice, bob, server = pair
    old = bob.access_token
    for _ in range(3):  # the same token, request after request: bob's every time
        assert connect(server, oauth2_access_token=old).users_get_current_account().account_id == (
            bob.account_id
        )
    bob.tokens.access_token = "bob-new-access-token"
    with pytest.raises(AuthError):
        connect(server, oauth2_access_token=old).users_get_current_account()
    # no longer bob's: it names no account, and the first one refuses it
    assert alice.counters.calls("users/get_current_account", 401) == 1
    assert bob.counters.calls("users/get_current_account", 401) == 0


def test_refresh_goes_to_the_account_of_the_refresh_token(pair: Pair, connect: Connect) -> None:
    alice, bob, server = pair
    dbx = connect(
        server,
        oauth2_refresh_token=bob.refresh_token,
        app_key=bob.app_key,
        app_secret=bob.app_secret,
    )
    assert dbx.users_get_current_account().account_id == bob.account_id
    assert (bob.counters.calls("oauth2/token", 200), alice.counters.calls("oauth2/token")) == (1, 0)


def test_longpoll_follows_its_cursor_and_a_cursor_is_its_accounts_only(
    pair: Pair, connect: Connect
) -> None:
    alice, bob, server = pair
    as_bob = connect(server, oauth2_access_token=bob.access_token)
    cursor = as_bob.files_list_folder("/Photos").cursor
    bob.put_file("/Photos/new.jpg", b"new")
    assert as_bob.files_list_folder_longpoll(cursor, timeout=30).changes is True
    assert bob.counters.calls("files/list_folder/longpoll", 200) == 1
    assert alice.counters.calls("files/list_folder/longpoll") == 0
    as_alice = connect(server, oauth2_access_token=alice.access_token)
    with pytest.raises(ApiError) as foreign:
        as_alice.files_list_folder_continue(cursor)
    assert foreign.value.error.is_reset()


def test_faults_and_temporary_links_stay_with_their_account(pair: Pair, connect: Connect) -> None:
    alice, bob, server = pair
    alice.faults.rate_limit("*", retry_after=3, times=None)
    as_bob = connect(server, oauth2_access_token=bob.access_token)
    link = as_bob.files_get_temporary_link("/Photos/bob.jpg").link
    assert requests.get(link, timeout=5).content == b"bob's"
    assert bob.counters.bytes_served("temp_link") == len(b"bob's")
    with pytest.raises(RateLimitError):
        connect(server, oauth2_access_token=alice.access_token).files_list_folder("/Photos")


def test_a_request_naming_no_account_is_the_first_accounts(pair: Pair, connect: Connect) -> None:
    alice, bob, server = pair
    with pytest.raises(AuthError):
        connect(server, oauth2_access_token="nobody's").files_list_folder("")
    assert alice.counters.calls("files/list_folder", 401) == 1
    assert bob.counters.snapshot() == {}


def test_accounts_of_different_apps_or_with_clashing_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="one Dropbox app"):
        EmulatorServer(Emulator(), Emulator(account_id=account_id_for("x"), app_key="other"))
    with pytest.raises(ValueError, match="account_id"):
        EmulatorServer(Emulator(), Emulator())
    twins = [Emulator(account_id=account_id_for(n), access_token="same") for n in "ab"]
    with pytest.raises(ValueError, match="access_token"):
        EmulatorServer(*twins)
    with pytest.raises(TypeError, match="by name"):
        EmulatorServer(Emulator(), "127.0.0.1")  # type: ignore[arg-type]


def test_account_ids_made_from_labels_are_stable_and_dropbox_shaped() -> None:
    assert account_id_for("alice") == account_id_for("alice") != account_id_for("bob")
    assert account_id_for("alice").startswith("dbid:AA") and len(account_id_for("alice")) == 40
