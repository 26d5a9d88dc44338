"""Per-connection rate limits: token buckets for messages and for store time.

Both refill continuously; ``rate`` 0 turns a bucket off (it never runs dry). The time
bucket is charged after the fact with the seconds each statement really took (the store
reports them through its ``cost`` callback), so a client whose queries are expensive
runs out after ``burst`` seconds of work however few REQs that took.
"""

from __future__ import annotations

import time


class Bucket:
    """A token bucket: ``rate`` tokens a second up to ``burst``; rate 0 never runs dry."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> bool:
        if not self.rate:
            return True
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class TimeBucket(Bucket):
    """Seconds of store time: charged with what each statement cost, possibly into
    debt, and open for new queries while anything is left."""

    __slots__ = ()

    def __init__(self, rate: float, burst: float) -> None:
        super().__init__(rate, burst)
        self.burst = float(burst)
        self.tokens = self.burst

    def charge(self, seconds: float) -> None:
        if self.rate:
            self._refill()
            self.tokens -= seconds

    def open(self) -> bool:
        if not self.rate:
            return True
        self._refill()
        return self.tokens > 0.0
