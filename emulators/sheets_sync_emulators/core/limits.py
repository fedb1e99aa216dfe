"""Server-side rate limiters the emulators enforce (the vendors' documented policies).

* :class:`SlidingWindow`: at most ``limit`` requests in any ``window`` seconds (amoCRM: 7 per
  second; HubSpot Free/Starter: 100 per 10 seconds, ``TEN_SECONDLY_ROLLING``).
* :class:`LeakyBucket`: a bucket of ``capacity`` that drains ``rate`` per second; a request that
  would overflow it is refused (Bitrix24: 50, draining 2 per second).
* :class:`OperationBudget`: seconds of work per method within a window (Bitrix24: 480 s per
  method per 10 minutes, then ``OPERATION_TIME_LIMIT``).

Google Sheets' per-minute read and write quotas are a :class:`SlidingWindow` per caller.

All take the time as an argument: a service passes its own ``clock`` (:mod:`.clock`), which a
test sets to a :class:`~.clock.ManualClock` shared with the client, so the vendors' real
windows (7 per second, 100 per 10 s, 480 s per 10 minutes, 60 per minute) play out in virtual
time: every wait advances the clock instead of sleeping, and no outcome depends on how fast
the machine is.

Boundary: a request counted at ``t`` leaves a sliding window at ``t + window`` exactly (at that
instant a new request is allowed again).
"""

from __future__ import annotations

import threading
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window: float, enabled: bool = True) -> None:
        self.limit, self.window, self.enabled = limit, window, enabled
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def configure(self, limit: int | None = None, window: float | None = None,
                  enabled: bool | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if window is not None:
                self.window = window
            if enabled is not None:
                self.enabled = enabled
            self._hits.clear()

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def hit(self, now: float) -> bool:
        """Count a request at ``now``; False if it exceeds the limit (it is not counted then)."""
        if not self.enabled:
            return True
        with self._lock:
            while self._hits and self._hits[0] <= now - self.window:
                self._hits.popleft()
            if len(self._hits) >= self.limit:
                return False
            self._hits.append(now)
            return True

    def remaining(self, now: float) -> int:
        with self._lock:
            return max(0, self.limit - sum(1 for t in self._hits if t > now - self.window))


class LeakyBucket:
    def __init__(self, capacity: int, rate: float, enabled: bool = True) -> None:
        self.capacity, self.rate, self.enabled = capacity, rate, enabled
        self._level = 0.0
        self._at: float | None = None
        self._lock = threading.Lock()

    def configure(self, capacity: int | None = None, rate: float | None = None,
                  enabled: bool | None = None) -> None:
        with self._lock:
            if capacity is not None:
                self.capacity = capacity
            if rate is not None:
                self.rate = rate
            if enabled is not None:
                self.enabled = enabled
            self._level, self._at = 0.0, None

    def reset(self) -> None:
        with self._lock:
            self._level, self._at = 0.0, None

    def hit(self, now: float) -> bool:
        if not self.enabled:
            return True
        with self._lock:
            if self._at is not None:
                self._level = max(0.0, self._level - (now - self._at) * self.rate)
            self._at = now
            # a small tolerance for float drift: a bucket drained to 0.9999 is not full
            if self._level + 1 > self.capacity + 1e-6:
                return False
            self._level += 1
            return True


class OperationBudget:
    def __init__(self, budget: float = 480.0, window: float = 600.0,
                 enabled: bool = True) -> None:
        self.budget, self.window, self.enabled = budget, window, enabled
        self._used: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def configure(self, budget: float | None = None, window: float | None = None,
                  enabled: bool | None = None) -> None:
        with self._lock:
            if budget is not None:
                self.budget = budget
            if window is not None:
                self.window = window
            if enabled is not None:
                self.enabled = enabled
            self._used.clear()

    def reset(self) -> None:
        with self._lock:
            self._used.clear()

    def used(self, method: str, now: float) -> float:
        with self._lock:
            spans = self._used.setdefault(method, deque())
            while spans and spans[0][0] <= now - self.window:
                spans.popleft()
            return sum(cost for _, cost in spans)

    def blocked(self, method: str, now: float) -> bool:
        return self.enabled and self.used(method, now) >= self.budget

    def spend(self, method: str, now: float, seconds: float) -> None:
        with self._lock:
            self._used.setdefault(method, deque()).append((now, seconds))

    def reset_at(self, method: str, now: float) -> float:
        with self._lock:
            spans = self._used.get(method)
            return (spans[0][0] + self.window) if spans else now
