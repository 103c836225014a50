"""``GET /webhook`` (Dropbox's verification challenge) and ``POST /webhook`` (notifications).

A notification is read with a hard size limit (``MAX_BODY_BYTES``, declared with
``accepts_body``), its signature checked over the raw bytes before anything is parsed,
then parsed and handed to the inbox, which only asks the sync worker for a catch-up:
the reply never waits for Dropbox. Dropbox signs with
the app secret, so ``/webhook`` takes no API token. Every outcome is counted in
``unposted_webhooks{outcome}``: accepted, ignored, rejected, invalid, too_large.

That is all the request does, and Dropbox sends bursts: its route (``WebhookRoute``) is
declared like any other, so the declaration is the OpenAPI document, but answers without
FastAPI's handler, whose solving of dependencies cost more than the rest of the request.
The pieces it needs come from the application's state, where the dependencies find them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app.api.body import BodyTooLarge, accepts_body
from app.api.deps import InboxesDep, MetricsDep, SettingsDep
from app.api.errors import error_response
from app.api.replies import WebhookReply
from app.configuration.environment import Settings
from app.errors import RequestError, answer
from webhooks.inbox import Inboxes
from webhooks.notification import NotANotification, parse_notification
from webhooks.signature import HEADER, is_signed

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhook"])
MAX_BODY_BYTES = 1024 * 1024
_REPLIES = {outcome: f'{{"status":"{outcome}"}}'.encode() for outcome in ("accepted", "ignored")}


class Refused(Exception):
    """A notification turned away: the HTTP reply and the metrics outcome."""

    def __init__(self, status: int, code: str, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.outcome = status, code, outcome


@router.get(
    "/webhook",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "the challenge, echoed"}},
)
async def challenge(challenge: str | None = None) -> Response:
    """Dropbox's verification: echo ``challenge`` as plain text that browsers won't sniff."""
    if not challenge:
        return error_response(400, "bad_request", "the challenge query parameter is required")
    headers = {"Content-Type": "text/plain", "X-Content-Type-Options": "nosniff"}
    return Response(challenge, headers=headers)


class WebhookRoute(APIRoute):
    """FastAPI's route for the document; the request answered by ``notification`` directly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            state = request.app.state
            return await notification(request, state.settings, state.inboxes, state.metrics)

        return handler


@accepts_body(MAX_BODY_BYTES, json=False)  # the signature is checked before any parsing
async def notification(
    request: Request, settings: SettingsDep, inboxes: InboxesDep, metrics: MetricsDep
) -> Response:
    try:
        outcome = await _receive(request, settings, inboxes)
    except Refused as refused:
        metrics.webhooks.labels(refused.outcome).inc()
        return error_response(refused.status, refused.code, str(refused))
    metrics.webhooks.labels(outcome).inc()
    return Response(_REPLIES[outcome], media_type="application/json")


router.add_api_route(
    "/webhook",
    notification,
    methods=["POST"],
    response_model=None,
    responses={200: {"model": WebhookReply}},
    route_class_override=WebhookRoute,
)


async def _receive(request: Request, settings: Settings, inboxes: Inboxes) -> str:
    body = await _read_body(request)
    _check_signature(settings, body, request.headers.get(HEADER))
    try:
        notification = parse_notification(body)
    except NotANotification as exc:
        log.warning(
            "signed webhook is not a notification: %s", exc, extra={"event": "webhook_invalid"}
        )
        raise Refused(400, "bad_request", "invalid", f"not a notification: {exc}") from exc
    if await inboxes.receive(notification):
        log.info("webhook accepted", extra={"event": "webhook_accepted"})
        return "accepted"
    log.info(
        "webhook for %d other account(s) ignored",
        len(notification.accounts),
        extra={"event": "webhook_ignored"},
    )
    return "ignored"


async def _read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except BodyTooLarge as exc:
        log.warning("webhook body over %d bytes refused", MAX_BODY_BYTES,
                    extra={"event": "webhook_too_large"})  # fmt: skip
        raise Refused(413, answer(exc).code, "too_large", str(exc)) from exc
    except RequestError as exc:  # the body did not arrive in time
        found = answer(exc)
        raise Refused(found.status or 400, found.code, "invalid", str(exc)) from exc


def _check_signature(settings: Settings, body: bytes, offered: str | None) -> None:
    secret = settings.dropbox_app_secret
    if secret is None:
        log.warning(
            "webhook refused: DROPBOX_APP_SECRET is not set", extra={"event": "webhook_rejected"}
        )
        raise Refused(403, "forbidden", "rejected", "webhooks are not configured on this service")
    if not is_signed(secret.get_secret_value(), body, offered):
        reason = "wrong" if offered else "missing"
        log.warning("webhook refused: %s signature", reason, extra={"event": "webhook_rejected"})
        raise Refused(403, "forbidden", "rejected", f"missing or wrong {HEADER}")
