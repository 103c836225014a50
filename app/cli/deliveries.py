"""``deliveries`` and ``replay-delivery``: a channel's webhook events, on the state here.

``deliveries [--channel NAME] [--limit N] [--json]`` lists the channel's latest events
(newest first: id, event, status, attempts, when, last error); ``replay-delivery ID``
makes a failed one pending again, with the same ``webhook-id``, for a running service's
deliverer to send. Both act on the state directory (or ``DATABASE_URL``) here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.cli.output import Output, table
from app.errors import InvalidInput
from state.rules import iso
from state.store import Delivery

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def describe(row: Delivery) -> dict[str, Any]:
    from app.services.webhooks import message_id  # imported by the commands that use it

    return {"id": message_id(row), "type": row.type, "status": row.status,
            "attempts": row.attempts, "created": iso(row.created),
            "last_error": row.last_error}  # fmt: skip


def _render(document: list[dict[str, Any]]) -> list[str]:
    header = ("ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR")
    rows = [(d["id"], d["type"], d["status"], str(d["attempts"]), d["created"],
             d["last_error"] or "") for d in document]  # fmt: skip
    return table(header, rows) if rows else ["no deliveries"]


def deliveries(args: argparse.Namespace) -> int:
    from app.cli.local import LocalState  # the store: only for the commands that open it

    with LocalState(log_level=args.log_level) as local:
        rows = local.store.outbox.deliveries(local.channel(args.channel), args.limit)
    Output(args.json).table([describe(row) for row in rows], _render)
    return 0


def replay_delivery(args: argparse.Namespace) -> int:
    from app.cli.local import LocalState

    number = args.id.removeprefix("msg_")
    if not number.isdigit():
        raise InvalidInput(f"{args.id!r} is not an event id such as msg_12")
    event_id = int(number)
    with LocalState(log_level=args.log_level) as local:
        row = local.store.outbox.replay(local.channel(args.channel), event_id)
    Output(args.json).result(describe(row), lambda d: [f"{d['id']} ({d['type']}) pending again"])
    return 0


COMMANDS.update({"deliveries": deliveries, "replay-delivery": replay_delivery})


def add_parsers(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser(
        "deliveries", help="a channel's latest webhook events and how their delivery went",
        parents=common, description="List a channel's latest webhook events, newest first.",
    )  # fmt: skip
    listing.add_argument("--channel", help="the channel (default: the only or default one)")
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    replay = commands.add_parser(
        "replay-delivery", help="send a failed webhook event again", parents=common,
        description="Make a failed webhook event pending again (the same webhook-id).",
    )  # fmt: skip
    replay.add_argument("id", help="the event's id, as deliveries lists it (msg_...)")
    replay.add_argument("--channel", help="the channel (default: the only or default one)")
