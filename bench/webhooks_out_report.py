"""The events-out section of ``docs/benchmarks.md`` (``bench.webhooks_out``) and its targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_format import ms, n, ratio, table
from bench.report_targets import section

NAME = "webhooks_out"


def body(figures: dict[str, Any]) -> str:
    posted, catch_up, delivery = figures["posted"], figures["catch_up"], figures["delivery"]
    rows = [
        [f"`POST /posted`, median of {n(posted['rounds'])} each", ms(posted["plain_ms"]),
         ms(posted["hooked_ms"]), ratio(posted["hooked_vs_plain"])],
        [f"initial catch-up of {n(catch_up['size'])} files, median of {catch_up['reps']}",
         ms(catch_up["plain_seconds"] * 1000), ms(catch_up["hooked_seconds"] * 1000),
         ratio(catch_up["hooked_vs_plain"])],
    ]  # fmt: skip
    return (
        "One channel whose webhook asks for every event beside one without a webhook, in "
        "the same run, in turn (SQLite). `/posted`: the service over the emulator, each "
        "post leased first, only the post timed. The catch-up: a fresh store each time (a "
        "first listing tells no `images.added`; the channel's level is looked at after "
        "each page).\n\n"
        + table(["", "without a webhook", "every event", "ratio"], rows)
        + f"\nDelivery to a local receiver (a threaded HTTP server in the same process, "
        f"answering `204`): {n(delivery['events'])} `image.posted` events written first, "
        f"then sent in {delivery['seconds']:.1f} s: {n(delivery['events_per_second'])} "
        f"events per second. Then {n(delivery['paced'])} posts at "
        f"{delivery['rate_per_second']:g} a second, the deliverer running: from the change "
        f"to its arrival, p50 {ms(delivery['p50_ms'])}, p99 {ms(delivery['p99_ms'])} (an "
        "idle channel looks for new events every 0.25 s).\n"
    )


def _judge_ratio(part: str, what: Callable[[dict[str, Any]], str]) -> Callable[..., Any]:
    def judge(sections: dict[str, Any]) -> tuple[str, bool | None]:
        figures = section(sections, NAME)
        if figures is None:
            return "not run", None
        share = figures[part]["hooked_vs_plain"]
        return f"{ratio(share)} ({what(figures[part])})", share <= 1.10

    return judge


def judge_delivery(sections: dict[str, Any]) -> tuple[str, bool | None]:
    figures = section(sections, NAME)
    if figures is None:
        return "not run", None
    delivery = figures["delivery"]
    text = (
        f"p99 {ms(delivery['p99_ms'])} at {delivery['rate_per_second']:g} events/s; "
        f"{n(delivery['events'])} events at {n(delivery['events_per_second'])} events/s"
    )
    return text, delivery["p99_ms"] < 1000


TARGETS: list[tuple[str, Callable[[dict[str, Any]], tuple[str, bool | None]]]] = [
    (
        "events out: the outbox adds at most 10% to `/posted` (every event vs no webhook)",
        _judge_ratio("posted", lambda p: f"{ms(p['hooked_ms'])} vs {ms(p['plain_ms'])}"),
    ),
    (
        "events out: the outbox adds at most 10% to a catch-up of 100k files",
        _judge_ratio("catch_up", lambda c: f"{n(c['size'])} files"),
    ),
    ("events out: p99 from change to delivery under 1 s, a healthy receiver", judge_delivery),
]
