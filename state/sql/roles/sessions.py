"""The console's sessions (``ConsoleSessions``).

A row per signed-in session; signing out deletes it. Expired rows go whenever a new
session is recorded, so the table holds about as many rows as sessions live at once.
"""

from __future__ import annotations

from state.sql.dialect import Tx
from state.sql.roles import Role


class SessionRole(Role):
    def open_session(self, record: str, holder: str, expires_at: float) -> None:
        now = self._clock()

        def record_it(tx: Tx) -> None:
            tx.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now,))
            tx.execute(
                "INSERT INTO console_sessions (record, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (record) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at",
                (record, holder, expires_at),
            )

        self._transactions.write(record_it)

    def session_open(self, record: str) -> bool:
        now = self._clock()
        found = self._transactions.lookup(lambda tx: tx.one(
            "SELECT 1 FROM console_sessions WHERE record = ? AND expires_at > ?",
            (record, now)))  # fmt: skip
        return found is not None

    def end_session(self, record: str) -> None:
        self._transactions.write(
            lambda tx: tx.execute("DELETE FROM console_sessions WHERE record = ?", (record,))
        )

    def end_every_session(self) -> int:
        return self._transactions.write(
            lambda tx: tx.execute("DELETE FROM console_sessions").rowcount
        )
