"""``deliveries`` and ``replay-delivery``: a channel's webhook events, here or on a service.

``deliveries [--channel NAME] [--limit N] [--json]`` lists the channel's latest events
(newest first: id, event, status, attempts, when, last error); ``replay-delivery ID``
makes a failed one pending again, with the same ``webhook-id``, for the deliverer to
send. As the channel commands do (``app.cli``), they ask the service at ``UNPOSTED_URL``
with ``UNPOSTED_TOKEN`` (the operator's: ``GET /admin/deliveries``, ``POST
/admin/deliveries/{id}/replay``) when both are set, and act on the state directory (or
``DATABASE_URL``) here otherwise, for a running service's deliverer to pick up.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.cli.output import Output, table
from app.errors import InvalidInput

Remote = tuple[str, str] | None
"""The service's URL and token, or None for the state here."""
Command = Callable[[argparse.Namespace, Remote], int]
COMMANDS: dict[str, Command] = {}
MAX_LISTED = 500  # as the service lists at most (``app.api.routes.deliveries``)


def _render(document: list[dict[str, Any]]) -> list[str]:
    header = ("ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR")
    rows = [(d["id"], d["type"], d["status"], str(d["attempts"]), d["created"],
             d["last_error"] or "") for d in document]  # fmt: skip
    return table(header, rows) if rows else ["no deliveries"]


def deliveries(args: argparse.Namespace, remote: Remote) -> int:
    if remote is not None:
        from unposted_client import UnpostedClient  # httpx: only for a service elsewhere

        with UnpostedClient(*remote, channel=args.channel) as client:
            document = [dict(row.raw) for row in client.deliveries(args.limit)]
    else:
        from app.cli.local import LocalState  # the store: only for the commands that open it
        from app.services.webhooks import delivery_json

        with LocalState(log_level=args.log_level) as local:
            rows = local.store.outbox.deliveries(local.channel(args.channel), args.limit)
        document = [delivery_json(row) for row in rows]
    Output(args.json).table(document, _render)
    return 0


def replay_delivery(args: argparse.Namespace, remote: Remote) -> int:
    number = args.id.removeprefix("msg_")
    if not number.isdigit() or int(number) < 1:
        raise InvalidInput(f"{args.id!r} is not an event id such as msg_12")
    if remote is not None:
        from unposted_client import UnpostedClient

        with UnpostedClient(*remote, channel=args.channel) as client:
            document = dict(client.replay_delivery(f"msg_{int(number)}").raw)
    else:
        from app.cli.local import LocalState
        from app.services.webhooks import delivery_json

        with LocalState(log_level=args.log_level) as local:
            row = local.store.outbox.replay(local.channel(args.channel), int(number))
        document = delivery_json(row)
    Output(args.json).result(document, lambda d: [f"{d['id']} ({d['type']}) pending again"])
    return 0


COMMANDS.update({"deliveries": deliveries, "replay-delivery": replay_delivery})


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LISTED:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_LISTED}")
    return int(text)


def add_parsers(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser(
        "deliveries", help="a channel's latest webhook events and how their delivery went",
        parents=common, description="List a channel's latest webhook events, newest first.",
    )  # fmt: skip
    listing.add_argument("--channel", help="the channel (default: the only or default one)")
    listing.add_argument("--limit", type=_limit, default=20, help="how many (default 20)")
    replay = commands.add_parser(
        "replay-delivery", help="send a failed webhook event again", parents=common,
        description="Make a failed webhook event pending again (the same webhook-id).",
    )  # fmt: skip
    replay.add_argument("id", help="the event's id, as deliveries lists it (msg_...)")
    replay.add_argument("--channel", help="the channel (default: the only or default one)")
