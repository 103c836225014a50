"""Who may call what: the operator's token reaches everything, a channel's token its channel.

Every offered token is compared with every configured one, each in constant time and
without stopping at the first match, so neither the answer's timing nor its content
says how close a guess came or which channel a token would have reached.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr


@dataclass(frozen=True, slots=True)
class Caller:
    operator: bool
    channels: frozenset[str]

    def may(self, channel: str) -> bool:
        return self.operator or channel in self.channels


class Tokens:
    def __init__(self, operator: SecretStr | None, channels: dict[str, SecretStr | None]) -> None:
        self._operator = _bytes(operator)
        self._channels = [(name, _bytes(token)) for name, token in channels.items() if token]

    def caller(self, offered: str | None) -> Caller | None:
        """Whom ``offered`` identifies, or None for no token or a wrong one."""
        if not offered:
            return None
        given = offered.encode()
        operator = bool(self._operator) and hmac.compare_digest(given, self._operator)
        channels = frozenset(
            name for name, token in self._channels if hmac.compare_digest(given, token)
        )
        if not operator and not channels:
            return None
        return Caller(operator, channels)

    def by_fingerprint(self, fingerprint: Callable[[str], str]) -> dict[str, Caller]:
        """Whom each configured token identifies, keyed by ``fingerprint(token)``: how a
        console session names its holder without keeping the token."""
        tokens = {token for _, token in self._channels} | {self._operator} - {b""}
        found = {}
        for token in tokens:
            who = self.caller(token.decode())
            if who is not None:
                found[fingerprint(token.decode())] = who
        return found


def _bytes(token: SecretStr | None) -> bytes:
    return token.get_secret_value().encode() if token else b""
