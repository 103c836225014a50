"""A channel's ``[channels.NAME.notify]`` table: read with its defaults, refused in one
line naming the key, and its secret never shown."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.configuration.environment import Settings
from app.configuration.file import load_config
from app.configuration.notify import EVENTS, NotifyConfig
from app.errors import ConfigError

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
TABLE = """
[libraries.photos]
folder = "/Photos"

[channels.insta]
library = "photos"
"""


def load(tmp_path: Path, notify: str, environ: dict[str, str] | None = None) -> NotifyConfig | None:
    path = tmp_path / "unposted.toml"
    path.write_text(TABLE + "[channels.insta.notify]\n" + notify)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    config = load_config(settings, {"HOOK_SECRET": SECRET} if environ is None else environ)
    assert config.channels["insta"].spec.notify == (
        config.channels["insta"].notify.events if config.channels["insta"].notify else ()
    )
    return config.channels["insta"].notify


def test_a_table_is_read_with_its_defaults(tmp_path: Path) -> None:
    notify = load(tmp_path, 'url = "https://hooks.example.com/x"\nsecret_env = "HOOK_SECRET"\n')
    assert notify is not None
    assert notify.url == "https://hooks.example.com/x"
    assert notify.secret.get_secret_value() == SECRET
    assert notify.events == EVENTS and notify.low_water == 0


def test_chosen_events_and_loopback_http(tmp_path: Path) -> None:
    notify = load(
        tmp_path,
        'url = "http://127.0.0.1:9000/hook"\nsecret_env = "HOOK_SECRET"\n'
        'events = ["lease.expired", "image.posted"]\nlow_water = 5\n',
    )
    assert notify is not None
    assert set(notify.events) == {"lease.expired", "image.posted"} and notify.low_water == 5


def test_a_channel_without_a_table_records_no_events(tmp_path: Path) -> None:
    path = tmp_path / "unposted.toml"
    path.write_text(TABLE)
    settings = Settings(_env_file=None, unposted_config=path)  # type: ignore[call-arg]
    channel = load_config(settings, {}).channels["insta"]
    assert channel.notify is None and channel.spec.notify == ()


@pytest.mark.parametrize(
    ("table", "environ", "named"),
    [
        ('url = "http://hooks.example.com/x"\nsecret_env = "S"\n', None, "url: must be https"),
        ('url = "ftp://127.0.0.1/x"\nsecret_env = "S"\n', None, "url: must be an https"),
        ('url = "https://u:p@example.com/x"\nsecret_env = "S"\n', None, "url: must not carry"),
        ('secret_env = "S"\n', None, "url: is required"),
        ('url = "https://example.com"\n', None, "secret_env: is required"),
        ('url = "https://example.com"\nsecret_env = "NONE"\n', None, "variable NONE is not set"),
        ('url = "https://example.com"\nsecret_env = "S"\n', {"S": "plain-secret"}, "whsec_"),
        ('url = "https://example.com"\nsecret_env = "S"\n', {"S": "whsec_!!!!"}, "whsec_"),
        ('url = "https://example.com"\nsecret_env = "S"\n', {"S": "whsec_c2hvcnQ="},
         "under 16 bytes"),
        ('url = "https://example.com"\nsecret_env = "S"\nevents = ["image.gone"]\n', None,
         "events: 'image.gone' is not one of"),
        ('url = "https://example.com"\nsecret_env = "S"\nevents = []\n', None, "events: must"),
        ('url = "https://example.com"\nsecret_env = "S"\nlow_water = -1\n', None, "low_water"),
        ('url = "https://example.com"\nsecret_env = "S"\nlow_water = "2"\n', None, "low_water"),
        ('url = "https://example.com"\nsecret_env = "S"\nretries = 3\n', None, "unknown key"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_one_line(
    tmp_path: Path, table: str, environ: dict[str, str] | None, named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, table, {"S": SECRET} if environ is None else environ)
    message = str(caught.value)
    assert "\n" not in message and "[channels.insta.notify]" in message and named in message
    assert SECRET not in message and "plain-secret" not in message and "!!!!" not in message
    assert "c2hvcnQ" not in message
