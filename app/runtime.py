"""What the lifespan builds and the routes use, and how it is started and stopped."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.dropbox.client import DropboxClient, RetryPolicy
from app.metrics import Metrics
from app.settings import Settings
from app.sync.catch_up import CatchUp
from app.sync.worker import SyncWorker
from state.sqlite import SqliteStore
from state.store import Store
from webhooks.inbox import Inbox


@dataclass
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    dropbox: DropboxClient
    sync: SyncWorker
    webhooks: Inbox

    @classmethod
    def build(cls, settings: Settings, retry: RetryPolicy | None = None) -> Services:
        store = SqliteStore(settings.database_path)
        metrics = Metrics()
        metrics.watch_catalog(store.status)
        stop = threading.Event()
        dropbox = DropboxClient(settings, metrics, retry, stop)
        catch_up = CatchUp(settings, store, dropbox, metrics)
        sync = SyncWorker(settings, store, dropbox, catch_up, metrics, stop)
        webhooks = Inbox(sync.request, lambda: store.get_meta("account_id"))
        return cls(settings, store, metrics, dropbox, sync, webhooks)

    async def start(self) -> None:
        await self.sync.start()

    async def stop(self) -> None:
        await self.sync.stop()
        self.dropbox.close()
        self.store.close()

    def unready_reason(self) -> str | None:
        """Why the catalog cannot be trusted now, or None when it can."""
        problem = self.sync.health.problem()
        if self.store.sync_state().ready_at is None:
            waiting = "the first catch-up has not completed"
            return f"{waiting}; {problem}" if problem else waiting
        return problem
