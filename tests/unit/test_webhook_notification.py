"""Telling a webhook notification from junk, and whose change it reports."""

from __future__ import annotations

import json

import pytest

from webhooks.notification import NotANotification, parse_notification

OURS = "dbid:AAH4f99T0taONIb-OurDuR4ANaUZ-d8k3o8"
THEIRS = "dbid:AAEmuLat0rAcc0untF0rSomeoneElse0000"


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_dropboxs_notification_names_its_accounts() -> None:
    parsed = parse_notification(
        body({"list_folder": {"accounts": [OURS, THEIRS]}, "delta": {"users": [12345]}})
    )
    assert parsed.accounts == {OURS, THEIRS}
    assert parsed.users == {12345}
    assert parsed.concerns(OURS)


def test_a_notification_for_other_accounts_does_not_concern_us() -> None:
    parsed = parse_notification(body({"list_folder": {"accounts": [THEIRS]}}))
    assert not parsed.concerns(OURS)


def test_an_empty_account_list_concerns_nobody() -> None:
    assert not parse_notification(body({"list_folder": {"accounts": []}})).concerns(OURS)


def test_before_our_account_is_known_every_notification_may_be_ours() -> None:
    assert parse_notification(body({"list_folder": {"accounts": [THEIRS]}})).concerns(None)


def test_a_legacy_delta_only_notification_may_be_ours() -> None:
    parsed = parse_notification(b'{"delta": {"users": [12345]}}')
    assert parsed.accounts == frozenset()
    assert parsed.concerns(OURS)


def test_unknown_keys_are_tolerated() -> None:
    parsed = parse_notification(body({"list_folder": {"accounts": [OURS], "x": 1}, "new": {}}))
    assert parsed.concerns(OURS)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"list_folder": ', id="truncated"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"list_folder"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"hello": "world"}', id="unrelated-object"),
        pytest.param(b'{"list_folder": null}', id="list-folder-null"),
        pytest.param(b'{"list_folder": {}}', id="accounts-missing"),
        pytest.param(b'{"list_folder": {"accounts": "dbid:x"}}', id="accounts-a-string"),
        pytest.param(b'{"list_folder": {"accounts": [1]}}', id="account-a-number"),
        pytest.param(b'{"list_folder": {"accounts": ["dbid:x"]}, "delta": 7}', id="delta-bad"),
        pytest.param(b'{"delta": {"users": ["12345"]}}', id="user-a-string"),
        pytest.param(b'{"delta": {"users": [true]}}', id="user-a-boolean"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
def test_junk_is_not_a_notification(raw: bytes) -> None:
    with pytest.raises(NotANotification):
        parse_notification(raw)
