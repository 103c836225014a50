"""How much of the two stores' code is the same text, once the dialects are set aside.

For each module path present in both ``state/sqlite/`` and ``state/postgres/`` (roles
included), the
lines of the one that reappear in the other once placeholders (``?``, ``:name``,
``%s``, ``%(name)s``, ``$1``), SQLite's ``INDEXED BY`` hints, the connection types,
the package names and the dialects' names (``SQLITE``, ``POSTGRES``: a line that differs
only in which dialect it hands a shared statement is the same line twice) are
normalised. Blank lines, lone brackets and import lines do not
count: they are alike in any two modules. Run ``python -m bench.shared_sql``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "state"

_NORMAL = (
    (re.compile(r"%\((\w+)\)s|(?<![\w:]):(\w+)"), r"@\1\2"),
    (re.compile(r"\?|%s|\$\d+"), "@"),
    (re.compile(r"\s+INDEXED BY \w+"), ""),
    (re.compile(r"\bCROSS JOIN\b"), "JOIN"),
    (re.compile(r"sqlite3\.Connection|\bDb\b"), "DB"),
    (re.compile(r"\b(sqlite|postgres)\b"), "BACKEND"),
    (re.compile(r"\b(SQLITE|POSTGRES)\b"), "DIALECT"),
)
_TRIVIAL = re.compile(r"^([\)\]\}\(\[\{,:]*|\"\"\"|from .* import .*|import .*|#.*|else:|try:)$")


def normal(line: str) -> str:
    text = line.strip()
    for pattern, replacement in _NORMAL:
        text = pattern.sub(replacement, text)
    return text


def lines(path: Path) -> list[str]:
    found = (normal(line) for line in path.read_text().splitlines())
    return [line for line in found if line and not _TRIVIAL.match(line)]


def shared(one: Path, other: Path) -> tuple[int, int]:
    """Lines of ``one`` also in ``other``, and ``one``'s counted lines."""
    theirs = set(lines(other))
    mine = lines(one)
    return sum(1 for line in mine if line in theirs), len(mine)


def main() -> int:
    total = 0
    names = sorted(
        str(path.relative_to(ROOT / "sqlite"))
        for path in (ROOT / "sqlite").rglob("*.py")
        if (ROOT / "postgres" / path.relative_to(ROOT / "sqlite")).exists()
        and path.name != "__init__.py"
    )
    for name in names:
        alike, count = shared(ROOT / "sqlite" / name, ROOT / "postgres" / name)
        total += alike
        sys.stdout.write(f"{name:26} {alike:5} of {count:5} ({alike / max(count, 1):4.0%})\n")
    sys.stdout.write(f"{'shared lines':26} {total:5}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
