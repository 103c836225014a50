"""The console's sessions (``ConsoleSessions``).

A row per signed-in session; signing out deletes it. Expired rows go whenever a new
session is recorded, so the table holds about as many rows as sessions live at once.
"""

from __future__ import annotations

from state.sqlite.roles import Role


class SessionRole(Role):
    def open_session(self, record: str, holder: str, expires_at: float) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (self._clock(),))
            db.execute(
                "INSERT OR REPLACE INTO console_sessions (record, holder, expires_at)"
                " VALUES (?, ?, ?)",
                (record, holder, expires_at),
            )

    def session_open(self, record: str) -> bool:
        with self._read() as db:
            row = db.execute(
                "SELECT 1 FROM console_sessions WHERE record = ? AND expires_at > ?",
                (record, self._clock()),
            ).fetchone()
        return row is not None

    def end_session(self, record: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE record = ?", (record,))

    def end_every_session(self) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM console_sessions").rowcount
