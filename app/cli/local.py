"""The state as a command sees it: settings, configuration, the store, Dropbox clients.

Used by the commands that act on the state directory themselves; its rules (who
holds it, who only checks it) are ``app.cli``'s module docstring's.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from app.configuration.environment import Settings, load_settings
from app.configuration.file import check_credentials, load_config
from app.errors import ConfigError, InvalidInput, UnpostedError
from app.log import setup_logging
from app.state_dir import StateDir
from state import open_store

if TYPE_CHECKING:
    from app.dropbox.client import DropboxClient


def command_settings(log_level: str | None = None) -> Settings:
    """The settings, with logging set up: at ``log_level`` when given (a short command's
    ``-v``), in the settings' format; else as the settings say (``serve``)."""
    settings = load_settings()
    setup_logging(log_level or settings.log_level, settings.log_format)
    return settings


class LocalState:
    """The state as a command uses it: settings, configuration, and the store, defined.

    A context manager: the store and any Dropbox client are closed on the way out.
    """

    def __init__(self, hold: str | None = None, log_level: str | None = None) -> None:
        """``hold``: the command that must have the state directory to itself (see above)."""
        self.settings = command_settings(log_level)
        self.config = load_config(self.settings, os.environ)
        self._state_dir = StateDir(self.settings.state_dir)
        if self.settings.database is not None:
            pass  # PostgreSQL: replicas share the database, and no file is in STATE_DIR
        elif hold:
            self._state_dir.hold(hold)
        else:
            self._state_dir.check()
        self._clients: dict[str, DropboxClient] = {}
        try:
            self.store = open_store(self.settings.state_dir, self.settings.database)
        except BaseException:
            self._state_dir.release()
            raise
        try:
            self.store.define(
                [library.spec for library in self.config.libraries.values()],
                [channel.spec for channel in self.config.channels.values()],
            )
        except BaseException:
            self.store.close()
            self._state_dir.release()
            raise

    def channel(self, name: str | None) -> str:
        """The channel a command acts on: the one named, or the default one."""
        if name is None:
            name = self.config.default_channel()
            if name is None:
                names = ", ".join(sorted(self.config.channels))
                raise InvalidInput(f"several channels are served ({names}): add --channel NAME")
        if name not in self.config.channels:
            raise InvalidInput(f"no channel {name!r} in the configuration")
        return name

    def dropbox(self, library: str) -> DropboxClient:
        from app.dropbox.client import DropboxClient  # the SDK: only for what calls Dropbox

        spec = self.config.libraries[library]
        if spec.spec.account not in self._clients:
            check_credentials(self.config, self.settings)
            self._clients[spec.spec.account] = DropboxClient(
                self.settings, refresh_token=spec.refresh_token
            )
        return self._clients[spec.spec.account]

    def fingerprint(self, library: str) -> str:
        """What a service's hashing worker and grace step do in the background, once: a
        pass over the library's new pictures, then those past their grace period offered.
        One line saying what happened; empty when the service does not fingerprint."""
        if not self.settings.near_duplicate_hashing:
            return ""
        from app.metrics import Metrics
        from app.services.disk_cache import DiskCache
        from app.sync.fingerprints import Fingerprinter  # NumPy: only when it hashes

        distances = [c.spec.near_duplicate_distance for c in self.config.channels_of(library)]
        cache = DiskCache(self.settings.cache_dir, self.settings.thumbnail_cache_mb * 1024 * 1024)
        hasher = Fingerprinter(library, self.store.near, self.dropbox(library), cache, Metrics(),
                               max(distances, default=0), threading.Event())  # fmt: skip
        try:
            line = f"{hasher.run_once()} fingerprinted"
        except UnpostedError as exc:
            line = f"fingerprints failed for now ({exc})"
        before = time.time() - self.settings.near_duplicate_grace_seconds
        offered = 0
        while expired := self.store.near.offer_unfingerprinted(before, 1000):
            offered += len(expired)
        return line + (f", {offered} offered unfingerprinted past the grace" if offered else "")

    def dropbox_if_configured(self, library: str) -> DropboxClient | None:
        """A client when credentials are set; an import needs one only for big images."""
        try:
            return self.dropbox(library)
        except ConfigError:
            return None

    def __enter__(self) -> LocalState:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients.values():
            client.close()
        self.store.close()
        self._state_dir.release()
