"""Render profiles as the configuration file states them: read, and refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.configuration.environment import Settings
from app.configuration.file import load_config
from app.configuration.render import RenderProfile, parse_profile
from app.errors import ConfigError

TABLE = """
[libraries.photos]
folder = "/Photos"

[channels.insta]
library = "photos"
"""


def config_with(tmp_path: Path, render: str) -> Path:
    path = tmp_path / "unposted.toml"
    path.write_text(TABLE + render)
    return path


def load(path: Path) -> dict[str, RenderProfile | None]:
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    return {name: channel.render for name, channel in load_config(settings, {}).channels.items()}


def test_a_profile_is_read_with_its_defaults(tmp_path: Path) -> None:
    path = config_with(
        tmp_path, '[channels.insta.render]\naspect = "4:5..1.91:1"\nmax_side = 1080\n'
    )
    profile = load(path)["insta"]
    assert profile is not None
    assert profile.aspect == (0.8, 1.91)
    assert (profile.fit, profile.format, profile.quality, profile.strip_metadata) == (
        "crop", "jpeg", 85, True
    )  # fmt: skip
    assert profile.max_side == 1080 and profile.max_bytes is None
    assert profile.background == (255, 255, 255)


def test_a_channel_without_a_table_has_no_profile(tmp_path: Path) -> None:
    assert load(config_with(tmp_path, ""))["insta"] is None


def test_alike_profiles_share_a_key_and_others_do_not() -> None:
    same = parse_profile({"aspect": "4:5", "max_side": 1080})
    assert same.key == parse_profile({"max_side": 1080, "aspect": "4:5"}).key
    assert same.key != parse_profile({"aspect": "4:5", "max_side": 1081}).key


@pytest.mark.parametrize(
    ("render", "problem"),
    [
        ('aspect = "4x5"', "aspect: '4x5' is not a ratio"),
        ('aspect = "1.91:1..4:5"', "aspect: 1.91:1..4:5: the narrower ratio comes first"),
        ('aspect = "0:5"', "aspect: '0:5': both sides positive"),
        ('fit = "stretch"', "fit: must be one of crop, pad"),
        ('background = "white"', 'background: must be a colour such as "#ffffff"'),
        ("max_side = 0", "max_side: must be an integer from 16"),
        ("max_bytes = 10", "max_bytes: must be an integer from 1024"),
        ('format = "gif"', "format: must be one of jpeg, png, webp"),
        ("quality = 101", "quality: must be an integer from 1 to 100"),
        ('strip_metadata = "yes"', "strip_metadata: must be true or false"),
        ("sharpen = true", "sharpen: unknown key"),
    ],
)
def test_a_bad_profile_stops_the_service_in_one_line(
    tmp_path: Path, render: str, problem: str
) -> None:
    path = config_with(tmp_path, f"[channels.insta.render]\n{render}\n")
    with pytest.raises(ConfigError) as refused:
        load(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: [channels.insta.render] ")
    assert problem in message


def test_render_must_be_a_table(tmp_path: Path) -> None:
    path = config_with(tmp_path, 'render = "4:5"\n')
    with pytest.raises(ConfigError, match=r"\[channels.insta\] render: must be a table"):
        load(path)
