"""Pictures waiting for their fingerprint, in PostgreSQL: the waits end into this store's
queues (``state.sql.waiting`` says when, and under which locks).
"""

from __future__ import annotations

from state.postgres.queue import QUEUE
from state.sql.waiting import Waits

WAITS = Waits(QUEUE)
fingerprinted, overdue = WAITS.fingerprinted, WAITS.overdue
