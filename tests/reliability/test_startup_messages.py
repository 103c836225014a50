"""A wrong credential or database stops ``serve`` with one line, exit 2, and no secret.

Each case runs ``python -m app serve`` as an operator would, in a directory of its own
(no ``.env``), with one setting wrong: an empty or malformed Dropbox key, secret or
token, a malformed ``DATABASE_URL``, and a PostgreSQL server that cannot be used (a
``.invalid`` host, a port where nothing listens, a wrong password on a role that has
one, a database that does not exist). The PostgreSQL cases run against a throwaway
cluster of their own whose ``pg_hba.conf`` asks that role for its password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.postgres import BINARIES, Cluster, _free_port

API = "startup-messages-api-token-0123456789abcdef"
PASSWORD = "Right-Pw-7c1f0e"
WRONG = "Wrong-Pw-93ab2d"


def _serve(tmp_path: Path, **settings: str | None) -> subprocess.CompletedProcess[str]:
    """``serve`` with well-formed settings but ``settings`` (None: the variable unset)."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DROPBOX_", "API_", "DATABASE_", "UNPOSTED_"))
    }
    environment.update(
        DROPBOX_FOLDER="/Photos",
        DROPBOX_ACCESS_TOKEN="well-formed-access-token",
        DROPBOX_APP_KEY="wellformedkey",
        DROPBOX_APP_SECRET="well-formed-app-secret",
        DROPBOX_BASE_URL="http://127.0.0.1:9",  # never reached: start stops before
        API_TOKEN=API,
        STATE_DIR=str(tmp_path / "state"),
    )
    environment.update({name: value for name, value in settings.items() if value is not None})
    for name in [name for name, value in settings.items() if value is None]:
        del environment[name]
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1"]
    return subprocess.run(
        [*command, "--port", str(_free_port())],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(done: subprocess.CompletedProcess[str], secret: str | None = None) -> str:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    if secret:
        assert secret not in done.stdout + done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DROPBOX_ACCESS_TOKEN", "", "is empty"),
        ("DROPBOX_ACCESS_TOKEN", "Bearer sl.Secret-Token-1", "space or line break"),
        ("DROPBOX_ACCESS_TOKEN", '"sl.Secret-Token-2"', "quotes"),
        ("DROPBOX_REFRESH_TOKEN", "", "is empty"),
        ("DROPBOX_REFRESH_TOKEN", "Secret-Refresh\n", "space or line break"),
        ("DROPBOX_REFRESH_TOKEN", "Secret-Refresh-\u00e9", "printable ASCII"),
        ("DROPBOX_APP_KEY", "", "is empty"),
        ("DROPBOX_APP_KEY", "Secret key", "space or line break"),
        ("DROPBOX_APP_SECRET", "", "is empty"),
    ],
)
def test_a_bad_dropbox_credential_is_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    line = _one_line(_serve(tmp_path, **{variable: value}), secret=value.strip() or None)
    assert line.startswith(f"unposted: configuration: {variable}: ") and says in line


def test_a_bad_refresh_token_named_by_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "unposted.toml"
    config.write_text('[libraries.a]\nfolder = "/A"\nrefresh_token_env = "A_TOKEN"\n'
                      '[channels.a]\nlibrary = "a"\n')  # fmt: skip
    done = _serve(
        tmp_path, DROPBOX_FOLDER=None, UNPOSTED_CONFIG=str(config), A_TOKEN="Secret Refresh"
    )
    line = _one_line(done, secret="Secret Refresh")
    assert "[libraries.a] refresh_token_env: the variable A_TOKEN holds a space" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql://unposted:{PASSWORD}@db.example:port/unposted", "its port must be"),
        (f"postgresql://unposted:{PASSWORD}@[db.example/unposted", "IPv6 host"),
        (f"postgresql://unposted:{PASSWORD}@db.example/unposted?colour=blue", "libpq accepts"),
        (f"mysql://unposted:{PASSWORD}@db.example/unposted", "must be a postgresql:// URL"),
    ],
)
def test_a_malformed_database_url_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    line = _one_line(_serve(tmp_path, DATABASE_URL=url), secret=PASSWORD)
    assert line.startswith("unposted: configuration: DATABASE_URL: ") and says in line


@pytest.fixture(scope="module")
def server() -> Iterator[Cluster]:
    """A cluster of its own whose role ``unposted`` must give its password over TCP."""
    absent = [name for name in BINARIES if shutil.which(name) is None]
    if absent:
        pytest.skip(f"no {', '.join(absent)} on PATH")
    cluster = Cluster()
    hba = cluster.data / "pg_hba.conf"
    hba.write_text("host all unposted 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE unposted LOGIN PASSWORD '{PASSWORD}'")
        admin.execute("CREATE DATABASE unposted OWNER unposted")
        admin.execute("SELECT pg_reload_conf()")
    yield cluster
    cluster.stop()


def _url(password: str, host: str, port: int, database: str = "unposted") -> str:
    return f"postgresql://unposted:{password}@{host}:{port}/{database}"


def _status(tmp_path: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    """``python -m app status`` on the database named, nothing else of the machine's set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "API_"))}
    environment.update(DROPBOX_FOLDER="/Photos", STATE_DIR=str(tmp_path), DATABASE_URL=database_url)
    command = [sys.executable, "-m", "app", "status"]
    return subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )


def test_the_right_password_serves_so_the_cases_below_fail_for_their_reason(
    tmp_path: Path, server: Cluster
) -> None:
    """The same URL with the right password is accepted (``status`` runs and exits 0)."""
    done = _status(tmp_path, _url(PASSWORD, "127.0.0.1", server.port))
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_wrong_password_names_user_host_and_database(tmp_path: Path, server: Cluster) -> None:
    done = _serve(tmp_path, DATABASE_URL=_url(WRONG, "127.0.0.1", server.port))
    line = _one_line(done, secret=WRONG)
    assert line == (
        f"unposted: the database 127.0.0.1:{server.port}/unposted:"
        ' password authentication failed for user "unposted"'
    )


def test_a_command_meets_the_same_line(tmp_path: Path, server: Cluster) -> None:
    done = _status(tmp_path, _url(WRONG, "127.0.0.1", server.port))
    assert _one_line(done, secret=WRONG).endswith(
        'password authentication failed for user "unposted"'
    )


def test_a_missing_database_is_named(tmp_path: Path, server: Cluster) -> None:
    done = _serve(tmp_path, DATABASE_URL=_url(PASSWORD, "127.0.0.1", server.port, "nowhere"))
    line = _one_line(done, secret=PASSWORD)
    assert line == (
        f"unposted: the database 127.0.0.1:{server.port}/nowhere:"
        " the database does not exist on that server"
    )


def test_an_unknown_host_is_named(tmp_path: Path) -> None:
    done = _serve(tmp_path, DATABASE_URL=_url(PASSWORD, "db.unposted.invalid", 5432))
    line = _one_line(done, secret=PASSWORD)
    assert line == (
        "unposted: the database db.unposted.invalid:5432/unposted: the host name does not resolve"
    )


def test_a_port_where_nothing_listens_is_named(tmp_path: Path) -> None:
    port = _free_port()
    line = _one_line(_serve(tmp_path, DATABASE_URL=_url(PASSWORD, "127.0.0.1", port)), PASSWORD)
    assert line == (
        f"unposted: the database 127.0.0.1:{port}/unposted:"
        " connection refused: is PostgreSQL running and listening there?"
    )
