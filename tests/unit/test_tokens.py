"""Tokens: what ``serve`` refuses, whom a token identifies, and the throttle's arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.api.access import MIN_LENGTH, PLACEHOLDER, Tokens, check_tokens
from app.api.throttle import Throttle
from app.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = "g" * MIN_LENGTH
OTHER = "o" * MIN_LENGTH
HOW = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusal(operator: str | None, **channels: str | None) -> str:
    with pytest.raises(ConfigError) as refused:
        check_tokens(
            SecretStr(operator) if operator is not None else None,
            {name: SecretStr(token) if token else None for name, token in channels.items()},
        )
    return str(refused.value)


def test_env_example_holds_the_placeholder_that_serve_refuses() -> None:
    text = (ROOT / ".env.example").read_text()
    assert re.search(rf"^API_TOKEN={re.escape(PLACEHOLDER)}$", text, re.MULTILINE)
    assert "placeholder" in refusal(PLACEHOLDER)
    assert "placeholder" in refusal("change-me-to-a-long-random-token")  # the one before


@pytest.mark.parametrize(
    ("operator", "channels", "says"),
    [
        ("x" * (MIN_LENGTH - 1), {}, "API_TOKEN is shorter than 32"),
        ("ab", {}, "API_TOKEN is shorter than 32"),
        (GOOD, {"shop": "y" * 10}, "channel shop is shorter than 32"),
        (GOOD, {"shop": PLACEHOLDER}, "channel shop is the placeholder"),
        (GOOD, {"shop": OTHER, "feed": OTHER}, "feed is the same as the token of channel shop"),
        (GOOD, {"shop": GOOD}, "channel shop is the same as API_TOKEN"),
    ],
)  # fmt: skip
def test_serve_refuses_weak_or_shared_tokens(
    operator: str, channels: dict[str, str], says: str
) -> None:
    line = refusal(operator, **channels)
    assert says in line and HOW in line and "\n" not in line
    for token in (operator, *channels.values()):
        assert token not in line.replace(PLACEHOLDER, "")


def test_long_distinct_tokens_pass() -> None:
    check_tokens(SecretStr(GOOD), {"shop": SecretStr(OTHER), "feed": None})
    check_tokens(SecretStr("s" * MIN_LENGTH), {})


def test_a_token_identifies_its_holder_and_nothing_else() -> None:
    tokens = Tokens(SecretStr(GOOD), {"shop": SecretStr(OTHER), "feed": None})
    operator, shop = tokens.caller(GOOD), tokens.caller(OTHER)
    assert operator is not None and operator.operator and not operator.channels
    assert shop is not None and not shop.operator and shop.channels == {"shop"}
    for wrong in (None, "", GOOD[:-1], GOOD + "x", GOOD.upper(), OTHER + "\x00", "\udcff"):
        assert tokens.caller(wrong) is None


def test_throttle_opens_after_the_limit_and_closes_with_the_window() -> None:
    clock = Clock()
    throttle = Throttle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.wait("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 60 and throttle.wait("10.0.0.2") == 0
    clock.now += 59.5
    assert throttle.wait("10.0.0.1") == 1
    clock.now += 0.5
    assert throttle.wait("10.0.0.1") == 0  # the window ended: heard again, counted afresh
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0


def test_a_failure_after_the_window_opens_a_new_one() -> None:
    clock = Clock()
    throttle = Throttle(limit=2, window=10, clock=clock)
    throttle.failed("a")
    clock.now += 11
    throttle.failed("a")  # the first one's window is over: one failure in this one
    assert throttle.wait("a") == 0
    throttle.failed("a")
    assert throttle.wait("a") == 10


def test_throttle_memory_is_bounded_forgetting_the_oldest() -> None:
    throttle = Throttle(limit=1, window=60, addresses=100, clock=Clock())
    throttle.failed("first")
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert throttle.tracked == 100
    assert throttle.wait("first") == 0 and throttle.wait("10.0.3.231") == 60
