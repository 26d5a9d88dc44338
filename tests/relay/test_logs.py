"""relay/logs.py: log lines capped per cause, then summarized."""

from __future__ import annotations

import logging

from shieldmutual.relay.logs import LogLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_limiter_caps_each_cause_then_summarizes(caplog):
    clock = Clock()
    logger = logging.getLogger("shieldmutual.test.limiter")
    limiter = LogLimiter(logger, burst=3, interval=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=logger.name):
        for i in range(10_000):
            limiter.log(logging.INFO, "too slow", "slow %d", i)
        limiter.log(logging.INFO, "query failed", "other cause")
        clock.now = 61.0
        limiter.log(logging.INFO, "too slow", "slow again")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "slow 0",
        "slow 1",
        "slow 2",
        "too slow: similar lines suppressed for 60s",
        "other cause",
        "too slow: suppressed 9997 similar lines in 60s",
        "slow again",
    ]
