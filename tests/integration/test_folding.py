"""The service compares Dropbox paths as Dropbox folds them, never with ``str.lower()``.

``İstanbul`` is ``istanbul`` to Dropbox (Python: ``i̇stanbul``, with a combining dot);
``ẞ`` and the Georgian capitals stay as they are (Python lowers them to ``ß`` and the
small letters). The configuration's folders, the archive folder, and where an archived
picture goes are all compared with ``state.casefold.fold``; the store's side is in
``tests/contract/test_folding.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.configuration.environment import Settings
from app.configuration.file import load_config
from app.errors import ConfigError
from emulator import Emulator, content_hash
from state import casefold
from tests.integration.conftest import StartService

MTAVRULI, MKHEDRULI = "\u1c90", "\u10d0"


def _config(tmp_path: Path, first: str, second: str, archive: str | None = None) -> None:
    path = tmp_path / "unposted.toml"
    path.write_text(
        f'[libraries.one]\nfolder = "{first}"\nrecursive = true\n'
        f'[libraries.two]\nfolder = "{second}"\n'
        '[channels.a]\nlibrary = "one"\n[channels.b]\nlibrary = "two"\n'
    )
    settings = Settings(_env_file=None, unposted_config=path, archive_folder=archive)  # type: ignore[call-arg]
    load_config(settings, {})


def test_one_folder_in_two_cases_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[libraries.two\] folder: library one already"):
        _config(tmp_path, "/İstanbul", "/istanbul")


@pytest.mark.parametrize(
    ("first", "second"), [("/Straẞe", "/straße"), (f"/{MTAVRULI}", f"/{MKHEDRULI}")]
)
def test_two_folders_that_dropbox_keeps_apart_are_two_libraries(
    tmp_path: Path, first: str, second: str
) -> None:
    _config(tmp_path, first, second)


def test_an_archive_inside_a_folder_in_another_case_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ARCHIVE_FOLDER: /istanbul/Archive is inside"):
        _config(tmp_path, "/İstanbul", "/Other", archive="/istanbul/Archive")


def test_an_archive_beside_a_folder_that_python_would_merge_is_accepted(tmp_path: Path) -> None:
    _config(tmp_path, "/Straẞe", "/Other", archive="/straße/Archive")


def test_an_archived_picture_keeps_its_place_under_the_folder(
    emulator: Emulator, start_service: StartService
) -> None:
    """The folder configured as ``/istanbul``, shown by Dropbox as ``/İstanbul``: the picture
    in ``Galata/`` goes to ``/Archive/Galata/``, not to the archive's top."""
    emulator.put_file("/İstanbul/Galata/Kule.jpg", b"the tower")
    service = start_service(
        dropbox_folder="/istanbul", dropbox_recursive=True, archive_folder="/Archive"
    )
    body = {"content_hash": content_hash(b"the tower"), "archive": True}
    reply = service.client.post("/posted", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["archived_to"] == "/Archive/Galata/Kule.jpg"
    assert set(emulator.files("/Archive")) == {"/archive/galata/kule.jpg"}


def test_the_fold_table_is_ready_before_the_service_serves(start_service: StartService) -> None:
    """Deriving the table takes about 25 ms: at start, not on a request's event loop."""
    casefold._table.cache_clear()
    start_service()
    assert casefold._table.cache_info().currsize == 1
