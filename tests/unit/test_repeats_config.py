"""``repeat_after`` and ``max_posts`` in ``[channels.NAME]`` and as ``DEFAULT_*`` variables:
read in seconds and counts, refused in one line naming the file, table and key (or the
variable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.configuration.environment import Settings, duration_seconds, load_settings
from app.configuration.file import load_config
from app.errors import ConfigError
from state.store import ChannelDef

TABLE = """
[libraries.photos]
folder = "/Photos"

[channels.insta]
library = "photos"
"""


def channel(tmp_path: Path, keys: str, **settings: Any) -> ChannelDef:
    path = tmp_path / "unposted.toml"
    path.write_text(TABLE + keys)
    loaded = Settings(_env_file=None, unposted_config=path, **settings)  # type: ignore[call-arg]
    return load_config(loaded, {}).channels["insta"].spec


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90s", 90.0), ("45m", 2700.0), ("12h", 43_200.0), ("30d", 2_592_000.0)],
)
def test_durations_are_read_in_seconds(written: str, seconds: float) -> None:
    assert duration_seconds(written) == seconds


def test_both_keys_are_read(tmp_path: Path) -> None:
    spec = channel(tmp_path, 'when_exhausted = "new_cycle"\nrepeat_after = "30d"\nmax_posts = 3\n')
    assert (spec.repeat_after, spec.max_posts) == (30 * 86_400.0, 3)


def test_without_them_pictures_come_back_at_once_and_for_ever(tmp_path: Path) -> None:
    spec = channel(tmp_path, 'when_exhausted = "new_cycle"\n')
    assert (spec.repeat_after, spec.max_posts) == (None, None)


@pytest.mark.parametrize(
    ("keys", "key", "says"),
    [
        ('when_exhausted = "new_cycle"\nrepeat_after = "30"\n', "repeat_after", "not a duration"),
        ('when_exhausted = "new_cycle"\nrepeat_after = "3w"\n', "repeat_after", "not a duration"),
        ('when_exhausted = "new_cycle"\nrepeat_after = "-5d"\n', "repeat_after", "not a duration"),
        ('when_exhausted = "new_cycle"\nrepeat_after = "0h"\n', "repeat_after", "longer than zero"),
        ('when_exhausted = "new_cycle"\nrepeat_after = 30\n', "repeat_after", "must be a str"),
        ('repeat_after = "30d"\n', "repeat_after", 'needs when_exhausted = "new_cycle"'),
        ('when_exhausted = "stop"\nrepeat_after = "1d"\n', "repeat_after", "needs when_exhausted"),
        ("max_posts = 0\n", "max_posts", "must be a positive integer"),
        ("max_posts = -2\n", "max_posts", "must be a positive integer"),
        ('max_posts = "3"\n', "max_posts", "must be a int"),
        ("max_posts = 1.5\n", "max_posts", "must be a int"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_file_table_and_key(
    tmp_path: Path, keys: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        channel(tmp_path, keys)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'unposted.toml'}: [channels.insta] {key}:")
    assert says in message and "\n" not in message


def test_the_defaults_apply_where_a_channel_says_nothing(tmp_path: Path) -> None:
    defaults = {"default_repeat_after": "12h", "default_max_posts": 5}
    cycling = channel(tmp_path, 'when_exhausted = "new_cycle"\n', **defaults)
    assert (cycling.repeat_after, cycling.max_posts) == (43_200.0, 5)
    # A channel that stops has no cycle to repeat in: the default leaves it alone.
    stopping = channel(tmp_path, "", **defaults)
    assert (stopping.repeat_after, stopping.max_posts) == (None, 5)
    own = channel(tmp_path, 'when_exhausted = "new_cycle"\nrepeat_after = "1d"\nmax_posts = 1\n',
                  **defaults)  # fmt: skip
    assert (own.repeat_after, own.max_posts) == (86_400.0, 1)


def test_the_environment_channel_takes_the_defaults() -> None:
    settings = load_settings(
        _env_file=None, dropbox_folder="/Photos", default_when_exhausted="new_cycle",
        default_repeat_after="90s", default_max_posts=2,
    )  # fmt: skip
    spec = load_config(settings, {}).channels["default"].spec
    assert (spec.when_exhausted, spec.repeat_after, spec.max_posts) == ("new_cycle", 90.0, 2)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"default_repeat_after": "soon"}, "DEFAULT_REPEAT_AFTER"),
        ({"default_repeat_after": "0s"}, "DEFAULT_REPEAT_AFTER"),
        ({"default_max_posts": 0}, "DEFAULT_MAX_POSTS"),
        ({"default_when_exhausted": "again"}, "DEFAULT_WHEN_EXHAUSTED"),
    ],
)
def test_bad_defaults_name_the_variable(overrides: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, dropbox_folder="/Photos", **overrides)
    assert str(refused.value).startswith(variable + ":") and "\n" not in str(refused.value)


def test_repeat_after_without_a_cycle_is_refused_in_the_environment_too() -> None:
    settings = load_settings(_env_file=None, dropbox_folder="/Photos", default_repeat_after="1d")
    with pytest.raises(ConfigError, match=r"^DEFAULT_REPEAT_AFTER: needs DEFAULT_WHEN_EXHAUSTED"):
        load_config(settings, {})
