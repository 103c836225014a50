"""The one place where errors become HTTP replies: JSON ``{"error", "message"}``.

Every error the service answers with goes through here, 404 and 422 included, so no
reply is ever an HTML page or a bare 500 for something a caller sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import DropboxError, DropboxUnavailable, RequestError, Unavailable

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_attempts",
}


# Documented for every operation, replacing FastAPI's default 422 ``{"detail": ...}``;
# spelled out as JSON so operations that answer text (/metrics) keep JSON errors.
_ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "refused; nothing changed", **_ERROR_BODY},
    "5XX": {"description": "not ready, or Dropbox failed", **_ERROR_BODY},
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def _request_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    return error_response(exc.status, exc.code, str(exc))


async def _dropbox_error(request: Request, exc: Exception) -> JSONResponse:
    """Dropbox failed a call made for this request: 503 while unavailable, else 502."""
    assert isinstance(exc, DropboxError)
    status = 503 if isinstance(exc, DropboxUnavailable) else 502
    return error_response(status, exc.code, str(exc))


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The store cannot answer now (busy, full): 503 with when to try again, never 500."""
    assert isinstance(exc, Unavailable)
    log.warning("answering 503 %s: %s", exc.code, exc, extra={"event": "unavailable"})
    response = error_response(exc.status, exc.code, str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    response = error_response(exc.status_code, code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return error_response(422, "invalid_request", "; ".join(problems) or "invalid request")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; see the service log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(DropboxError, _dropbox_error)
    app.add_exception_handler(Unavailable, _unavailable)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
