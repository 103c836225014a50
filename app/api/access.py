"""Who may call what: the operator's token reaches everything, a channel's token its channel.

An offered token is looked up by its SHA-256 digest, in one dictionary lookup whatever
the number of channels. The lookup's timing depends only on the digest of the guess,
which says nothing about any configured token, so neither the answer's timing nor its
content says how close a guess came or which channel a token would have reached; and a
guess costs the same from an address the throttle has stopped (``app.api.throttle``) as
from anyone, which is what lets a right token through from there.

``check_tokens`` is what ``serve`` asks of the tokens before it starts: long enough, not
the published placeholder, not shared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from app.errors import ConfigError

PLACEHOLDER = "REPLACE-ME-with-the-output-of-the-command-above"
"""``API_TOKEN`` in ``.env.example``; ``serve`` refuses it, and the one it had before."""
_REFUSED = frozenset({PLACEHOLDER, "change-me-to-a-long-random-token"})
MIN_LENGTH = 32
MAKE_ONE = 'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'


OPERATOR = "API_TOKEN"
"""The operator's token's name: what a change it made is recorded as made by."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Whom a token identifies; ``name`` names the token without telling it (the variable
    that holds it), for what records who did something (an undone post)."""

    operator: bool
    channels: frozenset[str]
    name: str = OPERATOR

    def may(self, channel: str) -> bool:
        return self.operator or channel in self.channels


class Tokens:
    def __init__(
        self,
        operator: SecretStr | None,
        channels: Mapping[str, SecretStr | None],
        names: Mapping[str, str] | None = None,
    ) -> None:
        """``names``: each channel's token's name (``api_token_env``); by default the
        channel's."""
        given = {name: token.get_secret_value() for name, token in channels.items() if token}
        boss = operator.get_secret_value() if operator else ""
        named = names or {}
        self._plain: dict[str, Caller] = {}
        for token in {*given.values(), boss} - {""}:
            reached = frozenset(n for n, t in given.items() if t == token)
            name = OPERATOR if token == boss else _token_name(reached, named)
            self._plain[token] = Caller(token == boss, reached, name)
        self._by_digest = {_digest(token): who for token, who in self._plain.items()}

    def caller(self, offered: str | None) -> Caller | None:
        """Whom ``offered`` identifies, or None for no token or a wrong one."""
        if not offered:
            return None
        return self._by_digest.get(_digest(offered))

    def by_fingerprint(self, fingerprint: Callable[[str], str]) -> dict[str, Caller]:
        """Whom each configured token identifies, keyed by ``fingerprint(token)``: how a
        console session names its holder without keeping the token."""
        return {fingerprint(token): who for token, who in self._plain.items()}


def _token_name(channels: frozenset[str], names: Mapping[str, str]) -> str:
    """A channel's token by the variable that holds it (tokens are never shared)."""
    return " ".join(sorted(names.get(c) or f"the token of channel {c}" for c in channels))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def check_tokens(operator: SecretStr | None, channels: Mapping[str, SecretStr | None]) -> None:
    """Refuse tokens a guess, a README or a neighbour could supply: shorter than
    ``MIN_LENGTH``, the placeholder, one channel's token shared with another or with
    ``API_TOKEN``. The message names the variable's role, never the token."""
    named = [("API_TOKEN", operator)] + [
        (f"the token of channel {name}", token) for name, token in channels.items()
    ]
    seen: dict[str, str] = {}
    for who, secret in named:
        token = secret.get_secret_value() if secret else ""
        if not token:
            continue
        if token in _REFUSED:
            raise ConfigError(f"{who} is the placeholder of .env.example; {MAKE_ONE}")
        if len(token) < MIN_LENGTH:
            raise ConfigError(f"{who} is shorter than {MIN_LENGTH} characters; {MAKE_ONE}")
        if token in seen:
            raise ConfigError(f"{who} is the same as {seen[token]}: give each its own; {MAKE_ONE}")
        seen[token] = who
