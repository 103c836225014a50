"""The heap of a process that is the service and nothing else, settled once it has started.

What starting leaves alive (modules, classes, the app and its routes, the store, each
channel's pool: some 170,000 objects the cycle collector tracks) lives as
long as the process. Python's collection of its oldest generation scans every one of
them: measured at 75-98 ms, during which no request is answered, ten times in 25 s of
``/select`` from 16 connections, and those pauses were the p99 of every route.
``settle`` collects what starting left behind, then freezes the survivors
(``gc.freeze``): no collection scans them again, and a full one takes about a
millisecond. Nothing frozen is ever collected, so only a process that is the service
alone settles its heap (``serve``): an app made inside another program (the demo, a
test, an embedding) leaves that program's heap alone.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> None:
    """Collect the garbage of starting, then freeze what is left alive (logged)."""
    began = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap settled: %d objects frozen out of collection", frozen,
        extra={
            "event": "heap_settled",
            "frozen": frozen,
            "ms": round((time.perf_counter() - began) * 1000, 1),
        },
    )  # fmt: skip
