"""Against a real Dropbox account: opt-in, skipped unless credentials are given.

Set ``UNPOSTED_LIVE_APP_KEY``, ``UNPOSTED_LIVE_APP_SECRET``, ``UNPOSTED_LIVE_REFRESH_TOKEN``
and ``UNPOSTED_LIVE_FOLDER`` (a folder holding at least one image) and run
``pytest tests/live``. Nothing here writes to the account: it catches up once and
previews a selection, so the emulator's claims can be checked against the real thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.configuration.environment import Settings
from app.dropbox.client import DropboxClient
from app.sync.catch_up import CatchUp
from state.changes import FileKinds
from state.store import LibraryDef, SelectRequest
from tests.stores import default_store

_NAMES = ("APP_KEY", "APP_SECRET", "REFRESH_TOKEN", "FOLDER")
_LIVE = {name: os.environ.get(f"UNPOSTED_LIVE_{name}") for name in _NAMES}

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not all(_LIVE.values()), reason="no live Dropbox credentials given"),
]


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        dropbox_app_key=_LIVE["APP_KEY"],
        dropbox_app_secret=_LIVE["APP_SECRET"],
        dropbox_refresh_token=_LIVE["REFRESH_TOKEN"],
        dropbox_folder=_LIVE["FOLDER"],
        state_dir=tmp_path,
    )


def test_a_real_folder_catches_up_and_offers_an_image(live_settings: Settings) -> None:
    assert live_settings.dropbox_folder is not None
    store = default_store(live_settings.database_path, live_settings.dropbox_folder)
    dropbox = DropboxClient(live_settings)
    library = LibraryDef("default", live_settings.dropbox_folder)
    kinds = FileKinds.of(live_settings.image_extensions, live_settings.sidecar_extensions)
    try:
        summary = CatchUp(library, kinds, store.catalog, dropbox).run()
        assert summary.pages >= 1 and store.catalog.sync_state("default").cursor is not None
        # Dropbox lists every hash
        assert store.reports.library_status("default").without_content_hash == 0
        preview = store.selections.select("default", SelectRequest(60, dry_run=True))
        assert len(preview.content_hash) == 64 and preview.lease is None
        assert dropbox.current_account_id().startswith("dbid:")
    finally:
        dropbox.close()
        store.close()
