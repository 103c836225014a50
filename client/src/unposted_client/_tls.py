"""The TLS context every client of a process shares."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Made once, as httpx makes its default one (certifi's authorities, or those that
    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` name when the first client is made). httpx would
    make one for each client, loading the authorities each time: about 20 ms of CPU, and
    a remote CLI command makes two clients. A context serves many connections at once."""
    return httpx.create_ssl_context()
