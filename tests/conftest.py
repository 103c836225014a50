"""Fixtures shared by every test: settings built explicitly, never from the environment."""

from __future__ import annotations

import os
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Where this run's processes keep the modules they compile. On a machine that asks for no
# bytecode beside the sources (PYTHONDONTWRITEBYTECODE), each process would compile every
# module again: each worker collecting the suite (4 s of CPU more each), each service and
# command a test starts. Set before anything is imported, and in the environment, so the
# workers and every process they start inherit it. Compiled files name the source they
# came from (path, size, time): one directory serves every tree.
PYCACHE = Path(tempfile.gettempdir()) / f"unposted-pycache-{os.getuid()}"
if os.environ.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in os.environ:
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix = str(PYCACHE)
    sys.dont_write_bytecode = False

import pytest  # noqa: E402

from app.configuration.environment import Settings  # noqa: E402
from tests import postgres  # noqa: E402

API_TOKEN = "test-api-token-0123456789abcdefghij"
# One TLS context for the tests' HTTP clients (``verify=TLS``): httpx builds one for each
# client otherwise, loading the certificate authorities, 25 ms of CPU for each of about a
# thousand clients a run, though the services under test speak plain HTTP.
TLS = ssl.create_default_context()
APP_SECRET = "test-app-secret"

MakeSettings = Callable[..., Settings]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long reliability mode")
    parser.addoption(
        "--screenshot", type=Path, default=None, metavar="PNG",
        help="where the browser test saves a screenshot of the console's grid",
    )  # fmt: skip


# The modules that keep a worker longest (CPU seconds of the module and the processes it
# starts, measured over a whole run), run first: `make test` hands whole modules to its
# workers in the order collected (--no-loadscope-reorder), so a long one left for the end
# would keep one worker busy while the others stand idle. The rest keep their order.
LONGEST_FIRST = (
    "tests/reliability/test_state_dir.py",
    "tests/reliability/test_service_crash.py",
    "tests/reliability/test_replicas.py",
    "tests/bench/test_bench_smoke.py",
    "tests/reliability/test_replicas_parallel.py",
    "tests/contract/test_rules.py",
    "tests/reliability/test_fuzz.py",
    "tests/reliability/test_startup_messages.py",
    "tests/integration/test_remote_cli.py",
    "tests/integration/test_image.py",
    "tests/reliability/test_holes_damage.py",
    "tests/integration/test_holds_until.py",
    "tests/contract/test_browsing.py",
    "tests/integration/test_wheels_only.py",
    "tests/integration/test_selection_cli.py",
    "tests/reliability/test_catch_up_crash.py",
    "tests/integration/test_publishing_cli.py",
    "tests/reliability/test_hostile_input.py",
    "tests/reliability/test_holes_sources.py",
    "tests/integration/test_mcp.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


def pytest_report_header(config: pytest.Config) -> str:
    why = postgres.missing()
    if why is None:
        return "postgresql: " + (
            "the named server"
            if os.environ.get(postgres.URL_VARIABLE)
            else "a throwaway cluster from the machine's binaries"
        )
    return f"postgresql: NONE ({why}): every PostgreSQL test is skipped" + (
        ", and under CI that fails the run" if os.environ.get("CI") else ""
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """The session's PostgreSQL server, started on first use and stopped at the end."""
    why = postgres.missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {why}", pytrace=False)
        pytest.skip(f"NO POSTGRESQL: {why}; PostgreSQL tests skipped")
    server = postgres.provide()
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres_server: postgres.Server) -> str:
    """A fresh, empty database of its own for one test."""
    return postgres_server.fresh_database()


@pytest.fixture
def migrated_database_url(postgres_server: postgres.Server) -> str:
    """A database of its own at the current schema, for a test of what a store does."""
    return postgres_server.migrated_database()


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Build ``Settings`` for a test: no ``.env``, no environment surprises."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "dropbox_folder": "/Photos",
            "dropbox_access_token": "test-access-token",
            "dropbox_app_key": "test-app-key",
            "dropbox_app_secret": APP_SECRET,
            "api_token": API_TOKEN,
            "state_dir": tmp_path / "state",
            "log_format": "console",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build
