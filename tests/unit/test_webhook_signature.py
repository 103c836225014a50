"""``X-Dropbox-Signature``: Dropbox's published vector, and every way a signature is wrong."""

from __future__ import annotations

import pytest

from webhooks.signature import is_signed, sign

# From Dropbox's webhook reference, checked in DROPBOX-FACTS.md.
SECRET = "the_secret"
BODY = b'{"delta": {"users": [12345]}}'
VECTOR = "0a8c16b085420b960dc78664279fe09e936a2a01b1f91064869d9e77dfd64529"


def test_sign_matches_dropboxs_vector() -> None:
    assert sign(SECRET, BODY) == VECTOR


def test_the_vector_is_accepted() -> None:
    assert is_signed(SECRET, BODY, VECTOR)


def test_uppercase_hex_is_the_same_signature() -> None:
    assert is_signed(SECRET, BODY, VECTOR.upper())


@pytest.mark.parametrize(
    ("secret", "body", "offered"),
    [
        pytest.param(SECRET, BODY, None, id="missing"),
        pytest.param(SECRET, BODY, "", id="empty"),
        pytest.param("another_secret", BODY, VECTOR, id="other-secret"),
        pytest.param(SECRET, BODY + b" ", VECTOR, id="body-changed-by-one-byte"),
        pytest.param(SECRET, BODY, VECTOR[:-1], id="truncated"),
        pytest.param(SECRET, BODY, VECTOR + "0", id="extended"),
        pytest.param(SECRET, BODY, "sha256=" + VECTOR, id="prefixed"),
        pytest.param(SECRET, BODY, "é" * 64, id="non-ascii"),
    ],
)
def test_wrong_signatures_are_refused(secret: str, body: bytes, offered: str | None) -> None:
    assert not is_signed(secret, body, offered)


def test_the_signature_covers_the_raw_bytes_not_the_json() -> None:
    same_json_other_spacing = b'{"delta":{"users":[12345]}}'
    assert not is_signed(SECRET, same_json_other_spacing, VECTOR)
