"""The benchmarks' services, started here from a process that has already imported them.

The tests of the benchmarks check what the figures look like, not what they are, so
each ``python -m app serve`` a section starts is forked by this worker's fork server
(``tests.reliability.forkserver``) instead of importing the service afresh: 17 starts,
about 1.2 s of CPU each. ``python -m bench`` itself starts real processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from bench import select_load
from tests.reliability.forkserver import forkserver


def forked_app(
    argv: list[str], env: dict[str, str], cwd: Path, log: BinaryIO
) -> select_load.Process:
    """As ``select_load.popen_app``: ``python -m app *argv``, both streams in ``log``."""
    return forkserver().start(argv, env, stdout=log.fileno(), stderr=log.fileno(), cwd=cwd)


@pytest.fixture(scope="module", autouse=True)
def services_forked() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(select_load, "start_app", forked_app)
        yield
