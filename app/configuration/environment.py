"""Configuration: one ``Settings`` object read from the environment and ``.env``.

Every variable of the contract is a typed field here. ``load_settings()`` turns
pydantic's validation report into one line naming the variable, which is what an
operator sees when the service refuses to start.

Dropbox credentials are checked for form here, before any call: an empty one, or one
with a space, a line break, quotes or characters no token has (a paste gone wrong),
would otherwise fail deep in the SDK or in an HTTP header. The message names the
variable, never its value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import ConfigError

SelectPolicy = Literal["random", "oldest", "newest", "name"]
WhenExhausted = Literal["stop", "new_cycle"]
_DURATION = re.compile(r"([0-9]+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
Extensions = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """The service's settings; tests build their own and pass them in."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    dropbox_app_key: str | None = None
    dropbox_app_secret: SecretStr | None = None
    dropbox_refresh_token: SecretStr | None = None
    dropbox_access_token: SecretStr | None = None
    dropbox_folder: str | None = None
    unposted_config: Path | None = None
    dropbox_recursive: bool = False
    dropbox_base_url: str | None = None
    image_extensions: Extensions = (".jpg", ".jpeg", ".png")
    sidecar_extensions: Extensions = (".txt",)
    archive_folder: str | None = None
    state_dir: Path = Path("./var")
    database_url: SecretStr | None = None
    api_token: SecretStr | None = None
    select_policy: SelectPolicy = "random"
    lease_seconds: int = Field(default=900, gt=0)
    # Channels' rotation, for those that do not say (every channel without a file).
    default_when_exhausted: WhenExhausted = "stop"
    default_repeat_after: str | None = None
    default_max_posts: int | None = Field(default=None, gt=0)
    sync_mode: Literal["webhook", "longpoll"] = "webhook"
    reconcile_seconds: float = Field(default=900, gt=0)
    thumbnail_cache_mb: int = Field(default=256, ge=1)
    near_duplicate_hashing: bool = True
    near_duplicate_grace_seconds: float = Field(default=600, gt=0)
    render_concurrency: int = Field(default=2, ge=1, le=64)
    render_max_input_mb: int = Field(default=50, ge=1, le=2048)
    render_max_megapixels: float = Field(default=64, gt=0, le=1000)
    render_cache_mb: int = Field(default=512, ge=1)
    public_url: str | None = None
    # Channels' webhooks (app/services/webhooks.py): how long one request may take, the
    # first wait before a retry (doubled each time, with jitter), how long to keep trying.
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=300)
    webhook_first_retry_seconds: float = Field(default=5, gt=0)
    webhook_retry_seconds: float = Field(default=86_400, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("default_repeat_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        duration_seconds(value)
        return value.strip()

    @field_validator("dropbox_folder", "archive_folder")
    @classmethod
    def _dropbox_path(cls, value: str | None) -> str | None:
        return None if value is None else dropbox_path(value)

    @field_validator("image_extensions", "sidecar_extensions", mode="before")
    @classmethod
    def _extensions(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        cleaned = tuple(dict.fromkeys(_extension(str(item)) for item in items if str(item).strip()))
        if not cleaned:
            raise ValueError("needs at least one extension, e.g. .jpg")
        return cleaned

    @field_validator("dropbox_base_url", "public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8765")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        from state.postgres.connection import url_problem  # psycopg: only when it is used

        problem = url_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator(
        "dropbox_app_key", "dropbox_app_secret", "dropbox_refresh_token", "dropbox_access_token"
    )
    @classmethod
    def _credential(cls, value: str | SecretStr | None) -> str | SecretStr | None:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        problem = None if text is None else credential_problem(text)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def cache_dir(self) -> Path:
        """Thumbnails and captions, bounded by ``THUMBNAIL_CACHE_MB``."""
        return self.state_dir / "cache"

    @property
    def render_cache_dir(self) -> Path:
        """Rendered pictures, bounded by ``RENDER_CACHE_MB``."""
        return self.state_dir / "rendered"

    @property
    def database_path(self) -> Path:
        """The SQLite file, when that is the store."""
        return self.state_dir / "unposted.sqlite3"

    @property
    def database(self) -> str | None:
        """The PostgreSQL connection string when that is the store (never to be logged)."""
        return None if self.database_url is None else self.database_url.get_secret_value()

    def check_dropbox_credentials(self) -> None:
        """Refuse to start without a way to call Dropbox."""
        if self.dropbox_refresh_token is not None:
            if not self.dropbox_app_key or self.dropbox_app_secret is None:
                raise ConfigError(
                    "DROPBOX_REFRESH_TOKEN needs DROPBOX_APP_KEY and DROPBOX_APP_SECRET"
                )
        elif self.dropbox_access_token is None:
            raise ConfigError("set DROPBOX_REFRESH_TOKEN (preferred) or DROPBOX_ACCESS_TOKEN")

    def check_serve(self) -> None:
        """What ``serve`` needs beyond the basics: a token for the API, a webhook secret."""
        if self.api_token is None or not self.api_token.get_secret_value():
            raise ConfigError("API_TOKEN is required to serve the API")
        if self.sync_mode == "webhook" and self.dropbox_app_secret is None:
            raise ConfigError("DROPBOX_APP_SECRET is required to verify webhooks")


def duration_seconds(text: str | None) -> float | None:
    """A duration as written (``90s``, ``45m``, ``12h``, ``30d``) in seconds; None for None.
    ``ValueError`` for anything else, zero or negative included."""
    if text is None:
        return None
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 45m, 12h or 30d")
    seconds = int(found[1]) * _UNIT_SECONDS[found[2]]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return float(seconds)


def dropbox_path(value: str) -> str:
    """A folder as Dropbox names it: ``""`` (the root) or ``/...``, without a trailing ``/``."""
    value = value.strip().rstrip("/")
    if value and not value.startswith("/"):
        raise ValueError("must be empty (the root) or start with '/'")
    return value


def credential_problem(text: str) -> str | None:
    """What is wrong with a Dropbox key, secret or token as written, or None. Dropbox's
    are printable ASCII without spaces; the reason never quotes the value."""
    if not text:
        return "is empty: give the value, or leave the variable out"
    if any(character.isspace() for character in text):
        return "holds a space or line break: give the value alone (no 'Bearer', no newline)"
    if not all("!" <= character <= "~" for character in text):
        return "holds characters no Dropbox key or token has (printable ASCII only)"
    if text[0] == text[-1] and text[0] in "'\"":
        return "is wrapped in quotes: give the value without them"
    return None


def _extension(item: str) -> str:
    item = item.strip().lower()
    return item if item.startswith(".") else "." + item


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, failing with a one-line message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from exc


def _one_line(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        variable = str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = "is required" if error["type"] == "missing" else error["msg"]
        message = message.removeprefix("Value error, ")
        problems.append(f"{variable}: {message}")
    return "; ".join(problems)
