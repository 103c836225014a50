"""The inbox folds bursts into at most two catch-up requests and never drops the last one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from webhooks.inbox import Inbox, Inboxes
from webhooks.notification import Notification

OURS = "dbid:ours"
FOR_US = Notification(frozenset({OURS}), frozenset(), names_accounts=True)
FOR_OTHERS = Notification(frozenset({"dbid:theirs"}), frozenset(), names_accounts=True)


class Recorder:
    """Counts catch-up requests and store reads, as the sync worker and store would see them."""

    def __init__(self, account_id: str | None = OURS) -> None:
        self.requests: list[float] = []
        self.account_id = account_id
        self.reads = 0

    def request(self) -> None:
        self.requests.append(time.monotonic())

    def load(self) -> str | None:
        self.reads += 1
        return self.account_id

    def inbox(self, quiet: float = 0.05, max_delay: float = 0.3) -> Inbox:
        return Inbox(self.request, self.load, quiet=quiet, max_delay=max_delay)


async def settled(inbox: Inbox, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while inbox.holding:
        assert time.monotonic() < deadline, "the held request was never released"
        await asyncio.sleep(0.01)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def test_the_first_notification_asks_at_once() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        inbox = recorder.inbox()
        assert await inbox.receive(FOR_US)
        assert len(recorder.requests) == 1 and not inbox.holding

    run(scenario)


def test_a_burst_costs_two_requests_the_last_after_the_burst() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        # A second of quiet ends the burst: a loaded machine's late millisecond sleeps must
        # not look like a quiet spell, nor stretch the burst past its holding limit.
        inbox = recorder.inbox(quiet=1.0, max_delay=30.0)
        for _ in range(100):
            await inbox.receive(FOR_US)
            await asyncio.sleep(0.001)
        burst_ended = time.monotonic()
        assert len(recorder.requests) == 1 and inbox.holding
        await settled(inbox)
        assert len(recorder.requests) == 2
        assert recorder.requests[1] >= burst_ended

    run(scenario)


def test_a_notification_after_a_quiet_spell_asks_at_once_again() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        inbox = recorder.inbox(quiet=0.05)
        await inbox.receive(FOR_US)
        await asyncio.sleep(0.08)
        await inbox.receive(FOR_US)
        assert len(recorder.requests) == 2 and not inbox.holding

    run(scenario)


def test_an_endless_stream_is_not_held_past_max_delay() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        inbox = recorder.inbox(quiet=0.05, max_delay=0.2)
        started = time.monotonic()
        while time.monotonic() - started < 0.7:
            await inbox.receive(FOR_US)
            await asyncio.sleep(0.01)
        # 1 at once, then one per max_delay while the stream never pauses.
        assert 3 <= len(recorder.requests) <= 5
        await settled(inbox)

    run(scenario)


def test_notifications_for_other_accounts_ask_for_nothing() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        inbox = recorder.inbox()
        assert not await inbox.receive(FOR_OTHERS)
        assert recorder.requests == [] and not inbox.holding

    run(scenario)


def test_until_our_account_is_known_every_notification_counts() -> None:
    async def scenario() -> None:
        recorder = Recorder(account_id=None)
        inbox = recorder.inbox()
        assert await inbox.receive(FOR_OTHERS)
        assert len(recorder.requests) == 1

    run(scenario)


def test_the_account_id_is_asked_each_time_so_a_learnt_or_changed_account_counts() -> None:
    async def scenario() -> None:
        recorder = Recorder(account_id=None)
        inbox = recorder.inbox()
        await inbox.receive(FOR_US)
        recorder.account_id = OURS  # the sync worker has learnt it
        for _ in range(10):
            await inbox.receive(FOR_US)
        assert recorder.reads == 11
        assert not await inbox.receive(FOR_OTHERS)
        recorder.account_id = "dbid:theirs"  # new credentials, of another account
        assert await inbox.receive(FOR_OTHERS)
        await settled(inbox)

    run(scenario)


def _for(*accounts: str) -> Notification:
    return Notification(frozenset(accounts), frozenset(), names_accounts=True)


def test_a_notification_asks_only_the_inboxes_of_the_accounts_it_names() -> None:
    async def scenario() -> None:
        recorders = [Recorder(f"dbid:{n}") for n in range(1000)]
        inboxes = Inboxes([recorder.inbox() for recorder in recorders])
        assert await inboxes.receive(_for("dbid:7", "dbid:500"))
        assert [n for n, r in enumerate(recorders) if r.requests] == [7, 500]
        reads = [r.reads for r in recorders]
        for n in range(10):  # filed once: the others are not asked again
            assert await inboxes.receive(_for(f"dbid:{n}"))
        assert sum(r.reads for r in recorders) - sum(reads) == 10
        assert [n for n, r in enumerate(recorders) if r.requests] == [*range(10), 500]
        assert not await inboxes.receive(_for("dbid:elsewhere"))

    run(scenario)


def test_an_inbox_is_asked_about_every_notification_until_its_account_is_known() -> None:
    async def scenario() -> None:
        learning, known = Recorder(None), Recorder("dbid:known")
        inboxes = Inboxes([learning.inbox(quiet=0), known.inbox(quiet=0)])
        assert await inboxes.receive(_for("dbid:known"))
        assert (len(learning.requests), len(known.requests)) == (1, 1)  # it may be ours
        learning.account_id = "dbid:learnt"
        assert await inboxes.receive(_for("dbid:known"))
        assert (len(learning.requests), len(known.requests)) == (1, 2)
        assert await inboxes.receive(_for("dbid:learnt"))
        assert (len(learning.requests), len(known.requests)) == (2, 2)

    run(scenario)


def test_a_notification_naming_no_account_asks_every_inbox() -> None:
    async def scenario() -> None:
        recorders = [Recorder(f"dbid:{n}") for n in range(3)]
        inboxes = Inboxes([recorder.inbox() for recorder in recorders])
        legacy = Notification(frozenset(), frozenset({5}), names_accounts=False)
        assert await inboxes.receive(legacy)
        assert [len(r.requests) for r in recorders] == [1, 1, 1]

    run(scenario)


def test_two_libraries_of_one_account_are_both_asked() -> None:
    async def scenario() -> None:
        first, second, other = Recorder("dbid:a"), Recorder("dbid:a"), Recorder("dbid:b")
        inboxes = Inboxes([first.inbox(), second.inbox(), other.inbox()])
        assert await inboxes.receive(_for("dbid:a"))
        assert [len(r.requests) for r in (first, second, other)] == [1, 1, 0]
        assert inboxes[1] is not inboxes[0] and len(inboxes) == 3

    run(scenario)
