"""Operator routes for a channel's webhook: its latest events, a failed one sent again,
a test event.

``GET /admin/deliveries?limit=N`` lists the channel's latest events, newest first, as
the console and ``deliveries`` show them; ``POST /admin/deliveries/{id}/replay`` makes a
failed event (``msg_N``, or ``N``) pending again with the same ``webhook-id`` (404 if the
channel has no failed event of that id); ``POST /admin/deliveries/test`` queues a
``webhook.test`` event (409 for a channel without a webhook). Mounted at the root (the
default channel) and under ``/channels/{channel}``; the operator's token only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ChannelDep, Operator, WebhooksDep
from app.api.replies import DeliveriesReply, DeliveryReply
from app.services.webhooks import delivery_json

router = APIRouter(tags=["admin"], dependencies=[Operator])
MAX_LISTED = 500
EventId = Annotated[str, Path(pattern=r"^(msg_)?[1-9][0-9]{0,17}$", examples=["msg_12"])]


class Listing(BaseModel):
    """The listing's query: an unknown parameter is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_LISTED)] = 20


@router.get("/admin/deliveries", response_model=DeliveriesReply)
async def deliveries(
    channel: ChannelDep, webhooks: WebhooksDep, query: Annotated[Listing, Query()]
) -> dict[str, Any]:
    """The channel's latest webhook events, newest first, and how each went."""
    rows = await webhooks.recent(channel, query.limit)
    return {"items": [delivery_json(row) for row in rows]}


@router.post("/admin/deliveries/test", status_code=202, response_model=DeliveryReply)
async def send_test(channel: ChannelDep, webhooks: WebhooksDep) -> dict[str, Any]:
    """Queue a ``webhook.test`` event behind the channel's others."""
    return delivery_json(await webhooks.send_test(channel))


@router.post("/admin/deliveries/{event_id}/replay", response_model=DeliveryReply)
async def replay(channel: ChannelDep, webhooks: WebhooksDep, event_id: EventId) -> dict[str, Any]:
    """Send a failed event again, with the same ``webhook-id``."""
    return delivery_json(await webhooks.replay(channel, int(event_id.removeprefix("msg_"))))
