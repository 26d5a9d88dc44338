"""The pool's settings, in a module of their own: the pool, its relay connections and its
subscriptions all read them, and none of them should import another just for this."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# With one core a worker process cannot run beside the event loop: it would only add work.
OFFLOAD_AFTER = 2000 if _cores() > 1 else None


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Timeouts in seconds. ``resume_slack`` covers clock skew and silent connection death.

    ``eose_grace``: once a relay has sent EOSE, the others get at most
    ``max(eose_grace, 2 x the slowest EOSE so far)`` more before the subscription's EOSE,
    so one silent relay never stalls a command. ``queue_limit``: events a subscription
    holds for a slow reader before the relay's socket stops being read (backpressure, so
    a flood costs bounded memory). ``offload_after``: events a subscription delivers,
    checking their signatures itself, before it hands the checks to a worker process
    (client/verifier.py; None: never, the default on a one-core machine), so only long
    reads such as a feed pay for starting one. ``proxy``: ``socks5h://HOST:PORT`` carries every
    connection (see pool_connect).
    """

    connect_timeout: float = 5.0
    ok_timeout: float = 10.0
    eose_timeout: float = 10.0
    eose_grace: float = 1.0
    backoff_base: float = 0.25
    backoff_max: float = 30.0
    resume_slack: int = 60
    rate_limit_wait: float = 30.0  # keep retrying a "rate-limited:" publish this long
    seen_limit: int = 100_000  # event ids a subscription remembers for de-duplication
    queue_limit: int = 1000
    offload_after: int | None = OFFLOAD_AFTER
    ping_interval: float | None = 20.0
    max_message_size: int = 4 * 2**20
    proxy: str | None = None
