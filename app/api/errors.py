"""The API's exception handlers: every error reply is JSON ``{"error", "message"}``.

The service's own errors are answered as ``app.errors.ANSWERS`` says (status, code,
``Retry-After``); FastAPI's and Starlette's (404, 405, 422, ...) here, so no reply is ever
an HTML page or a bare 500 for something a caller sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import UnpostedError, answer

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


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """``details``: what an error adds for the caller to act on (a lease it still holds)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": code, "message": message, **(details or {})}
    return JSONResponse(body, status_code=status, headers=headers)


async def _unposted_error(request: Request, exc: Exception) -> JSONResponse:
    """One of the service's errors, as its row in ``app.errors.ANSWERS`` says."""
    assert isinstance(exc, UnpostedError)
    found = answer(exc)
    if found.status is None:
        raise exc  # a fatal error never answers as such: the server's 500 handler does
    response = error_response(found.status, found.code, str(exc), getattr(exc, "details", None))
    if found.retry_after is not None:  # the store cannot answer now (busy, full): never 500
        log.warning("answering 503 %s: %s", found.code, exc, extra={"event": "unavailable"})
        request.app.state.metrics.unavailable.labels(found.code).inc()
        response.headers["Retry-After"] = str(found.retry_after)
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
    app.add_exception_handler(UnpostedError, _unposted_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
