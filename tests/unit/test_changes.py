"""The pure core: Dropbox listing entries become catalog operations."""

from __future__ import annotations

from state.changes import (
    DeletedEntry,
    FileEntry,
    FileKinds,
    FolderEntry,
    PutFile,
    RemovePath,
    RemoveTree,
    plan_page,
    stem_of,
    tree_bounds,
)

KINDS = FileKinds.of([".jpg", ".png"], [".txt"])


def file(path: str, content_hash: str | None = "a" * 64) -> FileEntry:
    name = path.rsplit("/", 1)[-1]
    return FileEntry(
        path.lower(),
        path,
        name,
        "id:1",
        "0123456789",
        1,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        content_hash,
    )


def test_kinds_are_case_insensitive() -> None:
    assert KINDS.kind_of("A.JPG") == "image"
    assert KINDS.kind_of("a.Txt") == "sidecar"
    assert KINDS.kind_of("a.gif") is None
    assert KINDS.kind_of(".jpg") is None  # a hidden file, not an extension
    assert KINDS.kind_of("jpg") is None


def test_an_extension_that_is_both_counts_as_image() -> None:
    assert FileKinds.of([".jpg"], [".jpg", ".txt"]).kind_of("a.jpg") == "image"


def test_a_file_replaces_whatever_stood_at_its_path() -> None:
    entry = file("/P/a.jpg")
    assert plan_page([entry], KINDS) == [RemoveTree("/p/a.jpg"), PutFile(entry, "image", "/p/a")]


def test_a_non_image_file_is_not_stored_but_still_replaces_a_folder() -> None:
    assert plan_page([file("/p/notes.pdf")], KINDS) == [RemoveTree("/p/notes.pdf")]


def test_a_folder_replaces_a_file_and_keeps_its_children() -> None:
    assert plan_page([FolderEntry("/p/sub", "/p/Sub", "Sub")], KINDS) == [RemovePath("/p/sub")]


def test_a_deletion_removes_the_path_and_everything_under_it() -> None:
    assert plan_page([DeletedEntry("/p/x", "/p/x", "x")], KINDS) == [
        RemovePath("/p/x"),
        RemoveTree("/p/x"),
    ]


def test_entries_keep_their_order() -> None:
    first, again = file("/p/a.jpg", "a" * 64), file("/p/a.jpg", "b" * 64)
    operations = plan_page([first, DeletedEntry("/p/a.jpg", "/p/a.jpg", "a.jpg"), again], KINDS)
    assert [type(op).__name__ for op in operations] == [
        "RemoveTree",
        "PutFile",
        "RemovePath",
        "RemoveTree",
        "RemoveTree",
        "PutFile",
    ]
    assert operations[-1] == PutFile(again, "image", "/p/a")


def test_stems_join_images_to_sidecars() -> None:
    assert stem_of("/p/photo.jpg") == stem_of("/p/photo.txt") == "/p/photo"
    assert stem_of("/p/archive.tar.gz") == "/p/archive.tar"
    assert stem_of("/p/.hidden") == "/p/.hidden"
    assert stem_of("/p/noext") == "/p/noext"


def test_tree_bounds_hold_descendants_only() -> None:
    low, high = tree_bounds("/a")
    inside = ["/a/b", "/a/b/c.jpg", "/a/~"]
    outside = ["/a", "/ab", "/a.jpg", "/a0", "/b"]
    assert all(low <= path < high for path in inside)
    assert not any(low <= path < high for path in outside)
