"""A channel's seasons and balance in the configuration file: windows within a year and
across the new year, time zones, weights; each mistake refused in one line naming the
file, the table and the key."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.configuration.environment import Settings
from app.configuration.file import ChannelConfig, load_config
from app.configuration.rotation import parse_window
from app.errors import ConfigError

TABLE = """
[libraries.photos]
folder = "/Photos"

[channels.feed]
library = "photos"
"""


def load(tmp_path: Path, channel: str = "", seasons: str | None = None) -> ChannelConfig:
    path = tmp_path / "unposted.toml"
    text = TABLE + channel + ("" if seasons is None else "[channels.feed.seasons]\n" + seasons)
    path.write_text(text)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    return load_config(settings, {}).channels["feed"]


def refused(tmp_path: Path, channel: str = "", seasons: str | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, channel, seasons)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "unposted.toml"))
    return message


def test_windows_hold_their_days_inclusive() -> None:
    summer = parse_window("06-01..08-31")
    assert summer.holds(date(2026, 6, 1)) and summer.holds(date(2026, 8, 31))
    assert not summer.holds(date(2026, 5, 31)) and not summer.holds(date(2026, 9, 1))
    winter = parse_window("12-20..01-06")  # across the new year
    assert winter.holds(date(2026, 12, 20)) and winter.holds(date(2027, 1, 6))
    assert winter.holds(date(2026, 12, 31)) and winter.holds(date(2027, 1, 1))
    assert not winter.holds(date(2026, 12, 19)) and not winter.holds(date(2027, 1, 7))
    leap = parse_window("02-29..02-29")
    assert leap.holds(date(2028, 2, 29)) and not leap.holds(date(2027, 3, 1))
    assert str(winter) == "12-20..01-06"


def test_seasons_and_their_zone_are_read(tmp_path: Path) -> None:
    feed = load(tmp_path, 'time_zone = "Pacific/Auckland"\n', 'Christmas = "12-20..01-06"\n')
    assert feed.seasons is not None
    assert feed.seasons.zone == zoneinfo.ZoneInfo("Pacific/Auckland")
    assert set(feed.seasons.windows) == {"christmas"}  # folded as Dropbox folds names
    # 2026-12-19T11:00Z is already the 20th in Auckland; in UTC it is not yet
    moment = datetime(2026, 12, 19, 11, tzinfo=UTC).timestamp()
    assert feed.seasons.closed(moment) == frozenset()
    utc = load(tmp_path, "", 'Christmas = "12-20..01-06"\n').seasons
    assert utc is not None and utc.closed(moment) == {"christmas"}
    assert load(tmp_path).seasons is None and load(tmp_path).spec.weights is None


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ('"12-1..12-26"', "is not a window"),
        ('"12-01-12-26"', "is not a window"),
        ('"02-30..03-01"', "02-30 is no day of the year"),
        ('"13-01..12-26"', "13-01 is no day of the year"),
        ('"12-01..00-10"', "00-10 is no day of the year"),
        ("12", "must be a window"),
    ],
)
def test_a_bad_window_is_refused(tmp_path: Path, window: str, problem: str) -> None:
    message = refused(tmp_path, "", f"christmas = {window}\n")
    assert "[channels.feed.seasons] christmas:" in message and problem in message


def test_a_bad_zone_or_key_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, 'time_zone = "Mars/Olympus"\n')
    assert "[channels.feed] time_zone: 'Mars/Olympus' is no known time zone" in message
    assert "[channels.feed] season: unknown key" in refused(tmp_path, 'season = "x"\n')
    assert "[channels.feed] seasons: must be a table" in refused(tmp_path, 'seasons = "x"\n')
    twice = refused(tmp_path, "", 'Xmas = "12-01..12-02"\nxmas = "12-01..12-02"\n')
    assert "names a folder another key names already" in twice


def test_weights_are_read_folded(tmp_path: Path) -> None:
    feed = load(tmp_path, 'balance = "folders"\nweights = { "Travel" = 3, "food" = 1 }\n')
    assert feed.spec.weights == (("food", 1), ("travel", 3))
    assert load(tmp_path, 'balance = "folders"\n').spec.weights == ()


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ('balance = "folder"\n', "balance: must be one of none, folders"),
        ('weights = { "a" = 1 }\n', 'weights: weighs folders only with balance = "folders"'),
        ('balance = "folders"\nweights = { "a" = 0 }\n', "'a' must weigh a positive integer"),
        ('balance = "folders"\nweights = { "a" = -2 }\n', "'a' must weigh a positive integer"),
        ('balance = "folders"\nweights = { "a" = 1.5 }\n', "'a' must weigh a positive integer"),
        ('balance = "folders"\nweights = { "a" = true }\n', "'a' must weigh a positive integer"),
        ('balance = "folders"\nweights = 3\n', "weights: must be a table"),
    ],
)
def test_bad_weights_are_refused(tmp_path: Path, keys: str, problem: str) -> None:
    message = refused(tmp_path, keys)
    assert "[channels.feed]" in message and problem in message


def test_named_folders_are_checked_once_the_library_is_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A season naming no folder is a warning; a weight naming none, the one line."""
    from app.services.rotation import folder_problem

    path = tmp_path / "unposted.toml"
    path.write_text(TABLE + 'balance = "folders"\nweights = { "travel" = 2 }\n'
                    '[channels.feed.seasons]\nxmas = "12-01..12-26"\n')  # fmt: skip
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    config = load_config(settings, {})
    assert folder_problem(config, "feed", lambda library: None) == (False, None)  # not listed
    assert folder_problem(config, "feed", lambda library: [".", "travel"]) == (True, None)
    assert "xmas: library photos holds no pictures in that folder (yet)" in caplog.text
    checked, problem = folder_problem(config, "feed", lambda library: [".", "xmas"])
    assert checked and problem == (
        f"{path}: [channels.feed] weights: 'travel' names no folder of library photos (., xmas)"
    )
