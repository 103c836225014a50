"""``Serial``: each library's jobs one at a time and in order, on threads all of them share."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.sync.serial import Serial


def test_jobs_run_in_order_one_at_a_time() -> None:
    running, ran, overlaps = [0], [], []
    lock = threading.Lock()

    def job(n: int) -> int:
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.001)
        with lock:
            running[0] -= 1
            ran.append(n)
        return n * n

    with ThreadPoolExecutor(4) as pool:
        serial = Serial(pool)
        futures = [serial.submit(job, n) for n in range(50)]
        assert [f.result(10) for f in futures] == [n * n for n in range(50)]
    assert ran == list(range(50)) and max(overlaps) == 1


def test_two_queues_run_side_by_side_on_the_shared_pool() -> None:
    both_in = threading.Barrier(2, timeout=10)
    with ThreadPoolExecutor(2) as pool:
        first, second = Serial(pool), Serial(pool)
        futures = [first.submit(both_in.wait), second.submit(both_in.wait)]
        for future in futures:
            future.result(10)  # each waited for the other: they ran at once


def test_an_error_reaches_its_caller_and_the_next_job_still_runs() -> None:
    def fail() -> None:
        raise ValueError("this job failed")

    with ThreadPoolExecutor(1) as pool:
        serial = Serial(pool)
        failed, after = serial.submit(fail), serial.submit(lambda: "after")
        with pytest.raises(ValueError, match="this job failed"):
            failed.result(10)
        assert after.result(10) == "after"


def test_an_idle_queue_holds_no_thread() -> None:
    """A thousand libraries with nothing to do leave the pool's threads free."""
    with ThreadPoolExecutor(1) as pool:
        queues = [Serial(pool) for _ in range(1000)]
        assert [queue.submit(lambda n=n: n).result(10) for n, queue in enumerate(queues)] == list(
            range(1000)
        )
        assert pool.submit(lambda: "free").result(10) == "free"
