"""``Emulator``: the Python API tests, benchmarks and the CLI drive.

It owns one :class:`~emulator.account.Account` and everything around it: tokens, cursors,
faults, counters, temporary links, the webhook sender and, in ``--root`` mode, the
directory mirror. Mutations made here show up to API clients exactly as changes made
through Dropbox would: new revs, journal entries for cursors, webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emulator.account import Account
from emulator.auth import Tokens
from emulator.content import BytesSource, ContentSource, GeneratedSource
from emulator.errors import AccountError
from emulator.faults import Counters, Faults
from emulator.listing import Lister
from emulator.model import Entry, FileMeta, FolderMeta, Node, lower, normalize
from emulator.thumbnails import Thumbnails, ThumbnailSpec
from emulator.watch import RootMirror
from emulator.webhooks import WebhookSender

DEFAULT_ACCOUNT_ID = "dbid:AAEmuLat0rAcc0untF0rUnp0stedTest500"
TEMP_LINK_TTL = 4 * 3600


def account_id_for(label: str) -> str:
    """A Dropbox-shaped account id (``dbid:`` and 35 characters) fixed by ``label``, for
    giving each account of a server its own id that stays the same from run to run."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(label.encode()).digest()).decode()
    return "dbid:AA" + digest[:33]


@dataclass(frozen=True)
class TempLink:
    meta: FileMeta
    expires_at: float


class Emulator:
    """An in-memory Dropbox account with the controls a test needs."""

    def __init__(
        self,
        app_key: str = "emu-app-key",
        app_secret: str = "emu-app-secret",
        account_id: str = DEFAULT_ACCOUNT_ID,
        access_token: str | None = None,
        refresh_token: str | None = None,
        root: str | Path | None = None,
    ) -> None:
        if not account_id.startswith("dbid:") or len(account_id) != 40:
            raise ValueError("account_id must be 'dbid:' plus 35 characters (40 in all)")
        self.app_key, self.app_secret, self.account_id = app_key, app_secret, account_id
        self.account = Account()
        self.lister = Lister(self.account)
        self.tokens = Tokens(app_key, app_secret, access_token, refresh_token)
        self.faults = Faults()
        self.counters = Counters()
        self.user_id = zlib.crc32(account_id.encode()) % 10**9
        self.webhooks = WebhookSender(account_id, self.user_id, app_secret)
        self.account.subscribe(self.webhooks.notify)
        self.temp_link_ttl: float = TEMP_LINK_TTL
        self.longpoll_backoff: int | None = None
        self.closing = threading.Event()
        self._temp_links: dict[str, TempLink] = {}
        self._links_lock = threading.Lock()
        self.mirror = RootMirror(self.account, Path(root)) if root is not None else None
        self.thumbnails = Thumbnails()

    # --- tokens ---------------------------------------------------------------

    @property
    def access_token(self) -> str:
        """A long-lived access token that never expires."""
        return self.tokens.access_token

    @property
    def refresh_token(self) -> str:
        return self.tokens.refresh_token

    @property
    def access_token_ttl(self) -> float:
        """Lifetime in seconds of tokens issued by the refresh grant."""
        return self.tokens.access_token_ttl

    @access_token_ttl.setter
    def access_token_ttl(self, seconds: float) -> None:
        self.tokens.access_token_ttl = seconds

    # --- building the tree ----------------------------------------------------

    def put_file(
        self,
        path: str,
        data: bytes | None = None,
        *,
        size: int | None = None,
        seed: int = 0,
        client_modified: datetime | None = None,
        downloadable: bool = True,
    ) -> FileMeta:
        """Create or overwrite a file with ``data``, or ``size`` bytes generated from ``seed``.

        ``downloadable=False`` makes a file like a Google Doc in Dropbox: listed with
        ``is_downloadable: false`` (unless a listing leaves such files out), and refused by
        download, temporary links and thumbnails.
        """
        if (data is None) == (size is None):
            raise ValueError("give either data or size")
        source: ContentSource = (
            BytesSource(data) if data is not None else GeneratedSource(size or 0, seed)
        )
        if self.mirror is not None:
            if not downloadable:
                raise ValueError("a --root directory holds only downloadable files")
            return self.mirror.write_file(path, source.read())
        return self.account.put_file(path, source, client_modified, downloadable)

    def create_folder(self, path: str) -> FolderMeta:
        if self.mirror is not None:
            return self.mirror.make_folder(path)
        return self.account.create_folder(path)

    def delete(self, path: str) -> Entry:
        """Delete a file, or a folder and its whole subtree."""
        if self.mirror is not None:
            return self.mirror.remove(path)
        return self.account.delete(path)

    def move(self, from_path: str, to_path: str, autorename: bool = False) -> Node:
        """Move or rename (case-only included) a file or folder.

        With ``autorename``, a taken destination name becomes ``name (1).ext``,
        ``name (2).ext``...; the returned node carries the name chosen.
        """
        if self.mirror is not None:
            return self.mirror.rename(from_path, to_path, autorename)
        return self.account.move(from_path, to_path, autorename)

    def bulk_generate(
        self,
        folder: str,
        count: int,
        ext: str = ".jpg",
        size: int = 1024,
        duplicate_every: int = 0,
        seed: int = 0,
    ) -> list[FileMeta]:
        """``count`` files ``img_000000<ext>``... under ``folder``, content made lazily.

        With ``duplicate_every=k``, every k-th file has the same bytes as the file before it.
        Each other file's bytes derive from ``seed`` and its path, so they differ (for sizes
        of 8 bytes and up) from every other generated file's.
        """
        base = normalize(folder)
        items: list[tuple[str, ContentSource]] = []
        for index in range(count):
            path = f"{base}/img_{index:06d}{ext}"
            if duplicate_every and index and (index + 1) % duplicate_every == 0:
                items.append((path, items[-1][1]))
            else:
                items.append((path, GeneratedSource(size, _path_seed(seed, path))))
        if self.mirror is not None:
            return self.mirror.write_files([(p, s.read()) for p, s in items])
        return self.account.put_many(items)

    # --- reading --------------------------------------------------------------

    def files(self, path: str = "", recursive: bool = True) -> dict[str, FileMeta]:
        """``path_lower -> FileMeta`` for the files in a folder: the truth to compare with."""
        return self.account.files(path, recursive)

    def read(self, path: str) -> bytes:
        return self.account.require_file(path).source.read()

    def metadata(self, path: str) -> Node | None:
        return self.account.get(path)

    def thumbnail(self, path: str, spec: ThumbnailSpec) -> tuple[FileMeta, bytes]:
        """A file's metadata and thumbnail, or the refusal ``get_thumbnail_v2`` answers
        (lookup failures un-nested: the route nests them under ``path``)."""
        meta = self.account.require_file(path)
        return meta, self.thumbnails.make(meta, spec)

    def downloadable_file(self, path: str) -> FileMeta:
        """The file at ``path``; 409 ``unsupported_file`` if it cannot be downloaded, as
        ``DownloadError`` and ``GetTemporaryLinkError`` answer ("use export instead")."""
        meta = self.account.require_file(path)
        if not meta.downloadable:
            raise AccountError("unsupported_file")
        return meta

    # --- cursors, webhooks, links --------------------------------------------

    def invalidate_cursors(self) -> None:
        """Every existing cursor answers ``reset`` on its next use."""
        self.lister.invalidate()

    def register_webhook(self, url: str) -> None:
        self.webhooks.register(url)

    def temporary_link(self, path: str) -> tuple[FileMeta, str]:
        """Metadata and a token for ``/temp/<token>``, valid ``temp_link_ttl`` seconds."""
        meta = self.downloadable_file(path)
        token = secrets.token_urlsafe(24)
        with self._links_lock:
            self._temp_links[token] = TempLink(meta, time.monotonic() + self.temp_link_ttl)
        return meta, token

    def resolve_link(self, token: str) -> TempLink | None:
        with self._links_lock:
            return self._temp_links.get(token)

    # --- lifecycle ------------------------------------------------------------

    def open(self) -> None:
        """Start background work: the directory watcher in ``--root`` mode."""
        self.closing.clear()
        if self.mirror is not None:
            self.mirror.start()

    def close(self) -> None:
        """Stop the watcher and the webhook sender; wake pending longpolls."""
        self.closing.set()
        if self.mirror is not None:
            self.mirror.stop()
        self.webhooks.stop()


def _path_seed(seed: int, path: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{lower(path)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
