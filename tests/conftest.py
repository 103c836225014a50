"""Fixtures shared by every test: settings built explicitly, never from the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings

API_TOKEN = "test-api-token-0123456789"
APP_SECRET = "test-app-secret"

MakeSettings = Callable[..., Settings]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long reliability mode")
    parser.addoption(
        "--screenshot", type=Path, default=None, metavar="PNG",
        help="where the browser test saves a screenshot of the console's grid",
    )  # fmt: skip


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Build ``Settings`` for a test: no ``.env``, no environment surprises."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "dropbox_folder": "/Photos",
            "dropbox_access_token": "test-access-token",
            "dropbox_app_key": "test-app-key",
            "dropbox_app_secret": APP_SECRET,
            "api_token": API_TOKEN,
            "state_dir": tmp_path / "state",
            "log_format": "console",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build
