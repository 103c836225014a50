"""``Rounds``: many members' turns on a few shared threads, asked for or when their wait ends."""

from __future__ import annotations

import threading
import time

from app.sync.rounds import Rounds
from tests.waiting import wait_until


class Counting:
    """A member that counts its turns; each turn waits for ``gate`` once it has begun."""

    def __init__(self, delay: float = 3600.0) -> None:
        self.delay = delay
        self.turns, self.at_once, self._in = 0, 0, 0
        self._lock = threading.Lock()
        self.entered, self.gate = threading.Event(), threading.Event()
        self.gate.set()

    def turn(self) -> float:
        with self._lock:
            self._in += 1
            self.at_once = max(self.at_once, self._in)
        self.entered.set()
        self.gate.wait(10)
        with self._lock:
            self._in -= 1
            self.turns += 1
        return self.delay


def test_a_member_runs_when_asked_and_not_before() -> None:
    rounds = Rounds(2, "test")
    rounds.start()
    member = Counting()
    try:
        time.sleep(0.05)
        assert member.turns == 0
        rounds.ask(member)
        wait_until(lambda: member.turns == 1, 10)
        time.sleep(0.05)
        assert member.turns == 1  # its wait is an hour
    finally:
        rounds.stop()


def test_a_member_runs_again_when_its_wait_ends() -> None:
    rounds = Rounds(1, "test")
    rounds.start()
    member = Counting(delay=0.05)
    try:
        rounds.ask(member)
        wait_until(lambda: member.turns >= 4, 10)
    finally:
        rounds.stop()


def test_asked_while_running_it_runs_once_more_never_twice_at_once() -> None:
    rounds = Rounds(4, "test")
    rounds.start()
    member = Counting()
    member.gate.clear()
    try:
        rounds.ask(member)
        assert member.entered.wait(10)
        for _ in range(10):
            rounds.ask(member)
        time.sleep(0.1)  # room for a wrong second turn to begin beside the held one
        assert member.at_once == 1
        member.gate.set()
        wait_until(lambda: member.turns == 2, 10)
        time.sleep(0.1)
        assert member.turns == 2 and member.at_once == 1
    finally:
        rounds.stop()


def test_a_thousand_members_share_two_threads() -> None:
    rounds = Rounds(2, "test")
    rounds.start()
    members = [Counting() for _ in range(1000)]
    try:
        before = threading.active_count()
        for member in members:
            rounds.ask(member)
        wait_until(lambda: all(m.turns == 1 for m in members), 30)
        assert threading.active_count() == before
    finally:
        rounds.stop()


def test_a_crashing_turn_ends_neither_the_rounds_nor_the_others() -> None:
    class Crashing:
        def turn(self) -> float:
            raise RuntimeError("a bug")

    rounds = Rounds(1, "test")
    rounds.start()
    member = Counting()
    try:
        rounds.ask(Crashing())
        rounds.ask(member)
        wait_until(lambda: member.turns == 1, 10)
    finally:
        rounds.stop()


def test_stop_ends_the_threads() -> None:
    rounds = Rounds(2, "test")
    rounds.start()
    rounds.ask(Counting(delay=0.01))
    rounds.stop(5)
    assert not any(t.is_alive() for t in rounds._threads)
