"""The overview's runway and its chart of posts per day, from plain counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.console.activity import (
    HEIGHT,
    Activity,
    chart,
    first_day,
    horizon,
    last_days,
    runway,
    runway_text,
)

NOW = datetime(2026, 12, 5, 22, 30, tzinfo=UTC).timestamp()


def bars(svg: str) -> list[tuple[str, int, float, float]]:
    """(day, posts, y, height) of each bar, in order."""
    found = re.findall(
        r'<rect class="bar" data-day="([0-9-]+)" data-posts="(\d+)" x="[0-9.]+"'
        r' y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)">',
        svg,
    )
    return [(day, int(posts), float(y), float(height)) for day, posts, y, height in found]


def test_the_last_30_days_are_every_day_oldest_first_with_zeros() -> None:
    activity = last_days(NOW, {"2026-12-05": 3, "2026-11-06": 1, "2026-11-05": 9})
    assert len(activity.days) == 30
    assert activity.days[0] == ("2026-11-06", 1) and activity.days[-1] == ("2026-12-05", 3)
    assert activity.days[1] == ("2026-11-07", 0)
    assert activity.posts == 4 and first_day(NOW) == "2026-11-06"


def test_the_runway_is_what_is_available_over_the_daily_rate() -> None:
    activity = last_days(NOW, {"2026-12-01": 45, "2026-12-02": 15})  # 60 in 30 days: 2 a day
    assert runway(100, activity) == 50.0 and activity.rate == "2.0 posts a day"
    assert runway_text(100, activity) == "50 days"
    assert runway_text(3, activity) == "1 day"
    assert runway_text(1, activity) == "under a day"
    assert runway_text(0, activity) == "dry now"
    assert last_days(NOW, {"2026-12-01": 3}).rate == "one post every 10 days"
    quiet = last_days(NOW, {"2026-10-01": 5})  # older than 30 days: not counted
    assert runway(100, quiet) is None and runway_text(100, quiet) == "no posts in 30 days"


def test_the_runway_counts_the_pictures_that_come_back_before_it_runs_dry() -> None:
    activity = last_days(NOW, {"2026-12-01": 60})  # 2 a day: 10 available last 5 days
    assert runway(10, activity, ()) == 5.0
    # Back on day 1 and day 4: each adds half a day; the runway is 6 days.
    assert runway(10, activity, (4.0, 1.0)) == 6.0
    # Back on day 5.5: after the 5 days would have run dry, so it does not count ...
    assert runway(10, activity, (5.5,)) == 5.0
    # ... unless an earlier return pushed the dry day past it (5.5 < 5 + 0.5 + 0.5).
    assert runway(10, activity, (1.0, 2.0, 5.5)) == 6.5
    assert runway(10, activity, (1.0, 7.0, 2.0)) == 6.0  # any order; 7 comes too late
    assert runway_text(10, activity, (1.0, 2.0, 5.5)) == "6 days"
    assert runway_text(0, activity, (0.5,)) == "dry now"  # nothing left until it returns
    assert horizon(10, 3, activity) == 6.5 * 86400  # every waiting one back in time
    quiet = last_days(NOW, {})
    assert runway(10, quiet, (1.0,)) is None and horizon(10, 3, quiet) is None


def test_bars_are_proportional_to_the_posts_and_a_day_without_is_zero() -> None:
    counts = {"2026-12-05": 8, "2026-12-04": 2, "2026-12-02": 4}
    svg = str(chart(last_days(NOW, counts)))
    drawn = bars(svg)
    assert [day for day, *_ in drawn] == [day for day, _ in last_days(NOW, counts).days]
    heights = {day: height for day, _, _, height in drawn}
    assert heights["2026-12-05"] == HEIGHT
    assert heights["2026-12-04"] == pytest.approx(HEIGHT / 4)
    assert heights["2026-12-02"] == pytest.approx(HEIGHT / 2)
    assert heights["2026-12-03"] == 0 and heights["2026-11-06"] == 0
    for _, _, y, height in drawn:  # every bar stands on the same line
        assert y + height == pytest.approx(HEIGHT)
    assert sum(1 for *_, height in drawn if height == 0) == 27
    assert 'aria-label="Posts per day over the last 30 days: 14 in all"' in svg


def test_a_chart_of_no_posts_has_every_bar_at_zero_and_no_script() -> None:
    svg = str(chart(last_days(NOW, {})))
    drawn = bars(svg)
    assert len(drawn) == 30 and all(height == 0 for *_, height in drawn)
    assert "<script" not in svg and "href" not in svg and "style=" not in svg


def test_an_empty_activity_is_no_rate() -> None:
    assert Activity(()).per_day == 0.0 and runway(5, Activity(())) is None
