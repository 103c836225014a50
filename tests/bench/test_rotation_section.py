"""The rotation benchmark runs and its section renders: tiny sizes, no timing asserted."""

from __future__ import annotations

from datetime import date

from bench import report, rotation
from bench.__main__ import machine
from state.rotation import loaded


def test_the_configuration_balances_and_keeps_seasons_half_closed() -> None:
    text = rotation.config(20, date(2026, 12, 30))
    assert 'balance = "folders"' in text and '"f000" = 2' in text
    assert 'repeat_after = "30d"' in text and "max_posts = 3" in text
    assert 'f018 = "12-29..01-03"' in text  # open on the 30th, across the new year
    assert 'f019 = "01-09..01-14"' in text  # closed
    assert loaded('{"f000": 2}') == (("f000", 2),)


def test_the_section_runs_and_renders() -> None:
    figures = rotation.run(images=60, folders=6, requests=10, rounds=1)
    assert set(figures["p50_ms"]) == {"plain", "rotated"}
    assert all(v > 0 for c in figures["p50_ms"].values() for v in c.values())
    page = report.render({"mode": "smoke", "machine": machine(),
                          "sections": {"rotation": {"status": "ok", **figures}}})  # fmt: skip
    assert "## 12. Rotation: balance over folders and seasons" in page
    assert "60 images in 6 folders" in page
