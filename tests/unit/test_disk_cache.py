"""The bounded disk cache: whole entries, refusals, least recently used dropped first,
its order kept across restarts, and a disk that refuses writes only costing the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services.captions import first_lines
from app.services.disk_cache import DiskCache


def test_entries_and_refusals(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 1_000_000)
    assert cache.read("thumbs", "aa11") is None and not cache.holds("thumbs", "aa11")
    cache.write("thumbs", "aa11", b"jpeg")
    cache.refuse("thumbs", "bb22", "unsupported_extension")
    assert cache.read("thumbs", "aa11").data == b"jpeg"  # type: ignore[union-attr]
    assert cache.read("thumbs", "bb22").refusal == "unsupported_extension"  # type: ignore[union-attr]
    assert cache.holds("thumbs", "bb22")
    with pytest.raises(ValueError):
        cache.write("thumbs", "../escape", b"x")


def test_the_least_recently_used_go_first_even_after_a_restart(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 3 * (100 + 512))
    for number, name in enumerate(("a0", "b0", "c0")):
        cache.write("t", name, bytes(100))
        os.utime(next(tmp_path.glob(f"t/*/{name}.bin")), (1000 + number, 1000 + number))
    again = DiskCache(tmp_path, 3 * (100 + 512))
    assert again.read("t", "a0") is not None  # used: now the most recent
    again.write("t", "d0", bytes(100))
    assert [again.holds("t", n) for n in ("a0", "b0", "c0", "d0")] == [True, False, True, True]
    assert again.held_bytes <= again.max_bytes
    assert not list(tmp_path.glob("**/b0.bin"))


def test_a_disk_that_refuses_writes_costs_only_the_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    cache = DiskCache(blocked, 1_000_000)
    cache.write("t", "a0", b"x")
    assert cache.read("t", "a0") is None


def test_interrupted_writes_are_cleared(tmp_path: Path) -> None:
    (tmp_path / "t" / "a0").mkdir(parents=True)
    (tmp_path / "t" / "a0" / "a0.bin.123.partial").write_bytes(b"half")
    assert DiskCache(tmp_path, 1000).held_bytes == 0
    assert not list(tmp_path.glob("**/*.partial"))


def test_a_caption_is_its_first_lines() -> None:
    text = "\ufeffFirst line.\n\n  Second.  \nThird\nFourth\nFifth\n" + "x" * 300
    assert first_lines(text.encode()) == "First line.\nSecond.\nThird\nFourth"
    assert first_lines(("y" * 250).encode()) == "y" * 200 + "…"
    assert first_lines(b"\xff\xfe broken").startswith("\ufffd")
