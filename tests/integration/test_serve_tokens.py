"""``serve`` refuses tokens anyone could supply, in one line and exit code 2, before it
binds: the placeholder of ``.env.example`` (copied as the README says), a short token, a
channel's token shared with another channel or with ``API_TOKEN``. The line says how to
make a token, and never prints one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.api.access import PLACEHOLDER
from tests.reliability.forkserver import forkserver

ROOT = Path(__file__).resolve().parents[2]
HOW = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
GOOD, OTHER = "good-operator-token-0123456789abcdef", "good-channel-token-0123456789abcdef"
CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.shop]
library = "photos"
api_token_env = "SHOP_TOKEN"

[channels.feed]
library = "photos"
api_token_env = "FEED_TOKEN"
"""


def serve(cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    ours = ("DROPBOX_", "API_", "UNPOSTED_", "SHOP_", "FEED_", "STATE_DIR", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(STATE_DIR=str(cwd / "state"), LOG_FORMAT="console", **variables)
    return forkserver().run(["serve", "--port", "0"], env, timeout=60, cwd=cwd)


def refused(done: subprocess.CompletedProcess[str], says: str, *secrets: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("unposted: configuration: ")
    assert says in done.stderr and HOW in done.stderr
    for secret in secrets:
        assert secret not in done.stderr


def test_a_copy_of_env_example_is_refused(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")  # the README's first step
    done = serve(tmp_path)
    refused(done, "API_TOKEN is the placeholder of .env.example")
    assert PLACEHOLDER not in done.stderr


@pytest.mark.parametrize(
    ("variables", "says", "secret"),
    [
        ({"API_TOKEN": "ab"}, "API_TOKEN is shorter than 32 characters", "ab:"),
        ({"API_TOKEN": "change-me-to-a-long-random-token"}, "placeholder", "change-me"),
        ({"API_TOKEN": GOOD, "SHOP_TOKEN": "short-shop"}, "channel shop is shorter", "short-shop"),
        ({"API_TOKEN": GOOD, "SHOP_TOKEN": OTHER, "FEED_TOKEN": OTHER},
         "the token of channel feed is the same as the token of channel shop", OTHER),
        ({"API_TOKEN": GOOD, "SHOP_TOKEN": GOOD, "FEED_TOKEN": OTHER},
         "the token of channel shop is the same as API_TOKEN", GOOD),
    ],
)  # fmt: skip
def test_weak_or_shared_tokens_are_refused(
    tmp_path: Path, variables: dict[str, str], says: str, secret: str
) -> None:
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG)
    done = serve(
        tmp_path,
        UNPOSTED_CONFIG=str(config),
        DROPBOX_ACCESS_TOKEN="dropbox-access-token",
        DROPBOX_APP_SECRET="dropbox-app-secret",
        **{"SHOP_TOKEN": "shop-" + OTHER, "FEED_TOKEN": "feed-" + OTHER} | variables,
    )
    refused(done, says, secret)
