"""The store contract, names: paths compared as Dropbox folds them, never ``str.lower()``.

Dropbox's ``path_lower`` is Unicode 4.1's simple lowercase (``state.casefold``):
``İstanbul`` is ``istanbul``, while ``ẞ`` and the Georgian capitals (Mtavruli) stay as
they are, so ``Straẞe.jpg`` and ``straße.jpg``, or ``Ა.jpg`` and ``ა.jpg``, are two
files. Python's ``str.lower()`` gives ``i̇stanbul`` (with a combining dot) and merges
the others. A folder, a name asked for and a search have no ``path_lower`` of their own:
the store folds them with the same function and finds what Dropbox would.
"""

from __future__ import annotations

import pytest

from state.casefold import fold
from state.changes import FileEntry
from state.errors import FileNotFound
from state.store import ChannelDef, ImageQuery, LibraryDef
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest

FOLDER = "/İstanbul"
MTAVRULI, MKHEDRULI = "\u1c90", "\u10d0"  # Georgian capital An, and its small letter
NAMES = ["Galata/İzmir.jpg", "Straẞe.jpg", "straße.jpg", f"{MTAVRULI}.jpg", f"{MKHEDRULI}.jpg"]


def folded(path: str, content: str) -> FileEntry:
    """A file as Dropbox lists it: ``path_lower`` folded by Dropbox, not by Python."""
    name = path.rsplit("/", 1)[-1]
    return FileEntry(
        fold(path), path, name, f"id:{path}", "0123456789a", 10, "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z", digest(content),
    )  # fmt: skip


@pytest.fixture
def turkish(harness: Harness) -> Harness:
    """A library ``tr`` on ``/İstanbul`` (listed with subfolders) holding ``NAMES``."""
    harness.define(
        [*LIBRARIES, LibraryDef("tr", FOLDER, recursive=True)], [*CHANNELS, ChannelDef("trc", "tr")]
    )
    # Listed under the folder as Dropbox displays it, in another case than configured.
    entries = [folded(f"/İSTANBUL/{name}", name) for name in NAMES]
    harness.listing(*entries, library="tr")
    return harness


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("İzmir.jpg", "Galata/İzmir.jpg"),
        ("izmir.JPG", "Galata/İzmir.jpg"),
        ("Galata/İzmir.jpg", "Galata/İzmir.jpg"),  # a path: the folder folded as Dropbox does
        ("STRAẞE.jpg", "Straẞe.jpg"),  # str.lower() would ask for straße.jpg
        ("STRASSE.jpg", None),
        ("Straße.jpg", "straße.jpg"),
        (f"{MTAVRULI}.jpg", f"{MTAVRULI}.jpg"),  # str.lower() would ask for the small letter
        (f"{MKHEDRULI}.jpg", f"{MKHEDRULI}.jpg"),
    ],
)
def test_a_name_asked_for_is_folded_as_dropbox_folds_it(
    turkish: Harness, asked: str, found: str | None
) -> None:
    if found is None:
        with pytest.raises(FileNotFound):
            turkish.select("trc", dry_run=True, name=asked)
        return
    chosen = turkish.select("trc", dry_run=True, name=asked)
    assert chosen.path == f"/İSTANBUL/{found}"


def test_a_search_by_the_start_of_a_name_is_folded_as_dropbox_folds_it(turkish: Harness) -> None:
    def names(prefix: str) -> list[str]:
        page = turkish.store.browsing.images("trc", ImageQuery(name_prefix=prefix))
        return sorted(item.image.name for item in page.items)

    assert names("İ") == ["İzmir.jpg"]
    assert names("STRAẞ") == ["Straẞe.jpg"]
    assert names("straß") == ["straße.jpg"]
    assert names(MTAVRULI) == [f"{MTAVRULI}.jpg"]


def test_a_folder_in_another_case_is_the_same_source(turkish: Harness) -> None:
    """Configured as Dropbox folds it the same: no listing from scratch."""
    again = [*LIBRARIES, LibraryDef("tr", "/istanbul", recursive=True)]
    assert turkish.define(again, [*CHANNELS, ChannelDef("trc", "tr")]) == []
    assert turkish.select("trc", dry_run=True, name="Galata/İzmir.jpg").name == "İzmir.jpg"
