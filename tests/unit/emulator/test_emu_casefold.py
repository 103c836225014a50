"""path_lower as Dropbox makes it: Unicode 4.1's simple lowercase, one character at a time."""

from __future__ import annotations

import pytest

from emulator import Emulator
from state.casefold import fold, mapping_count

# (name, Dropbox's path_lower, what Python 3's str.lower() would give if different)
EXAMPLES = [
    ("Photos", "photos", None),
    ("ÀÉÎÕÜ", "àéîõü", None),
    ("ΣΑΣ", "σασ", "σας"),  # no final sigma
    ("ΟΔΥΣΣΕΥΣ 1.jpg", "οδυσσευσ 1.jpg", "οδυσσευς 1.jpg"),  # a word's end, not a name's
    ("ΟΔΥΣΣΕΥΣ.jpg", "οδυσσευσ.jpg", None),  # Python too: "." is case-ignorable
    ("İstanbul", "istanbul", "i̇stanbul"),  # simple mapping: no combining dot
    ("\u1c90\u1c91.jpg", "\u1c90\u1c91.jpg", "\u10d0\u10d1.jpg"),  # Georgian Mtavruli (11.0)
    ("\u13a0.jpg", "\u13a0.jpg", "\uab70.jpg"),  # Cherokee (lower case added in 8.0)
    ("Straẞe", "straẞe", "straße"),  # capital sharp s (5.1)
    ("\ua64a", "\ua64a", "\ua64b"),  # Cyrillic Extended-B (5.1)
    ("\u10a0", "\u2d00", None),  # Georgian Asomtavruli: paired with Nuskhuri in 4.1
    ("\u2c00", "\u2c30", None),  # Glagolitic (4.1)
    ("\u0241", "\u0294", "\u0242"),  # glottal stop: 4.1's mapping, changed in 5.0
]


@pytest.mark.parametrize(("name", "dropbox", "python"), EXAMPLES)
def test_fold_follows_unicode_4_1_simple_lowercase(
    name: str, dropbox: str, python: str | None
) -> None:
    assert fold(name) == dropbox
    assert name.lower() == (python if python is not None else dropbox)


def test_the_table_has_unicode_4_1s_893_mappings() -> None:
    assert mapping_count() == 893


def test_names_dropbox_keeps_apart_stay_apart_and_those_it_merges_merge() -> None:
    emu = Emulator()
    emu.put_file("/Greek/σας.jpg", b"1")
    emu.put_file("/Greek/ΣΑΣ.jpg", b"2")  # path_lower σασ.jpg: another file
    emu.put_file("/Georgian/\u10d0.jpg", b"3")
    emu.put_file("/Georgian/\u1c90.jpg", b"4")  # Mtavruli has no lower case in 4.1
    emu.put_file("/Turkish/i.jpg", b"5")
    emu.put_file("/Turkish/İ.jpg", b"6")  # path_lower i.jpg: the same file, overwritten
    assert sorted(emu.files()) == sorted(
        ["/greek/σας.jpg", "/greek/σασ.jpg", "/georgian/\u10d0.jpg", "/georgian/\u1c90.jpg"]
        + ["/turkish/i.jpg"]
    )
    assert emu.read("/turkish/I.JPG") == b"6" and emu.metadata("/greek/σασ.jpg") is not None
