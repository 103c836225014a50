"""A PostgreSQL server for tests: a throwaway cluster from the machine's binaries, or one named.

``UNPOSTED_TEST_DATABASE_URL`` names a server to use (its user must be allowed to
create databases). Otherwise ``initdb``, ``pg_ctl`` and ``postgres`` on ``PATH`` make
a cluster in a temporary directory, bound to 127.0.0.1 on a free port with its socket
in that directory; as root they run as the ``postgres`` user, which must own the
directory, in memory (``/dev/shm``) when it has room: the cluster is thrown away with
the test session and writes without ``fsync`` anyway, and a database copied on a disk
costs the server several times the CPU (the file system's bookkeeping of every file
created). Autovacuum is off there (unless asked for: the benchmarks measure a server
as deployed): statistics appear only where the service (or a test) analyzes, never by
the luck of a background worker's timing. Each test gets a
database of its own: empty (``fresh_database``), or at the current schema
(``migrated_database``: a copy of a template migrated once per server, less than half
the cost of migrating an empty one, for the contract suite's hundred-odd stores; the
tests of migrations take an empty one). Neither a server nor the binaries: the
PostgreSQL tests are skipped, except under ``CI``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from state.postgres.schema import migrate

BINARIES = ("initdb", "pg_ctl", "postgres")
URL_VARIABLE = "UNPOSTED_TEST_DATABASE_URL"
MEMORY = Path("/dev/shm")
MEMORY_NEEDED = 4 << 30  # a session's clusters, their hundreds of databases never dropped


def _scratch() -> str | None:
    """Where a throwaway cluster goes: memory when it has room (a container's
    ``/dev/shm`` is often 64 MB), else the temporary directory."""
    try:
        room = os.statvfs(MEMORY)
    except OSError:
        return None
    if not os.access(MEMORY, os.W_OK) or room.f_bavail * room.f_frsize < MEMORY_NEEDED:
        return None
    return str(MEMORY)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """Commands of the cluster run as ``postgres`` when we are root: it refuses root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Server:
    """A PostgreSQL server reached by ``url``; ``fresh_database`` makes an empty database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._migrated: str | None = None  # the template of ``migrated_database``

    def url_of(self, database: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + database))

    def fresh_database(self) -> str:
        return self._copy_of("template0")

    def migrated_database(self) -> str:
        """A database of its own at the current schema (nobody connects to the template)."""
        if self._migrated is None:
            template = self.fresh_database()
            migrate(template)
            self._migrated = template.rsplit("/", 1)[1]
        return self._copy_of(self._migrated)

    def _copy_of(self, template: str) -> str:
        name = "unposted_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url_of(name)

    def stop(self) -> None:
        """A named server is not ours to stop."""


class Cluster(Server):
    """A cluster of our own, in a temporary directory, stopped and deleted by ``stop``."""

    def __init__(self, fast: bool = True, autovacuum: bool = False) -> None:
        # A cluster measured as deployed (``fast=False``: the benchmarks) stays on disk.
        where = _scratch() if fast else None
        self.root = Path(tempfile.mkdtemp(prefix="unposted-pg-", dir=where))
        self.data, self.port = self.root / "data", _free_port()
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"])  # fmt: skip
        settings = "-c fsync=off -c full_page_writes=off" if fast else ""
        settings += "" if autovacuum else " -c autovacuum=off"
        self._options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
            f" -c max_connections=400 -c synchronous_commit=off {settings}"
        )
        super().__init__(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        self.start()

    def _run(self, command: list[str]) -> None:
        subprocess.run(
            _as_server_user(command), check=True, capture_output=True, timeout=120, cwd=self.root
        )

    def _ctl(self, *action: str) -> None:
        log = str(self.root / "server.log")
        self._run(["pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", *action])

    def start(self) -> None:
        self._ctl("-o", self._options, "start")

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server but keep the cluster (``start`` brings it back)."""
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-o", self._options, "restart")

    def stop(self) -> None:
        try:
            self.stop_server("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


# The catalog's tables that a listing fills or a selection reads, and their indexes.
CATALOG = ("files", "images", "queue", "posted", "leases", "holds", "fingerprints",
           "to_fingerprint", "near_groups", "near_members")  # fmt: skip
_SIZES = (
    "SELECT c.oid, c.reltuples, c.relpages FROM pg_class AS c"
    " LEFT JOIN pg_index AS x ON x.indexrelid = c.oid"
    " WHERE c.oid = ANY(%(t)s::regclass[]) OR x.indrelid = ANY(%(t)s::regclass[])"
)


def catalog_sizes(url: str) -> list[tuple[object, ...]]:
    """What the planner knows of the catalog's tables and indexes (take it while empty)."""
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(_SIZES, {"t": list(CATALOG)}).fetchall()


def forget_statistics(url: str, sizes: list[tuple[object, ...]]) -> None:
    """The catalog as a first listing leaves it when nothing analyzes it: no statistics,
    and the sizes the tables and indexes had when empty (a partial index then looks
    empty to the planner). Needs a superuser."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "DELETE FROM pg_statistic WHERE starelid = ANY(%s::regclass[])", (list(CATALOG),)
        )
        for oid, tuples, pages in sizes:
            admin.execute(
                "UPDATE pg_class SET reltuples = %s, relpages = %s WHERE oid = %s",
                (tuples, pages, oid),
            )


def missing() -> str | None:
    """Why no server can be had here, or None."""
    if os.environ.get(URL_VARIABLE):
        return None
    absent = [name for name in BINARIES if shutil.which(name) is None]
    if absent:
        return f"no {URL_VARIABLE} and no {', '.join(absent)} on PATH"
    return None


def provide() -> Server:
    url = os.environ.get(URL_VARIABLE)
    return Server(url) if url else Cluster()
