"""Log lines rate-limited per cause, so no client can flood the operator's log.

One misbehaving connection can trigger the same condition thousands of times a second
(a slow reader, a failing query); each cause gets at most ``burst`` lines per
``interval`` and then one line saying how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class _Window:
    __slots__ = ("lines", "start", "suppressed")

    def __init__(self, start: float) -> None:
        self.start = start
        self.lines = 0
        self.suppressed = 0


class LogLimiter:
    """``limiter.log(logging.INFO, "cause", "message %d", arg)``: at most ``burst`` lines
    of one cause per ``interval`` seconds. Causes are a fixed set of names chosen by the
    caller (never client data), so the table stays small."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 5,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self._windows: dict[str, _Window] = {}

    def log(self, level: int, cause: str, message: str, *args: Any, **kwargs: Any) -> None:
        now = self.clock()
        window = self._windows.get(cause)
        if window is None or now - window.start >= self.interval:
            if window is not None and window.suppressed:
                self.logger.log(
                    level,
                    "%s: suppressed %d similar lines in %gs",
                    cause,
                    window.suppressed,
                    self.interval,
                )
            window = self._windows[cause] = _Window(now)
        if window.lines < self.burst:
            window.lines += 1
            self.logger.log(level, message, *args, **kwargs)
            return
        if not window.suppressed:
            left = self.interval - (now - window.start)
            self.logger.log(level, "%s: similar lines suppressed for %.0fs", cause, left)
        window.suppressed += 1
