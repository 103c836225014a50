"""A channel's webhook deliveries: its latest events, newest first, and how each went
(event, status, attempts, last error). The command line replays a failed one
(``replay-delivery``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import ConfigDep, WebhooksDep
from app.console.pages import ConsoleRoute, render
from app.console.viewer import ChannelName, ViewerDep
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
