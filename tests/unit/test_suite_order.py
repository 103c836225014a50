"""The modules the suite runs first (``tests/conftest.py``) are modules that exist."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FIRST

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_named_to_run_first_exists() -> None:
    assert [module for module in LONGEST_FIRST if not (ROOT / module).is_file()] == []
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
