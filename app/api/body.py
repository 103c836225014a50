"""Reading a raw request body under a hard size limit, refused as soon as it is exceeded.

The declared ``Content-Length`` is checked before anything is read, and the streamed
bytes are counted too, so a body sent without a length cannot slip past the limit.
"""

from __future__ import annotations

import re

from fastapi import Request

from app.errors import RequestError

_DIGITS = re.compile(r"[0-9]{1,20}")


class BodyTooLarge(RequestError):
    code = "too_large"
    status = 413


async def read_limited(request: Request, limit: int, what: str = "request bodies") -> bytes:
    """The whole body, or ``BodyTooLarge`` once it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and not _DIGITS.fullmatch(declared):
        raise RequestError("Content-Length is not a number")
    if declared is not None and int(declared) > limit:
        raise _too_large(limit, what)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit, what)
    return bytes(body)


def _too_large(limit: int, what: str) -> BodyTooLarge:
    return BodyTooLarge(f"{what} are at most {limit} bytes")
