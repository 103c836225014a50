"""Console sessions: signed, expiring, naming a token only by its fingerprint."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.api.access import Tokens
from app.console.session import LIFETIME, Sessions, session_key
from app.console.viewer import ConsoleAccess


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_reads_back_until_it_expires() -> None:
    clock = Clock()
    sessions = Sessions(b"k" * 32, clock)
    session, cookie = sessions.issue(sessions.fingerprint("the-token"))
    assert sessions.read(cookie) == session and "the-token" not in cookie
    assert session.csrf_matches(session.csrf) and not session.csrf_matches(session.csrf + "x")
    clock.now += LIFETIME
    assert sessions.read(cookie) is None


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    lambda c: "x" + c,
    lambda c: c.replace(".", ""),
    lambda c: c + ".x",
    lambda c: "",
    lambda c: "." * 5000,
])  # fmt: skip
def test_a_cookie_that_was_not_issued_is_no_session(mangle: object) -> None:
    sessions = Sessions(b"k" * 32)
    _, cookie = sessions.issue("holder")
    assert sessions.read(mangle(cookie)) is None  # type: ignore[operator]


def test_another_key_reads_no_session() -> None:
    _, cookie = Sessions(session_key(SecretStr("one"))).issue("holder")
    assert Sessions(session_key(SecretStr("two"))).read(cookie) is None
    assert session_key(SecretStr("one")) == session_key(SecretStr("one"))
    assert session_key(None) != session_key(None)  # random, per process


def test_holders_are_whom_the_configured_tokens_identify() -> None:
    tokens = Tokens(SecretStr("op"), {"a": SecretStr("ta"), "b": SecretStr("ta"), "c": None})
    access = ConsoleAccess.build(Sessions(b"k" * 32), tokens)
    assert len(access.holders) == 2
    operator = access.holders[access.sessions.fingerprint("op")]
    shared = access.holders[access.sessions.fingerprint("ta")]
    assert operator.operator and shared.channels == frozenset({"a", "b"})
    assert access.sessions.fingerprint("nobody") not in access.holders
