"""`mas sync`: copy what one relay holds and another lacks, for a set of filters.

The client holds none of the events, so it asks each relay for its ids with NIP-77
(client/negsession.py: reconciling against an empty set lists them, 32 bytes an event
instead of the whole event) and compares the two lists here. Only the missing events
are fetched, by id in batches, each checked (id, signature, and that it is what was
asked for: one of the ids, matching a filter) before it is published to the other
side. Nothing is kept locally, so a second run sends nothing (idempotent) and an
interrupted run is finished by running it again (resumable)::

    plan = SyncPlan(a, b, filters, both=True)
    async with Pool([a, b]) as pool:
        for summary in await sync(pool, plan, proxy=None, timeout=10, progress=...):
            summary.to_dict()    # from, to, have, need, received, sent, refused
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldmutual.client.errors import RelayError
from shieldmutual.client.negsession import NegSession
from shieldmutual.client.pool import Pool
from shieldmutual.client.pool_report import Status
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

FETCH_BATCH = 500  # ids in one REQ (a relay's usual page limit)
IN_FLIGHT = 64  # events being published at once

# progress(stage, done, total): "listing URL" (total 0 until known), "copying A -> B".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What to reconcile: ``source`` to ``target``, and back too when ``both``."""

    source: str
    target: str
    filters: Sequence[Filter]
    both: bool = False


@dataclass(slots=True)
class Summary:
    """One direction. ``have``: ids both held already; ``need``: ids the target lacked;
    ``received``: those fetched from the source and verified; ``sent``: accepted by the
    target (``duplicate``: it had them by then); ``gone``: listed but no longer served
    (deleted or expired meanwhile); ``unanswered``: the target did not answer (a run
    later sends them); ``refused``: the target's or our own reasons, counted."""

    source: str
    target: str
    have: int = 0
    need: int = 0
    received: int = 0
    sent: int = 0
    duplicate: int = 0
    gone: int = 0
    unanswered: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    neg_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "have": self.have,
            "need": self.need,
            "received": self.received,
            "sent": self.sent,
            "duplicate": self.duplicate,
            "gone": self.gone,
            "unanswered": self.unanswered,
            "refused": dict(self.refused),
            "reconcile_bytes": self.neg_bytes,
        }


def _quiet(stage: str, done: int, total: int) -> None:
    """No progress shown (``--json``, a pipe, the library)."""


async def list_ids(
    url: str,
    filters: Sequence[Filter],
    *,
    proxy: str | None,
    timeout: float,
    auth: SecretKey | None = None,
    progress: Progress = _quiet,
) -> tuple[set[str], int]:
    """Every id ``url`` holds for any of ``filters``, and the NEG bytes it took."""
    progress(f"listing {url}", 0, 0)
    ids: set[str] = set()
    async with NegSession(url, proxy=proxy, timeout=timeout, auth=auth) as neg:
        for flt in filters:
            ids |= await neg.ids(flt)
            progress(f"listing {url}", len(ids), 0)
    return ids, neg.sent + neg.received


async def sync(
    pool: Pool,
    plan: SyncPlan,
    *,
    proxy: str | None,
    timeout: float,
    progress: Progress = _quiet,
) -> list[Summary]:
    """Reconcile, then copy what is missing; one :class:`Summary` per direction. The
    pool's AUTH key (if any) answers the relays' NIP-42 challenges for NIP-77 too."""
    listed = await asyncio.gather(
        *(
            list_ids(
                url, plan.filters, proxy=proxy, timeout=timeout, auth=pool.auth, progress=progress
            )
            for url in (plan.source, plan.target)
        )
    )
    (source_ids, source_bytes), (target_ids, target_bytes) = listed
    neg_bytes = source_bytes + target_bytes
    directions = [(plan.source, plan.target, source_ids, target_ids)]
    if plan.both:
        directions.append((plan.target, plan.source, target_ids, source_ids))
    summaries = []
    for source, target, theirs, ours in directions:
        summary = Summary(source, target, have=len(theirs & ours), neg_bytes=neg_bytes)
        missing = sorted(theirs - ours)
        summary.need = len(missing)
        await _copy(pool, summary, missing, plan.filters, progress)
        summaries.append(summary)
    return summaries


async def _copy(
    pool: Pool,
    summary: Summary,
    missing: list[str],
    filters: Sequence[Filter],
    progress: Progress,
) -> None:
    stage = f"copying {summary.source} -> {summary.target}"
    done = 0
    progress(stage, done, len(missing))
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def publish(event: Event) -> None:
        nonlocal done
        async with slots:
            report = await pool.publish(event, [summary.target])
        result = report.results[0]
        if result.status is Status.ACCEPTED:
            summary.sent += 1
        elif result.status is Status.DUPLICATE:
            summary.duplicate += 1
        elif result.status in (Status.TIMEOUT, Status.UNREACHABLE):
            summary.unanswered += 1
        else:
            summary.refused[result.message or str(result.status)] += 1
        done += 1
        progress(stage, done, len(missing))

    for start in range(0, len(missing), FETCH_BATCH):
        batch = missing[start : start + FETCH_BATCH]
        asked = set(batch)
        query = Filter(ids=frozenset(batch), limit=len(batch))
        async with pool.subscribe([query], [summary.source]) as sub:
            events = [event async for event in sub]  # signatures checked there
        if sub.stats[summary.source].eose_after is None:
            why = sub.stats[summary.source].message or "no answer"
            raise RelayError(f"{summary.source} did not serve the missing events: {why}")
        wanted = []
        for event in events:
            if event.id in asked and event.id_matches() and any(f.matches(event) for f in filters):
                asked.discard(event.id)
                wanted.append(event)
            else:
                summary.refused["not what was asked for"] += 1
        summary.received += len(wanted)
        summary.gone += len(asked)
        done += len(asked)
        await asyncio.gather(*(publish(event) for event in wanted))


async def sync_between(
    connect: Callable[[], Pool],
    plan: SyncPlan,
    *,
    proxy: str | None,
    timeout: float,
    progress: Progress = _quiet,
) -> list[Summary]:
    """:func:`sync` on a pool of its own (``connect``: the two relays, with AUTH if any)."""
    async with connect() as pool:
        return await sync(pool, plan, proxy=proxy, timeout=timeout, progress=progress)
