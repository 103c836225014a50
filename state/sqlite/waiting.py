"""Pictures waiting for their fingerprint, in SQLite: the waits end into this store's
queues (``state.sql.waiting`` says when), and whether any has run out.

The background step that ends overdue waits asks every second whether any has run out
(``overdue_any``, on a reader) and takes the writer only when one has.
"""

from __future__ import annotations

from state.sql.waiting import Waits
from state.sqlite.queue import QUEUE

WAITS = Waits(QUEUE)
fingerprinted, overdue, overdue_any = WAITS.fingerprinted, WAITS.overdue, WAITS.overdue_any
