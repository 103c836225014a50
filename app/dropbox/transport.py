"""How the Dropbox SDK reaches a server other than Dropbox's own (the emulator).

The SDK always builds ``https://{api,content,notify}.dropboxapi.com/...`` URLs, token
refresh included. A ``requests.Session`` carrying :class:`BaseUrlAdapter` on ``https://``
sends every such request to the same path under one base URL (plain http allowed), so
one process can hold clients for several servers and nothing else needs to know.
This module imports ``requests`` only; ``app.dropbox.client`` is the one that imports
``dropbox``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class BaseUrlAdapter(HTTPAdapter):
    """Rewrites each request's scheme and host to ``base_url``, keeping path and query."""

    def __init__(self, base_url: str, pool_maxsize: int = 8) -> None:
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize)
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: None | float | tuple[float, float] | tuple[float, None] = None,
        verify: bool | str = True,
        cert: None | bytes | str | tuple[bytes | str, bytes | str] = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, "")
        )
        return super().send(request, stream, timeout, verify, cert, proxies)


def base_url_session(base_url: str, pool_maxsize: int = 8) -> requests.Session:
    """A session for ``dropbox.Dropbox(session=...)`` that talks to ``base_url``.

    ``trust_env`` is off so that ``REQUESTS_CA_BUNDLE`` and proxy variables cannot
    redirect or re-verify traffic meant for a local server.
    """
    session = requests.Session()
    session.trust_env = False
    adapter: Any = BaseUrlAdapter(base_url, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
