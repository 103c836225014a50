"""The hot path: ``POST /select`` served by a plain Starlette endpoint, ahead of FastAPI's router.

A selection is the one request publishers make all day, and FastAPI's per-request
machinery (resolving dependencies, reading and validating the body through its own
layers) costs several times what the selection itself costs. So the two ``select``
paths are served here, by one small function, while everything that defines them stays
single:

- the token rule is ``Tokens.caller`` (``identify``, which ``deps.caller`` uses too);
- the channel rule is ``channel_for`` (which ``deps.channel`` uses too);
- the body model is ``SelectBody``, read the way FastAPI reads a JSON body (an empty body
  or ``null`` means the defaults; a body that is not JSON, or that is not declared as
  JSON, is refused with 422 in FastAPI's words);
- errors are raised as the same exceptions and answered by the same handlers;
- the routes declared in ``app.api.routes.select`` remain the OpenAPI document (and would
  answer the same, were they reached).

Everything else, from authorization failures to Dropbox errors, behaves as on any route.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.api.deps import channel_for, identify
from app.services.selection import SelectionService, SelectOptions


def routes(body_type: TypeAdapter[Any]) -> list[Route]:
    """The hot routes, for the select body's type; mounted before FastAPI's router."""

    async def select(request: Request) -> JSONResponse:
        channel = channel_for(request, identify(request))
        raw, media = await request.body(), request.headers.get("content-type")
        body = read_json_body(body_type, raw, media)
        service: SelectionService = request.app.state.selection
        options = SelectOptions(**body.model_dump()) if body else SelectOptions()
        offer = await service.select(channel, options)
        return JSONResponse(offer.as_json())

    return [
        Route("/select", select, methods=["POST"]),
        Route("/channels/{channel}/select", select, methods=["POST"]),
    ]


def read_json_body(model: TypeAdapter[Any], raw: bytes, content_type: str | None) -> Any:
    """``raw`` as FastAPI reads an optional JSON body of type ``model``; None for none."""
    if not raw:
        return None
    document: Any = raw
    if _is_json(content_type):
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError([_json_invalid(exc)]) from exc
        except ValueError as exc:  # not even text (bytes that are not UTF-8)
            raise HTTPException(400, "There was an error parsing the body") from exc
    try:
        return model.validate_python(document, from_attributes=True)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from exc


def _is_json(content_type: str | None) -> bool:
    """FastAPI's strict reading: JSON only when declared as JSON (``+json`` too)."""
    if not content_type:
        return False
    if content_type == "application/json":
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _json_invalid(exc: json.JSONDecodeError) -> dict[str, Any]:
    return {
        "type": "json_invalid",
        "loc": ("body", exc.pos),
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": exc.msg},
    }
