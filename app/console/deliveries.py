"""A channel's webhook deliveries: its latest events, newest first, and how each went
(event, status, attempts, last error); a failed one is sent again from here (a form
``POST`` with the session's CSRF value, as every action: ``app.console.actions``), with
the same ``webhook-id``, as ``replay-delivery`` does on the command line. "Send a test
event" queues a ``webhook.test`` event through the outbox, behind the channel's others."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.api.deps import ConfigDep, WebhooksDep
from app.console.forms import read_form
from app.console.pages import ConsoleRoute, render, see_other
from app.console.viewer import ChannelName, ViewerDep, check_csrf
from app.services.webhooks import message_id
from state.rules import iso

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
SHOWN = 50


@router.get("/console/channels/{channel}/deliveries")
async def deliveries(
    request: Request, who: ViewerDep, channel: ChannelName, config: ConfigDep, webhooks: WebhooksDep
) -> Response:
    notify = config.channels[channel].notify
    rows = await webhooks.recent(channel, SHOWN) if notify else []
    shown = [(message_id(row), row, iso(row.created)) for row in rows]
    return render(request, "deliveries.html", who, channel=channel, rows=shown,
                  notify=notify, title=f"{channel}: webhook deliveries")  # fmt: skip


@router.post("/console/channels/{channel}/deliveries/{event_id}/replay")
async def replay(
    request: Request, who: ViewerDep, channel: ChannelName,
    event_id: Annotated[int, Path(ge=1)], webhooks: WebhooksDep,
) -> Response:  # fmt: skip
    check_csrf(who, (await read_form(request)).get("csrf"))
    await webhooks.replay(channel, event_id)
    return see_other(f"/console/channels/{channel}/deliveries?done=replayed")


@router.post("/console/channels/{channel}/deliveries/test")
async def send_test(
    request: Request, who: ViewerDep, channel: ChannelName, webhooks: WebhooksDep
) -> Response:
    check_csrf(who, (await read_form(request)).get("csrf"))
    await webhooks.send_test(channel)
    return see_other(f"/console/channels/{channel}/deliveries?done=test-sent")
