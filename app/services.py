"""What the lifespan builds and the routes use: settings, store, and their state."""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Settings
from state.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store

    def unready_reason(self) -> str | None:
        """Why the catalog cannot be trusted yet, or None when it can."""
        if self.store.sync_state().ready_at is None:
            return "the first catch-up has not completed"
        return None
