"""The client's TLS context: made once a process, and it verifies as httpx's own does.

Each ``httpx.Client`` makes its own context unless given one, loading the certificate
authorities (about 20 ms of CPU); a remote CLI command makes two clients.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from unposted_client import AsyncUnpostedClient, UnpostedClient
from unposted_client._tls import tls_context

TOKEN = "client-tls-test-token-0123456789abcdef"


def test_every_client_of_a_process_shares_one_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[ssl.SSLContext] = []
    default_context = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(context := default_context(*args, **kwargs))
        return context

    monkeypatch.setattr(ssl, "create_default_context", counted)
    tls_context.cache_clear()

    async def async_clients() -> None:
        for _ in range(2):
            async with AsyncUnpostedClient("https://unposted.example", TOKEN):
                pass

    for channel in (None, "feed", None):
        with UnpostedClient("https://unposted.example", TOKEN, channel=channel):
            pass
    asyncio.run(async_clients())
    assert made == [tls_context()]


def test_the_shared_context_checks_certificates_and_host_names() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs(), "no certificate authority loaded"
