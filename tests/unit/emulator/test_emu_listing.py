"""Cursors and paging as plain Python, including the sync invariant under hypothesis.

The invariant: for any interleaving of changes with list_folder/continue paging, a client
that applies every returned entry in order by Dropbox's rules ends up holding exactly the
files ``emu.files(scope)`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from emulator.errors import AccountError, LookupFailure, ResetCursor
from emulator.listing import Lister, Page
from emulator.model import DeletedMeta, Entry, FileMeta, FolderMeta


def apply(state: dict[str, str], entries: list[Entry]) -> None:
    """Dropbox's rules; ``state`` maps path_lower to a rev ("" for a folder)."""
    for entry in entries:
        path = entry.path_lower
        if isinstance(entry, DeletedMeta) or isinstance(entry, FileMeta):
            for key in [k for k in state if k == path or k.startswith(path + "/")]:
                del state[key]
        if isinstance(entry, FileMeta):
            state[path] = entry.rev
        elif isinstance(entry, FolderMeta) and path not in state:
            state[path] = ""


def drain(lister: Lister, page: Page, state: dict[str, str]) -> str:
    apply(state, page.entries)
    while page.has_more:
        page = lister.continue_(page.cursor)
        apply(state, page.entries)
    return page.cursor


def files_of(state: dict[str, str]) -> dict[str, str]:
    return {path: rev for path, rev in state.items() if rev}


def truth(
    emu: Emulator, path: str, recursive: bool, non_downloadable: bool = True
) -> dict[str, str]:
    files = emu.files(path, recursive).items()
    return {p: m.rev for p, m in files if non_downloadable or m.downloadable}


def test_paging_returns_every_file_once_across_pages() -> None:
    emu = Emulator()
    emu.bulk_generate("/Photos", 10_000)
    page = emu.lister.list_folder("/Photos", False, False, 2000)
    seen, pages = [e.path_lower for e in page.entries], 1
    while page.has_more:
        page = emu.lister.continue_(page.cursor)
        seen += [e.path_lower for e in page.entries]
        pages += 1
    assert pages >= 5 and sorted(seen) == sorted(emu.files("/Photos")) and len(seen) == 10_000


def test_continue_returns_only_changes_since_in_order() -> None:
    emu = Emulator()
    emu.put_file("/Photos/a.jpg", b"a")
    cursor = drain(emu.lister, emu.lister.list_folder("/Photos", False, False, None), {})
    emu.put_file("/Photos/b.jpg", b"b")
    emu.put_file("/Elsewhere/c.jpg", b"c")
    emu.delete("/Photos/a.jpg")
    page = emu.lister.continue_(cursor)
    assert [(type(e).__name__, e.path_lower) for e in page.entries] == [
        ("FileMeta", "/photos/b.jpg"),
        ("DeletedMeta", "/photos/a.jpg"),
    ]
    again = emu.lister.continue_(page.cursor)
    assert again.entries == [] and not again.has_more and again.cursor


def test_non_recursive_scope_sees_only_direct_children() -> None:
    emu = Emulator()
    emu.create_folder("/Photos")
    cursor = emu.lister.start("/Photos", False, False, None).encode()
    emu.put_file("/Photos/sub/deep.jpg", b"x")
    emu.put_file("/Photos/top.jpg", b"y")
    entries = emu.lister.continue_(cursor).entries
    assert [e.path_lower for e in entries] == ["/photos/sub", "/photos/top.jpg"]


def test_deleted_folder_is_reported_once_and_listed_folder_gone_is_not_found() -> None:
    emu = Emulator()
    emu.bulk_generate("/Photos/old", 20)
    cursor = emu.lister.start("/Photos", True, False, None).encode()
    emu.delete("/Photos/old")
    assert emu.lister.continue_(cursor).entries == [
        DeletedMeta("old", "/photos/old", "/Photos/old")
    ]
    emu.delete("/Photos")
    with pytest.raises(LookupFailure) as gone:
        emu.lister.continue_(cursor)
    assert gone.value.tags == ("not_found",)


@pytest.mark.parametrize("recursive", [True, False])
@pytest.mark.parametrize("deleted_path", ["/Root/Photos", "/Root"])
def test_listed_folder_deleted_and_recreated_shows_as_its_deletion(
    recursive: bool, deleted_path: str
) -> None:
    emu = Emulator()
    emu.put_file("/Root/Photos/old.jpg", b"old")
    scope = "/Root/Photos"
    state: dict[str, str] = {}
    cursor = drain(emu.lister, emu.lister.list_folder(scope, recursive, False, None), state)
    emu.delete(deleted_path)  # the listed folder, or an ancestor
    emu.put_file("/Root/Photos/new.jpg", b"new")
    page = emu.lister.continue_(cursor)
    assert page.entries[0] == DeletedMeta("Photos", "/root/photos", "/Root/Photos")
    apply(state, page.entries)
    assert files_of(state) == truth(emu, scope, recursive)


def test_recursive_listing_includes_the_folder_itself() -> None:
    emu = Emulator()
    emu.put_file("/Photos/a.jpg", b"a")
    entries = emu.lister.list_folder("/Photos", True, False, None).entries
    assert [e.path_lower for e in entries] == ["/photos", "/photos/a.jpg"]


def test_invalidated_cursor_resets() -> None:
    emu = Emulator()
    cursor = emu.lister.start("", True, False, None).encode()
    emu.invalidate_cursors()
    with pytest.raises(ResetCursor):
        emu.lister.continue_(cursor)


def test_include_deleted_lists_tombstones() -> None:
    emu = Emulator()
    emu.put_file("/Photos/a.jpg", b"a")
    emu.put_file("/Photos/b.jpg", b"b")
    emu.delete("/Photos/a.jpg")
    listed = emu.lister.list_folder("/Photos", False, True, None).entries
    assert [(type(e).__name__, e.path_lower) for e in listed] == [
        ("DeletedMeta", "/photos/a.jpg"),
        ("FileMeta", "/photos/b.jpg"),
    ]


# --- the invariant ------------------------------------------------------------------

NAMES = st.sampled_from(["a", "A", "a", "b", "c.jpg", "C.JPG"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
SCOPES = [("", True, True), ("", False, True), ("/a", True, True), ("/a", False, True)]
SCOPES += [("/a/b", True, True), ("", True, False), ("/a", False, False)]

OPS = st.one_of(
    st.tuples(st.just("put"), PATHS, st.binary(max_size=3)),
    st.tuples(st.just("put_not_downloadable"), PATHS, st.binary(max_size=3)),
    st.tuples(st.just("mkdir"), PATHS),
    st.tuples(st.just("delete"), PATHS),
    st.tuples(st.just("move"), PATHS, PATHS),
    st.tuples(st.just("step"), st.integers(0, len(SCOPES) - 1)),
    st.tuples(st.just("relist"), st.integers(0, len(SCOPES) - 1)),
    st.tuples(st.just("invalidate")),
)


@dataclass
class Client:
    path: str
    recursive: bool
    non_downloadable: bool
    limit: int
    state: dict[str, str] = field(default_factory=dict)
    cursor: str | None = None
    listing: bool = False

    def relist(self, lister: Lister) -> None:
        self.state.clear()
        self.cursor = None
        try:
            page = lister.list_folder(
                self.path, self.recursive, False, self.limit, self.non_downloadable
            )
        except LookupFailure:
            return  # folder absent: nothing to hold until it exists
        self._take(page)

    def step(self, lister: Lister) -> None:
        if self.cursor is None:
            self.relist(lister)
            return
        try:
            self._take(lister.continue_(self.cursor))
        except (ResetCursor, LookupFailure):
            self.relist(lister)

    def settle(self, lister: Lister) -> None:
        self.step(lister)
        while self.cursor is not None and self.listing:
            self.step(lister)

    def _take(self, page: Page) -> None:
        apply(self.state, page.entries)
        self.cursor, self.listing = page.cursor, page.has_more


def mutate(emu: Emulator, op: tuple[object, ...]) -> None:
    kind = op[0]
    try:
        if kind == "put":
            emu.put_file(str(op[1]), bytes(op[2]))  # type: ignore[call-overload]
        elif kind == "put_not_downloadable":
            emu.put_file(str(op[1]), bytes(op[2]), downloadable=False)  # type: ignore[call-overload]
        elif kind == "mkdir":
            emu.create_folder(str(op[1]))
        elif kind == "delete":
            emu.delete(str(op[1]))
        elif kind == "move":
            emu.move(str(op[1]), str(op[2]))
    except AccountError:
        pass  # Dropbox would refuse it too


RECREATED_FOLDER = [
    ("put", "/a/c.jpg", b"1"),
    ("step", 2),
    ("step", 3),
    ("delete", "/A"),
    ("put", "/a/b", b"2"),
    ("step", 2),
    ("step", 3),
]


@example(ops=RECREATED_FOLDER, limit=1)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=40), limit=st.integers(1, 3))
def test_applying_every_entry_in_order_reproduces_the_truth(
    ops: list[tuple[object, ...]], limit: int
) -> None:
    emu = Emulator()
    clients = [Client(path, recursive, kinds, limit) for path, recursive, kinds in SCOPES]
    for client in clients:
        client.relist(emu.lister)
    for op in ops:
        if op[0] == "step":
            clients[int(op[1])].step(emu.lister)  # type: ignore[call-overload]
        elif op[0] == "relist":
            clients[int(op[1])].relist(emu.lister)  # type: ignore[call-overload]
        elif op[0] == "invalidate":
            emu.invalidate_cursors()
        else:
            mutate(emu, op)
    for client in clients:
        client.settle(emu.lister)
        expected = truth(emu, client.path, client.recursive, client.non_downloadable)
        assert files_of(client.state) == expected, client


def test_a_cursor_from_another_account_is_reset_even_at_a_valid_position() -> None:
    ours, theirs = Emulator(), Emulator()
    for emu in (ours, theirs):
        emu.put_file("/Photos/a.jpg", b"a")
    cursor = theirs.lister.start("/Photos", False, False, None).encode()
    assert theirs.lister.continue_(cursor).entries == []
    with pytest.raises(ResetCursor):
        ours.lister.continue_(cursor)
    with pytest.raises(ResetCursor):
        ours.lister.has_changes(cursor)


def test_non_downloadable_files_are_left_out_only_when_asked_and_continue_follows_the_cursor() -> (
    None
):
    emu = Emulator()
    emu.put_file("/Docs/plan.gdoc", b"cloud doc", downloadable=False)
    emu.put_file("/Docs/photo.jpg", b"photo")
    listed = emu.lister.list_folder("/Docs", False, False, None)
    assert [(e.name, e.to_json()["is_downloadable"]) for e in listed.entries] == [
        ("photo.jpg", True),
        ("plan.gdoc", False),
    ]
    without = emu.lister.list_folder("/Docs", False, False, None, non_downloadable=False)
    assert [e.name for e in without.entries] == ["photo.jpg"]
    emu.put_file("/Docs/sheet.gsheet", b"another", downloadable=False)
    emu.put_file("/Docs/new.jpg", b"new")
    assert [e.name for e in emu.lister.continue_(without.cursor).entries] == ["new.jpg"]
    assert len(emu.lister.continue_(listed.cursor).entries) == 2


def test_a_file_replaced_by_one_of_the_other_kind_is_deleted_first_and_gets_a_new_id() -> None:
    emu = Emulator()
    old = emu.put_file("/Docs/a.jpg", b"photo")
    cursor = emu.lister.start("/Docs", False, False, None, non_downloadable=False).encode()
    start = emu.account.seq
    new = emu.put_file("/Docs/a.jpg", b"now a cloud doc", downloadable=False)
    assert [type(e).__name__ for e in emu.account.journal[start:]] == ["DeletedMeta", "FileMeta"]
    assert new.id != old.id and emu.account.get(old.id) is None
    assert emu.lister.continue_(cursor).entries == [
        DeletedMeta("a.jpg", "/docs/a.jpg", "/Docs/a.jpg")
    ]
    again = emu.put_file("/Docs/a.jpg", b"still a cloud doc", downloadable=False)
    assert again.id == new.id


def test_longpoll_sees_only_changes_in_the_cursors_scope() -> None:
    emu = Emulator()
    emu.create_folder("/Photos")
    cursor = emu.lister.start("/Photos", False, False, None).encode()
    emu.put_file("/Elsewhere/x.jpg", b"x")
    emu.put_file("/Photos/deeper/y.jpg", b"y")  # creates /Photos/deeper: in scope
    changed, _ = emu.lister.has_changes(cursor)
    assert changed
    cursor = emu.lister.continue_(cursor).cursor
    emu.put_file("/Elsewhere/z.jpg", b"z")
    emu.put_file("/Photos/deeper/w.jpg", b"w")  # below a direct child: out of scope
    changed, advanced = emu.lister.has_changes(cursor)
    assert not changed and advanced.pos == emu.account.seq
