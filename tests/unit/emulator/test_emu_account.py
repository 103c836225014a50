"""The account model as plain Python: tree, revs, journal, conflicts, bulk generation."""

from __future__ import annotations

import re

import pytest

from emulator import Emulator, FileMeta, FolderMeta
from emulator.errors import AccountError, LookupFailure, RelocationFailure
from emulator.model import DeletedMeta

REV = re.compile(r"[0-9a-f]{9,}")


def test_put_file_creates_parents_and_keys_on_path_lower() -> None:
    emu = Emulator()
    meta = emu.put_file("/Photos/Sub/A.JPG", b"x")
    assert (meta.path_lower, meta.path_display, meta.name) == (
        "/photos/sub/a.jpg",
        "/Photos/Sub/A.JPG",
        "A.JPG",
    )
    assert isinstance(emu.metadata("/photos"), FolderMeta)
    assert emu.read("/PHOTOS/sub/a.jpg") == b"x"
    assert REV.fullmatch(meta.rev) and meta.id.startswith("id:")
    assert meta.server_modified.microsecond == 0 and meta.server_modified.tzinfo is not None


def test_new_child_follows_the_case_of_existing_folders() -> None:
    emu = Emulator()
    emu.create_folder("/Photos")
    assert emu.put_file("/photos/x.jpg", b"1").path_display == "/Photos/x.jpg"


def test_overwrite_keeps_id_and_changes_rev_and_hash() -> None:
    emu = Emulator()
    first = emu.put_file("/a.jpg", b"one")
    second = emu.put_file("/A.jpg", b"two")
    assert second.id == first.id
    assert second.rev != first.rev and second.content_hash != first.content_hash
    assert list(emu.files()) == ["/a.jpg"]


def test_generated_file_size_and_lazy_bytes() -> None:
    emu = Emulator()
    meta = emu.put_file("/big.jpg", size=5 * 2**20, seed=7)
    assert meta.size == 5 * 2**20
    assert len(emu.read("/big.jpg")) == 5 * 2**20
    twin = emu.put_file("/twin.jpg", size=5 * 2**20, seed=7)
    assert twin.content_hash == meta.content_hash


def test_conflicts_are_refused() -> None:
    emu = Emulator()
    emu.put_file("/file", b"x")
    emu.create_folder("/dir")
    with pytest.raises(AccountError):
        emu.put_file("/dir", b"x")
    with pytest.raises(AccountError):
        emu.put_file("/file/child", b"x")
    with pytest.raises(RelocationFailure) as conflict:
        emu.move("/file", "/dir")
    assert conflict.value.tags == ("to", "conflict", "folder")
    with pytest.raises(RelocationFailure) as missing:
        emu.move("/nope", "/x")
    assert missing.value.tags == ("from_lookup", "not_found")
    with pytest.raises(RelocationFailure) as inside:
        emu.move("/dir", "/dir/sub")
    assert inside.value.tags == ("cant_move_folder_into_itself",)
    with pytest.raises(LookupFailure):
        emu.delete("/nope")


def test_folder_delete_is_journaled_once() -> None:
    emu = Emulator()
    emu.bulk_generate("/Photos/old", 50)
    start = emu.account.seq
    emu.delete("/Photos/old")
    assert emu.account.journal[start:] == [DeletedMeta("old", "/photos/old", "/Photos/old")]
    assert emu.files("/Photos") == {}


def test_move_journals_delete_then_adds_and_keeps_ids() -> None:
    emu = Emulator()
    emu.put_file("/a/x.jpg", b"x")
    before = emu.files()["/a/x.jpg"]
    start = emu.account.seq
    emu.move("/a", "/b/c")
    journal = emu.account.journal[start:]
    assert [type(e).__name__ for e in journal] == [
        "DeletedMeta",
        "FolderMeta",
        "FolderMeta",
        "FileMeta",
    ]
    assert [e.path_lower for e in journal] == ["/a", "/b", "/b/c", "/b/c/x.jpg"]
    after = emu.files()["/b/c/x.jpg"]
    assert after.id == before.id and after.content_hash == before.content_hash
    assert emu.account.get("id:" + after.id[3:]) == after


def test_case_only_rename_updates_display_and_journals_nothing() -> None:
    emu = Emulator()
    emu.put_file("/photos/a.jpg", b"x")
    start = emu.account.seq
    renamed = emu.move("/photos", "/Photos")
    assert renamed.path_display == "/Photos"
    assert emu.files()["/photos/a.jpg"].path_display == "/Photos/a.jpg"
    assert emu.account.seq == start


def test_bulk_generate_makes_every_file_and_duplicates_share_hashes() -> None:
    emu = Emulator()
    metas = emu.bulk_generate("/Photos", count=100_000, ext=".jpg", size=1024)
    assert len(metas) == 100_000 and len(emu.files("/Photos")) == 100_000
    dupes = emu.bulk_generate("/Dupes", count=10, size=64, duplicate_every=2)
    hashes = [m.content_hash for m in dupes]
    assert hashes[1] == hashes[0] and hashes[3] == hashes[2] and hashes[0] != hashes[2]
    assert all(isinstance(m, FileMeta) and m.size == 64 for m in dupes)


@pytest.mark.parametrize(
    ("existing", "moved", "expected"),
    [
        ("/dst/a.jpg", "/src/a.jpg", "/dst/a (1).jpg"),
        ("/dst/README", "/src/README", "/dst/README (1)"),
        ("/dst/archive.tar.gz", "/src/archive.tar.gz", "/dst/archive.tar (1).gz"),
        ("/dst/.hidden", "/src/.hidden", "/dst/.hidden (1)"),
    ],
)
def test_autorename_of_a_file_numbers_the_name_before_its_extension(
    existing: str, moved: str, expected: str
) -> None:
    emu = Emulator()
    emu.put_file(existing, b"in the way")
    emu.put_file(moved, b"moving")
    target = "/dst/" + moved.rsplit("/", 1)[1]
    with pytest.raises(RelocationFailure) as refused:
        emu.move(moved, target)
    assert refused.value.tags == ("to", "conflict", "file")
    assert emu.move(moved, target, autorename=True).path_display == expected
    assert emu.read(expected) == b"moving" and emu.read(existing) == b"in the way"


def test_autorename_counts_up_past_taken_names_whatever_their_case() -> None:
    emu = Emulator()
    for name in ("a.jpg", "A (1).JPG", "a (2).jpg"):
        emu.put_file(f"/dst/{name}", b"x")
    emu.put_file("/src/a.jpg", b"moving")
    assert emu.move("/src/a.jpg", "/dst/a.jpg", autorename=True).name == "a (3).jpg"


def test_autorename_of_a_folder_numbers_the_whole_name() -> None:
    emu = Emulator()
    emu.create_folder("/dst/Photos.2024")
    emu.put_file("/src/Photos.2024/x.jpg", b"x")
    moved = emu.move("/src/Photos.2024", "/dst/Photos.2024", autorename=True)
    assert moved.path_display == "/dst/Photos.2024 (1)"
    assert "/dst/photos.2024 (1)/x.jpg" in emu.files("/dst")


def test_autorename_does_not_rename_around_a_file_ancestor_or_into_itself() -> None:
    emu = Emulator()
    emu.put_file("/file", b"x")
    emu.put_file("/dir/a.jpg", b"a")
    with pytest.raises(RelocationFailure) as ancestor:
        emu.move("/dir/a.jpg", "/file/a.jpg", autorename=True)
    assert ancestor.value.tags == ("to", "conflict", "file_ancestor")
    with pytest.raises(RelocationFailure) as inside:
        emu.move("/dir", "/dir/sub", autorename=True)
    assert inside.value.tags == ("cant_move_folder_into_itself",)
