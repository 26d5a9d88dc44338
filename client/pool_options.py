"""The pool's settings, in a module of their own: the pool, its relay connections and its
subscriptions all read them, and none of them should import another just for this."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Timeouts in seconds. ``resume_slack`` covers clock skew and silent connection death.

    ``eose_grace``: once a relay has sent EOSE, the others get at most
    ``max(eose_grace, 2 x the slowest EOSE so far)`` more before the subscription's EOSE,
    so one silent relay never stalls a command. ``queue_limit``: events a subscription
    holds for a slow reader before the relay's socket stops being read (backpressure, so
    a flood costs bounded memory). ``offload_after``: events a subscription delivers,
    checking their signatures itself, before it hands the checks to a worker process
    (client/verifier.py; None: never), so only long reads such as a feed pay for starting
    one. ``proxy``: ``socks5h://HOST:PORT`` carries every
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
    offload_after: int | None = 2000
    ping_interval: float | None = 20.0
    max_message_size: int = 4 * 2**20
    proxy: str | None = None
