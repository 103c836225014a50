"""Reading a console form: a small ``application/x-www-form-urlencoded`` body, strictly.

The console's forms are a handful of short fields, so a body is read only up to
``LIMIT`` bytes, must be UTF-8, and may repeat no field: anything else is refused with
a clear status before any field is looked at.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

LIMIT = 16 * 1024
_TYPE = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != _TYPE:
        raise HTTPException(415, "The console's forms are sent as " + _TYPE + ".")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > LIMIT:
            raise HTTPException(413, f"A console form is at most {LIMIT} bytes.")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "This form could not be read.") from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise HTTPException(400, "A field of this form appears twice.")
    return fields


def local_path(wanted: str | None, default: str = "/") -> str:
    """``wanted`` if it is a path on this site, else ``default``: never a redirect away."""
    if not wanted or not wanted.startswith("/") or wanted.startswith("//") or "\\" in wanted:
        return default
    if any(ord(char) < 0x20 for char in wanted):
        return default
    return wanted
