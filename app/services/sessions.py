"""The store's record of open console sessions, asked in the store lane.

A console session's cookie names its record (``app.console.session``); the record is what
keeps the session open, so that signing out, on any replica, ends it at once.
"""

from __future__ import annotations

from app.lanes import Lanes
from state.store import ConsoleSessions


class SessionRecords:
    def __init__(self, sessions: ConsoleSessions, lanes: Lanes) -> None:
        self._sessions, self._lanes = sessions, lanes

    async def open(self, record: str, holder: str, expires_at: float) -> None:
        """Record a session just signed in (and forget those that have expired)."""
        await self._lanes.store.run(self._sessions.open_session, record, holder, expires_at)

    async def is_open(self, record: str) -> bool:
        return await self._lanes.store.run(self._sessions.session_open, record)

    async def end(self, record: str) -> None:
        await self._lanes.store.run(self._sessions.end_session, record)

    async def end_every(self) -> int:
        """Sign everyone out; how many sessions ended."""
        return await self._lanes.store.run(self._sessions.end_every_session)
