"""Reliability checks: quick by default, long with ``--long`` (``make reliability``).

``trials(quick, long)`` picks the count for the mode; the session's ledger is written to
docs/reliability.md at the end of a long run that passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401  (shared fixtures)
    emulator,
    emulator_server,
    service,
    start_service,
)
from tests.reliability.ledger import Ledger

_LEDGER = Ledger()
REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@pytest.fixture(scope="session")
def long_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--long"))


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return _LEDGER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("--long", default=False) and exitstatus == 0 and _LEDGER.entries:
        _LEDGER.write(REPORT, "long", "make reliability")
