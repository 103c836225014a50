"""The console's sessions in the PostgreSQL store (``ConsoleSessions``), shared by replicas.

As in SQLite (``state.sqlite.sessions``): a row per signed-in session, deleted by
signing out, so a session ended on one replica is ended on all of them at once; expired
rows go whenever a new session is recorded.
"""

from __future__ import annotations

from state.postgres.connection import Db
from state.postgres.sync import Connected


class SessionRole(Connected):
    """``ConsoleSessions`` on PostgreSQL."""

    def open_session(self, record: str, holder: str, expires_at: float) -> None:
        def record_it(db: Db) -> None:
            db.execute("DELETE FROM console_sessions WHERE expires_at <= %s", (self._clock(),))
            db.execute(
                "INSERT INTO console_sessions (record, holder, expires_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (record) DO UPDATE SET holder = EXCLUDED.holder,"
                " expires_at = EXCLUDED.expires_at",
                (record, holder, expires_at),
            )

        self._run(record_it)

    def session_open(self, record: str) -> bool:
        found = self._read(lambda db: db.execute(
            "SELECT 1 FROM console_sessions WHERE record = %s AND expires_at > %s",
            (record, self._clock())).fetchone())  # fmt: skip
        return found is not None

    def end_session(self, record: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM console_sessions WHERE record = %s", [record]))

    def end_every_session(self) -> int:
        return self._run(lambda db: db.execute("DELETE FROM console_sessions").rowcount)
