"""A channel's rotation over its library's folders: seasons and balance.

::

    [channels.brand-a-instagram]
    time_zone = "Europe/Paris"          # IANA name; the seasons' days are this zone's
    balance = "folders"                 # none | folders
    weights = { "travel" = 3, "food" = 1 }  # first-level subfolders; unlisted weigh 1

    [channels.brand-a-instagram.seasons]
    christmas = "12-01..12-26"          # MM-DD..MM-DD, both days included
    winter = "12-20..01-06"             # across the new year

A folder is a first-level subfolder of the library's folder, named as Dropbox folds
names (``"."``: the files directly in the library's folder). ``parse_seasons`` and
``parse_weights`` check a channel's keys and name the key of any problem
(``RotationError``); the configuration file puts the file and table in front of it.
Whether a folder named here exists is known only once the library is listed.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from state.casefold import fold

_WINDOW = re.compile(r"(\d\d)-(\d\d)\.\.(\d\d)-(\d\d)")
_LEAP_YEAR = 2000  # every MM-DD that exists in some year exists in this one


class RotationError(ValueError):
    """A key that cannot work: ``key`` and what is wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True, slots=True)
class Window:
    """Days of every year, from ``start`` to ``end`` (month, day) inclusive; across the
    new year when ``end`` comes before ``start``."""

    start: tuple[int, int]
    end: tuple[int, int]

    def holds(self, day: date) -> bool:
        today = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= today <= self.end
        return today >= self.start or today <= self.end

    def __str__(self) -> str:
        return f"{self.start[0]:02d}-{self.start[1]:02d}..{self.end[0]:02d}-{self.end[1]:02d}"


@dataclass(frozen=True, slots=True)
class Seasons:
    """A channel's seasonal folders (folded names) and the zone their days are counted in."""

    windows: dict[str, Window]
    zone: tzinfo = UTC

    def closed(self, now: float) -> frozenset[str]:
        """The folders out of season at ``now`` (seconds since the epoch)."""
        today = datetime.fromtimestamp(now, self.zone).date()
        return frozenset(f for f, window in self.windows.items() if not window.holds(today))


def parse_window(text: str) -> Window:
    """``"MM-DD..MM-DD"``; ValueError naming what is wrong."""
    found = _WINDOW.fullmatch(text.strip())
    if found is None:
        raise ValueError(f'{text!r} is not a window such as "12-01..12-26" (MM-DD..MM-DD)')
    month1, day1, month2, day2 = (int(part) for part in found.groups())
    for month, day in ((month1, day1), (month2, day2)):
        try:
            date(_LEAP_YEAR, month, day)
        except ValueError:
            raise ValueError(f"{text!r}: {month:02d}-{day:02d} is no day of the year") from None
    return Window((month1, day1), (month2, day2))


def parse_zone(value: Any) -> tzinfo:
    if not isinstance(value, str) or not value:
        raise RotationError("time_zone", 'must be a time zone name such as "Europe/Paris"')
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RotationError("time_zone", f"{value!r} is no known time zone") from None


def parse_seasons(table: Any, zone: tzinfo) -> Seasons:
    """``[channels.NAME.seasons]``: folder = window."""
    windows: dict[str, Window] = {}
    for folder, text in table.items():
        if not isinstance(text, str):
            raise RotationError(folder, 'must be a window such as "12-01..12-26"')
        try:
            window = parse_window(text)
        except ValueError as exc:
            raise RotationError(folder, str(exc)) from None
        if fold(folder) in windows:
            raise RotationError(folder, "names a folder another key names already")
        windows[fold(folder)] = window
    return Seasons(windows, zone)


def parse_weights(table: Any) -> dict[str, int]:
    """``weights``: folder = a positive integer, names folded as Dropbox folds them."""
    weights: dict[str, int] = {}
    for folder, weight in table.items():
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise RotationError("weights", f"{folder!r} must weigh a positive integer")
        if fold(folder) in weights:
            raise RotationError("weights", f"{folder!r} names a folder named already")
        weights[fold(folder)] = weight
    return weights
