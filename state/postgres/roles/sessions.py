"""The console's sessions (``ConsoleSessions``): a row per signed-in session."""

from __future__ import annotations

from state.postgres.connection import Db
from state.postgres.roles import Role


class SessionRole(Role):
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
