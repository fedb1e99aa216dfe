"""The one clock every emulated service reads: real (``time.monotonic``) or manual.

A clock is any callable returning seconds. Each service has a ``clock`` attribute, which its
limiters and quotas, its request log's ``at`` and its token lifetimes read; a server sets one
clock on every service it hosts (``server.clock = ManualClock()``, or over HTTP
``POST /_emulator/clock``). A :class:`ManualClock` shared with the client under test (its
pacer's clock and sleep) makes the vendors' real windows play out in virtual time: every wait
advances the clock instead of sleeping, and no outcome depends on the machine's speed.

Two things stay on real time on purpose: a ``slow`` fault waits real seconds (a client's socket
timeout is real time), and a ``Retry-After`` HTTP-date is wall-clock time by definition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]

#: the default clock of every service
monotonic: Clock = time.monotonic


class ManualClock:
    """A clock that moves only when told: ``now()`` (or calling it) reads it, ``sleep(s)`` and
    ``advance(s)`` move it forward.

    Thread-safe; shared by the emulators (``server.clock = clock`` or ``app.clock = clock.now``)
    and the client under test (e.g. ``sheets_sync.http.CLOCK = clock.now``, ``SLEEP = clock.sleep``).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    __call__ = now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)


def manual_clock_of(clock: Clock) -> ManualClock | None:
    """The :class:`ManualClock` behind ``clock`` (itself or its bound ``now``), else None."""
    if isinstance(clock, ManualClock):
        return clock
    owner = getattr(clock, "__self__", None)
    return owner if isinstance(owner, ManualClock) else None
