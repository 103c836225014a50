"""A channel's recent posting, as the overview shows it: plain functions of plain data.

``last_days`` lays the store's posts per day (``Reports.posts_per_day``, days without
posts left out) over the last ``DAYS`` days, every day present, oldest first;
``runway`` says how many days the available pictures last at that rate, with each
picture ``repeat_after`` brings back before the channel would run dry; ``chart``
draws the days as a small bar chart, inline SVG made here (no script, nothing from
elsewhere: the console's Content-Security-Policy allows neither). Bar heights are
proportional to the day's posts, the busiest day the full height; a day without posts
is a bar of height zero, so every day keeps its place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup

DAYS = 30
DAY_SECONDS = 86400
BAR, GAP, HEIGHT = 5, 1, 36  # the chart's units: each bar, the space after it, the tallest


@dataclass(frozen=True, slots=True)
class Activity:
    """Posts per day over the last ``DAYS`` days (oldest first, every day present)."""

    days: tuple[tuple[str, int], ...]

    @property
    def posts(self) -> int:
        return sum(count for _, count in self.days)

    @property
    def per_day(self) -> float:
        return self.posts / len(self.days) if self.days else 0.0

    @property
    def rate(self) -> str:
        """The rate in words: ``2.5 posts a day``, or ``one post every 10 days``."""
        if self.per_day >= 1 or self.per_day == 0:
            return f"{self.per_day:.1f} posts a day"
        return f"one post every {round(1 / self.per_day)} days"


def first_day(now: float, days: int = DAYS) -> str:
    """The first of the last ``days`` days (UTC, today included), as ``YYYY-MM-DD``."""
    return (_today(now) - timedelta(days=days - 1)).isoformat()


def last_days(now: float, counts: Mapping[str, int], days: int = DAYS) -> Activity:
    """``counts`` (``YYYY-MM-DD`` to posts) over the last ``days`` days, zeros included."""
    start = _today(now) - timedelta(days=days - 1)
    every = ((start + timedelta(days=n)).isoformat() for n in range(days))
    return Activity(tuple((day, counts.get(day, 0)) for day in every))


def runway(available: int, activity: Activity, returns: Sequence[float] = ()) -> float | None:
    """Days until the pictures run out at the recent rate (None with no posts). The rule:
    a picture waiting for ``repeat_after`` (``returns``: days from now until each comes
    back) counts as available when it comes back before the channel would run dry, with
    the ``available`` ones and those back before it."""
    rate = activity.per_day
    if rate == 0:
        return None
    days = available / rate
    for back in sorted(returns):
        if back >= days:
            break  # the channel is dry before it comes back
        days += 1 / rate
    return days


def horizon(available: int, waiting: int, activity: Activity) -> float | None:
    """The most days ``runway`` can reach: every waiting picture back in time (seconds)."""
    rate = activity.per_day
    return None if rate == 0 else (available + waiting) / rate * DAY_SECONDS


def runway_text(available: int, activity: Activity, returns: Sequence[float] = ()) -> str:
    days = runway(available, activity, returns)
    if days is None:
        return f"no posts in {len(activity.days)} days"
    if available == 0:
        return "dry now"
    if days < 1:
        return "under a day"
    whole = math.floor(days)
    return f"{whole} day" if whole == 1 else f"{whole} days"


def chart(activity: Activity) -> Markup:
    """The days as bars: inline SVG, every number made here (nothing to escape)."""
    peak = max((count for _, count in activity.days), default=0)
    width = len(activity.days) * (BAR + GAP) - GAP
    bars = "".join(_bar(n, day, count, peak) for n, (day, count) in enumerate(activity.days))
    label = f"Posts per day over the last {len(activity.days)} days: {activity.posts} in all"
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img"'
        f' aria-label="{label}" viewBox="0 0 {width} {HEIGHT + 1}"'
        f' width="{width * 2}" height="{(HEIGHT + 1) * 2}" preserveAspectRatio="none">'
        f'<line class="base" x1="0" y1="{HEIGHT + 0.5}" x2="{width}" y2="{HEIGHT + 0.5}"/>'
        f"{bars}</svg>"
    )


def bar_height(count: int, peak: int) -> float:
    """A day's bar: proportional to its posts, the busiest day ``HEIGHT``."""
    return 0.0 if peak == 0 else round(HEIGHT * count / peak, 2)


def _bar(n: int, day: str, count: int, peak: int) -> str:
    height = bar_height(count, peak)
    posts = "post" if count == 1 else "posts"
    return (
        f'<rect class="bar" data-day="{day}" data-posts="{count}" x="{n * (BAR + GAP)}"'
        f' y="{round(HEIGHT - height, 2)}" width="{BAR}" height="{height}">'
        f"<title>{day}: {count} {posts}</title></rect>"
    )


def _today(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()
