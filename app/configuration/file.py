"""Libraries and channels: from ``UNPOSTED_CONFIG`` (a TOML file), or from the environment.

Without a file, the environment defines one library ``default`` (``DROPBOX_FOLDER``,
``DROPBOX_RECURSIVE``, the service's own credentials) and one channel ``default``
(``SELECT_POLICY``, ``LEASE_SECONDS``). With a file, the file defines every library and
channel::

    [libraries.brand-a]
    folder = "/Photos/brand-a"          # required
    recursive = false                   # default: DROPBOX_RECURSIVE
    refresh_token_env = "BRAND_A_TOKEN" # default: the service's own account

    [channels.brand-a-instagram]
    library = "brand-a"                 # required
    policy = "random"                   # random | oldest | newest | name
    when_exhausted = "stop"             # stop | new_cycle
    lease_seconds = 900                 # default: LEASE_SECONDS
    api_token_env = "INSTAGRAM_TOKEN"   # a token that reaches this channel only
    near_duplicates = "skip"            # skip | allow
    near_duplicate_distance = 40        # bits of 256 (0 to 96)
    repeat_after = "30d"                # with new_cycle: a picture posted less long ago
                                        # waits that long (s, m, h, d; DEFAULT_REPEAT_AFTER)
    max_posts = 3                       # posted this often, never again (DEFAULT_MAX_POSTS)
    archive = false                     # may its token archive? default: true when the
                                        # library has this channel only, false when shared
    balance = "folders"                 # none | folders, with weights: see
    time_zone = "Europe/Paris"          # app.configuration.rotation for these and seasons

    [channels.brand-a-instagram.seasons]  # optional: folders offered only in their window
    christmas = "12-01..12-26"

    [channels.brand-a-instagram.render]  # optional: the shape its network accepts
    aspect = "4:5..1.91:1"              # see app.configuration.render for every key

    [channels.brand-a-instagram.notify]  # optional: a webhook told of its events
    url = "https://hooks.example.com/x" # see app.configuration.notify for every key

Secrets never stand in the file, only the names of the variables that hold them. Any
problem stops the service with one line naming the file, the table and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import SecretStr

from app.configuration.environment import (
    SelectPolicy,
    Settings,
    credential_problem,
    dropbox_path,
    duration_seconds,
)
from app.configuration.notify import NotifyConfig, NotifyError, parse_notify
from app.configuration.render import ProfileError, RenderProfile, parse_profile
from app.configuration.rotation import (
    RotationError,
    Seasons,
    parse_seasons,
    parse_weights,
    parse_zone,
)
from app.errors import ConfigError
from state.casefold import fold
from state.similarity import DEFAULT_DISTANCE, MAX_DISTANCE
from state.store import ChannelDef, LibraryDef, NearDuplicateChoice, WhenExhausted

DEFAULT = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MAX_LEASE_SECONDS = 86_400
Balance = Literal["none", "folders"]


@dataclass(frozen=True)
class LibraryConfig:
    spec: LibraryDef
    refresh_token: SecretStr | None  # None: the service's own credentials

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class ChannelConfig:
    """``archive``: whether the channel's own token may move a posted picture out of the
    library (every sibling channel loses it); the operator's token always may. ``render``:
    the shape its network accepts, or None to hand pictures over as they are."""

    spec: ChannelDef
    api_token: SecretStr | None
    archive: bool
    render: RenderProfile | None = None
    notify: NotifyConfig | None = None
    api_token_env: str = ""
    """The variable holding its token: how the token is named where it did something."""
    seasons: Seasons | None = None

    @property
    def near_duplicates(self) -> NearDuplicateChoice:
        return self.spec.near_duplicates

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def library(self) -> str:
        return self.spec.library


@dataclass(frozen=True)
class Config:
    libraries: dict[str, LibraryConfig]
    channels: dict[str, ChannelConfig]
    file: Path | None = None

    def default_channel(self) -> str | None:
        """The channel that routes without ``/channels/{name}`` act on, if there is one."""
        if DEFAULT in self.channels:
            return DEFAULT
        return next(iter(self.channels)) if len(self.channels) == 1 else None

    def channels_of(self, library: str) -> list[ChannelConfig]:
        return [channel for channel in self.channels.values() if channel.library == library]


def check_credentials(config: Config, settings: Settings) -> None:
    """Refuse to start what calls Dropbox without a way to: the service's own credentials
    when a library uses them, the app's key and secret for every refresh token."""
    if any(library.refresh_token is None for library in config.libraries.values()):
        settings.check_dropbox_credentials()
    elif not settings.dropbox_app_key or settings.dropbox_app_secret is None:
        raise ConfigError("refresh tokens need DROPBOX_APP_KEY and DROPBOX_APP_SECRET")


def load_config(settings: Settings, environ: Mapping[str, str]) -> Config:
    """The configuration the service runs with; ``ConfigError`` in one line if it cannot."""
    if settings.unposted_config is None:
        if settings.dropbox_folder is None:
            raise ConfigError("DROPBOX_FOLDER: is required (or UNPOSTED_CONFIG)")
        return _from_environment(settings)
    if settings.dropbox_folder is not None:
        raise ConfigError(
            "UNPOSTED_CONFIG and DROPBOX_FOLDER are both set: the file defines the folders,"
            " so unset DROPBOX_FOLDER"
        )
    config = _FileReader(settings.unposted_config, settings, environ).read()
    check_archive(config, settings.archive_folder)
    return config


def _from_environment(settings: Settings) -> Config:
    assert settings.dropbox_folder is not None
    library = LibraryDef(DEFAULT, settings.dropbox_folder, settings.dropbox_recursive)
    exhausted = settings.default_when_exhausted
    repeat_after = duration_seconds(settings.default_repeat_after)
    if repeat_after is not None and exhausted != "new_cycle":
        raise ConfigError("DEFAULT_REPEAT_AFTER: needs DEFAULT_WHEN_EXHAUSTED=new_cycle")
    channel = ChannelDef(
        DEFAULT, DEFAULT, settings.select_policy, exhausted, settings.lease_seconds,
        await_fingerprints=settings.near_duplicate_hashing, repeat_after=repeat_after,
        max_posts=settings.default_max_posts,
    )  # fmt: skip
    only = ChannelConfig(channel, None, archive=True)  # its library's only channel
    config = Config({DEFAULT: LibraryConfig(library, None)}, {DEFAULT: only})
    check_archive(config, settings.archive_folder)
    return config


def check_archive(config: Config, archive: str | None) -> None:
    """Archiving into a folder the catalog lists would offer posted images from it, and
    archive them again into ``posted/posted/...``: refuse it at start."""
    if archive is None:
        return
    for library in config.libraries.values():
        folder, archived = fold(library.spec.folder), fold(archive)
        inside = archived == folder or archived.startswith(folder + "/")
        if inside and (library.spec.recursive or archived == folder):
            raise ConfigError(
                f"ARCHIVE_FOLDER: {archive} is inside the folder of library {library.name}"
                f" ({library.spec.folder}, listed with subfolders); choose a folder outside it"
            )


class _FileReader:
    """Reads and checks one configuration file, naming the table and key of any problem."""

    def __init__(self, path: Path, settings: Settings, environ: Mapping[str, str]) -> None:
        self._path, self._settings, self._environ = path, settings, environ

    def read(self) -> Config:
        document = self._document()
        self._keys(document, "", {"libraries", "channels"})
        libraries = {
            name: self._library(name, table)
            for name, table in self._tables(document, "libraries").items()
        }
        tables = self._tables(document, "channels")
        sharing = Counter(table.get("library") for table in tables.values())
        channels = {
            name: self._channel(name, table, libraries, sharing[table.get("library")] == 1)
            for name, table in tables.items()
        }
        if not libraries or not channels:
            raise self._error("", "", "defines no libraries or no channels; it needs both")
        self._distinct_folders(libraries)
        return Config(libraries, channels, self._path)

    def _document(self) -> dict[str, Any]:
        try:
            with self._path.open("rb") as file:
                return tomllib.load(file)
        except OSError as exc:
            raise ConfigError(f"UNPOSTED_CONFIG: cannot read {self._path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self._path}: not valid TOML: {exc}") from exc

    def _tables(self, document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
        tables = document.get(kind, {})
        if not isinstance(tables, dict):
            raise self._error(kind, "", "must be tables such as [" + kind + ".NAME]")
        for name, table in tables.items():
            if not _NAME.fullmatch(name):
                raise self._error(f"{kind}.{name}", "", "names are letters, digits, _ . -")
            if not isinstance(table, dict):
                raise self._error(f"{kind}.{name}", "", "must be a table")
        return tables

    def _library(self, name: str, table: dict[str, Any]) -> LibraryConfig:
        where = f"libraries.{name}"
        self._keys(table, where, {"folder", "recursive", "refresh_token_env"})
        folder = self._value(table, where, "folder", str, None)
        try:
            folder = dropbox_path(folder)
        except ValueError as exc:
            raise self._error(where, "folder", str(exc)) from exc
        recursive = self._value(table, where, "recursive", bool, self._settings.dropbox_recursive)
        variable = self._value(table, where, "refresh_token_env", str, "")
        token = self._secret(where, "refresh_token_env", variable) if variable else None
        problem = None if token is None else credential_problem(token.get_secret_value())
        if problem is not None:
            raise self._error(where, "refresh_token_env", f"the variable {variable} {problem}")
        account = f"env:{variable}" if variable else DEFAULT
        return LibraryConfig(LibraryDef(name, folder or "", recursive, account), token)

    def _channel(
        self, name: str, table: dict[str, Any], libraries: dict[str, LibraryConfig], alone: bool
    ) -> ChannelConfig:
        """``alone``: no other channel draws from its library (archiving's default)."""
        where = f"channels.{name}"
        self._keys(table, where, {"library", "policy", "when_exhausted", "lease_seconds",
                                  "api_token_env", "near_duplicates",
                                  "near_duplicate_distance", "archive",
                                  "render", "notify", "repeat_after", "max_posts",
                                  "balance", "weights", "time_zone", "seasons"})  # fmt: skip
        library = self._value(table, where, "library", str, None)
        if library not in libraries:
            raise self._error(where, "library", f"no library {library!r} is defined")
        policy = self._choice(table, where, "policy", SelectPolicy, self._settings.select_policy)
        exhausted = self._choice(
            table, where, "when_exhausted", WhenExhausted, self._settings.default_when_exhausted
        )
        near = self._choice(table, where, "near_duplicates", NearDuplicateChoice, "skip")
        distance = self._value(table, where, "near_duplicate_distance", int, DEFAULT_DISTANCE)
        if not 0 <= distance <= MAX_DISTANCE:
            raise self._error(where, "near_duplicate_distance", f"must be 0 to {MAX_DISTANCE}")
        lease = self._value(table, where, "lease_seconds", int, self._settings.lease_seconds)
        if not 1 <= lease <= _MAX_LEASE_SECONDS:
            raise self._error(where, "lease_seconds", f"must be 1 to {_MAX_LEASE_SECONDS}")
        variable = self._value(table, where, "api_token_env", str, "")
        token = self._secret(where, "api_token_env", variable) if variable else None
        archive = self._value(table, where, "archive", bool, alone)
        # Nothing is fingerprinted without hashing: then no channel holds a picture back.
        waits = self._settings.near_duplicate_hashing
        notify = self._notify(table, where)
        events, low = (notify.events, notify.low_water) if notify else ((), 0)
        repeat_after, max_posts = self._repeats(table, where, exhausted)
        spec = ChannelDef(
            name, library, policy, exhausted, lease, near, distance, waits, events, low,
            repeat_after, max_posts, self._weights(table, where),
        )  # fmt: skip
        render, seasons = self._render(table, where), self._seasons(table, where)
        return ChannelConfig(
            spec, token, archive, render, notify, api_token_env=variable, seasons=seasons
        )

    def _repeats(
        self, table: dict[str, Any], where: str, exhausted: str
    ) -> tuple[float | None, int | None]:
        """``repeat_after`` in seconds (a channel that stops when exhausted has no cycle to
        repeat in: it takes no DEFAULT_REPEAT_AFTER, and its own is refused) and
        ``max_posts``."""
        repeat_after = duration_seconds(self._settings.default_repeat_after)
        if "repeat_after" in table:
            text = self._value(table, where, "repeat_after", str, None)
            try:
                repeat_after = duration_seconds(text)
            except ValueError as exc:
                raise self._error(where, "repeat_after", str(exc)) from exc
            if exhausted != "new_cycle":
                raise self._error(where, "repeat_after", 'needs when_exhausted = "new_cycle"')
        elif exhausted != "new_cycle":
            repeat_after = None
        if "max_posts" not in table:
            return repeat_after, self._settings.default_max_posts
        max_posts = self._value(table, where, "max_posts", int, None)
        if max_posts < 1:
            raise self._error(where, "max_posts", "must be a positive integer")
        return repeat_after, int(max_posts)

    def _weights(self, table: dict[str, Any], where: str) -> tuple[tuple[str, int], ...] | None:
        """The folders' weights when the channel balances its picks over folders."""
        balance = self._choice(table, where, "balance", Balance, "none")
        if "weights" in table and balance != "folders":
            raise self._error(where, "weights", 'weighs folders only with balance = "folders"')
        if balance != "folders":
            return None
        weights = table.get("weights", {})
        if not isinstance(weights, dict):
            raise self._error(where, "weights", 'must be a table such as { "travel" = 3 }')
        try:
            return tuple(sorted(parse_weights(weights).items()))
        except RotationError as exc:
            raise self._error(where, exc.key, exc.message) from exc

    def _seasons(self, table: dict[str, Any], where: str) -> Seasons | None:
        try:
            zone = parse_zone(table["time_zone"]) if "time_zone" in table else UTC
        except RotationError as exc:
            raise self._error(where, exc.key, exc.message) from exc
        if "seasons" not in table:
            return None
        if not isinstance(table["seasons"], dict):
            raise self._error(where, "seasons", f"must be a table such as [{where}.seasons]")
        try:
            return parse_seasons(table["seasons"], zone)
        except RotationError as exc:
            raise self._error(f"{where}.seasons", exc.key, exc.message) from exc

    def _notify(self, table: dict[str, Any], where: str) -> NotifyConfig | None:
        if "notify" not in table:
            return None
        if not isinstance(table["notify"], dict):
            raise self._error(where, "notify", f"must be a table such as [{where}.notify]")
        try:
            return parse_notify(table["notify"], self._environ)
        except NotifyError as exc:
            raise self._error(f"{where}.notify", exc.key, exc.message) from exc

    def _render(self, table: dict[str, Any], where: str) -> RenderProfile | None:
        if "render" not in table:
            return None
        if not isinstance(table["render"], dict):
            raise self._error(where, "render", f"must be a table such as [{where}.render]")
        try:
            return parse_profile(table["render"])
        except ProfileError as exc:
            raise self._error(f"{where}.render", exc.key, exc.message) from exc

    def _distinct_folders(self, libraries: dict[str, LibraryConfig]) -> None:
        seen: dict[tuple[str, str], str] = {}
        for library in libraries.values():
            key = (library.spec.account, fold(library.spec.folder))
            if key in seen:
                raise self._error(
                    f"libraries.{library.name}",
                    "folder",
                    f"library {seen[key]} already serves this folder of this account",
                )
            seen[key] = library.name

    def _keys(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self._error(where, key, "unknown key; expected " + ", ".join(sorted(allowed)))

    def _value(self, table: dict[str, Any], where: str, key: str, kind: type, default: Any) -> Any:
        if key not in table:
            if default is None:
                raise self._error(where, key, "is required")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._error(where, key, f"must be a {kind.__name__}")
        return value

    def _choice(
        self, table: dict[str, Any], where: str, key: str, options: Any, default: str
    ) -> Any:
        value = self._value(table, where, key, str, default)
        if value not in get_args(options):
            raise self._error(where, key, "must be one of " + ", ".join(get_args(options)))
        return value

    def _secret(self, where: str, key: str, variable: str) -> SecretStr:
        value = self._environ.get(variable, "")
        if not value:
            raise self._error(where, key, f"the variable {variable} is not set")
        return SecretStr(value)

    def _error(self, where: str, key: str, message: str) -> ConfigError:
        table = f" [{where}]" if where else ""
        named = f" {key}:" if key else ""
        return ConfigError(f"{self._path}:{table}{named} {message}")
