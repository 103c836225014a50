"""Fault injection and call counters, per route.

A route is named as in Dropbox's URL without ``/2/``: ``files/list_folder/continue``,
``files/download``, ``oauth2/token``; temporary links are ``temp_link``. ``"*"`` matches
every route. Each fault fires ``times`` times (``None``: on every call) and then disarms.
Faults are consulted in the order rate limit, server error, dropped connection; a delay,
then a hold (the call waits until the test releases it), apply before any of them.

Counters also track calls in flight (from arrival to the end of the answer) per route and
for :data:`LISTING`, the ``list_folder`` and ``list_folder/continue`` calls together,
keeping the most seen at once: how a test sees that a client ran two catch-ups of one
account at the same time.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

DROPPED = 0  # the "status" counted for a call whose connection was dropped
LISTING = "files/list_folder*"  # list_folder and list_folder/continue, counted together
_GROUPS = {"files/list_folder": LISTING, "files/list_folder/continue": LISTING}


class Hold:
    """Calls caught by ``faults.hold(...)`` wait until ``release()`` (or the server stops)."""

    def __init__(self) -> None:
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()


@dataclass
class _Fault:
    kind: str  # "rate_limit", "server_error", "drop", "delay", "hold"
    route: str
    times: int | None
    value: float = 0.0  # retry_after, status or delay seconds
    gate: Hold | None = None  # for "hold"

    def matches(self, route: str) -> bool:
        return self.route in ("*", route) and (self.times is None or self.times > 0)


@dataclass(frozen=True)
class Injected:
    """What to do to one call: ``kind`` is rate_limit, server_error or drop."""

    kind: str
    value: float


class Faults:
    """The armed faults. Thread-safe; the server asks once per call."""

    def __init__(self) -> None:
        self._faults: list[_Fault] = []
        self._reset_next = False
        self._lock = threading.Lock()

    def rate_limit(self, route: str, retry_after: int = 2, times: int | None = 1) -> None:
        """429 with ``Retry-After`` and a ``too_many_requests`` body."""
        self._arm(_Fault("rate_limit", route, times, retry_after))

    def server_error(self, route: str, status: int = 503, times: int | None = 1) -> None:
        self._arm(_Fault("server_error", route, times, status))

    def delay(self, route: str, seconds: float, times: int | None = None) -> None:
        """Hold each matching call ``seconds`` before answering (``None``: every call)."""
        self._arm(_Fault("delay", route, times, seconds))

    def hold(self, route: str, times: int | None = None) -> Hold:
        """Make matching calls wait, in flight, until the returned ``Hold`` is released."""
        gate = Hold()
        self._arm(_Fault("hold", route, times, gate=gate))
        return gate

    def drop_connection(self, route: str, times: int | None = 1) -> None:
        """Start a response and close the connection before its declared length."""
        self._arm(_Fault("drop", route, times))

    def reset_next_continue(self) -> None:
        """The next ``list_folder/continue`` answers 409 ``reset``."""
        with self._lock:
            self._reset_next = True

    def clear(self) -> None:
        """Disarm everything, releasing held calls."""
        with self._lock:
            for fault in self._faults:
                if fault.gate is not None:
                    fault.gate.release()
            self._faults.clear()
            self._reset_next = False

    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_delay(self, route: str) -> float:
        return sum(f.value for f in self._take(route, ("delay",)))

    def take_holds(self, route: str) -> list[Hold]:
        return [f.gate for f in self._take(route, ("hold",)) if f.gate is not None]

    def take_failure(self, route: str) -> Injected | None:
        for kind in ("rate_limit", "server_error", "drop"):
            taken = self._take(route, (kind,), first_only=True)
            if taken:
                return Injected(kind, taken[0].value)
        return None

    def take_reset(self) -> bool:
        with self._lock:
            armed, self._reset_next = self._reset_next, False
            return armed

    def _take(self, route: str, kinds: tuple[str, ...], first_only: bool = False) -> list[_Fault]:
        taken: list[_Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(route):
                    if fault.times is not None:
                        fault.times -= 1
                    taken.append(fault)
                    if first_only:
                        break
            self._faults = [f for f in self._faults if f.times is None or f.times > 0]
        return taken


class Counters:
    """Calls per route and status, response body bytes per route, and calls in flight."""

    def __init__(self) -> None:
        self._calls: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._bytes: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    def started(self, route: str) -> None:
        with self._lock:
            for name in _tracked(route):
                self._in_flight[name] += 1
                self._max_in_flight[name] = max(self._max_in_flight[name], self._in_flight[name])

    def finished(self, route: str) -> None:
        with self._lock:
            for name in _tracked(route):
                self._in_flight[name] -= 1

    def in_flight(self, route: str) -> int:
        """Calls to ``route`` (or :data:`LISTING`) being answered right now."""
        with self._lock:
            return self._in_flight[route]

    def max_in_flight(self, route: str) -> int:
        """The most calls to ``route`` (or :data:`LISTING`) answered at once since the last
        reset: above 1 for ``LISTING`` means two listings of the account overlapped."""
        with self._lock:
            return self._max_in_flight[route]

    def reset_max_in_flight(self) -> None:
        """Forget the maxima; calls still in flight count again from now."""
        with self._lock:
            self._max_in_flight = Counter(self._in_flight)

    def record_call(self, route: str, status: int) -> None:
        with self._lock:
            self._calls[route][status] += 1

    def record_bytes(self, route: str, count: int) -> None:
        with self._lock:
            self._bytes[route] += count

    def calls(self, route: str, status: int | None = None) -> int:
        """Calls to ``route`` (answered with ``status``, if given)."""
        with self._lock:
            by_status = self._calls.get(route, Counter())
            return by_status[status] if status is not None else sum(by_status.values())

    def bytes_served(self, route: str) -> int:
        with self._lock:
            return self._bytes[route]

    def snapshot(self) -> dict[str, dict[int, int]]:
        with self._lock:
            return {route: dict(by_status) for route, by_status in self._calls.items()}

    def reset(self) -> None:
        """Clear calls and bytes, and the in-flight maxima (calls in flight stay counted)."""
        with self._lock:
            self._calls.clear()
            self._bytes.clear()
            self._max_in_flight = Counter(self._in_flight)


def _tracked(route: str) -> tuple[str, ...]:
    group = _GROUPS.get(route)
    return (route, group) if group else (route,)
