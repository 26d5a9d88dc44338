"""Sending private traffic so that a relay cannot link its pieces by when or how it came.

A relay (or whoever seizes or watches it) sees each event arrive, on which connection,
and at what moment. Gift wraps hide sender and content, but three wraps arriving in one
burst, or down one socket, tell it "these three recipients share a correspondent": the
co-champions of one member, or a DM and its self-copy (which names the sender, so the
pair also gives the direction). So every private item here:

* goes on a connection of its own (``connect()`` makes a fresh pool whose AUTH, if a
  relay asks, is a throwaway key), which also asks for that one recipient's DM relays
  (kind 10050) when needed, so no connection ever names two of the people involved;
* waits its own independent random delay first, so the arrival order and spacing of a
  batch is noise rather than a signature.

The delay range defaults to :data:`DEFAULT_DELAY` (5 s to 2 min): long enough that the
items of one batch spread among other people's traffic on a busy relay and arrive in a
random order, short enough that a person waits for the command to finish. It is set with
``MAS_PRIVATE_DELAY=LOW:HIGH`` in seconds (tests use a fraction of a second).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shieldmutual.client.errors import ClientError
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import kinds, nip17, nip19
from shieldmutual.shared.errors import EventError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

DEFAULT_DELAY = (5.0, 120.0)
DELAY_ENV = "MAS_PRIVATE_DELAY"
_GRAIN = 1_000_000  # delays drawn from secrets in microseconds

Connect = Callable[[], Pool]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One private item: the event, what it is and for whom (for progress and reports),
    and where else it must go.

    With ``lookup`` the recipient's kind 10050 DM relays are looked up on the item's own
    connection; ``relays`` are extra relays known already.
    """

    event: Event
    what: str
    to: str | None = None  # the recipient's pubkey (hex); None for a public event
    relays: tuple[str, ...] = ()
    lookup: bool = False


def delay_range(value: str | None = None) -> tuple[float, float]:
    """``LOW:HIGH`` seconds from the argument or ``$MAS_PRIVATE_DELAY``, else the default."""
    raw = os.environ.get(DELAY_ENV) if value is None else value
    if not raw:
        return DEFAULT_DELAY
    try:
        low, high = (float(part) for part in raw.split(":"))
    except ValueError:
        raise ClientError(f"{DELAY_ENV} must be LOW:HIGH in seconds, e.g. 5:120") from None
    if not 0 <= low <= high:
        raise ClientError(f"{DELAY_ENV} must be LOW:HIGH with 0 <= LOW <= HIGH")
    return low, high


def random_delay(low: float, high: float) -> float:
    """Uniform in [low, high], from the system's CSPRNG (the order must not be guessable)."""
    return low + (high - low) * secrets.randbelow(_GRAIN + 1) / _GRAIN


async def dm_relays(pool: Pool, pubkey: str) -> list[str]:
    """The relays ``pubkey`` asked to receive DMs on (their newest kind 10050), or []."""
    events = await pool.fetch(
        [Filter(kinds=frozenset({kinds.DM_RELAY_LIST}), authors=frozenset({pubkey}), limit=1)]
    )
    for event in events:  # newest first
        try:
            return nip17.parse_dm_relay_list(event)
        except EventError:
            continue
    return []


async def send_one(connect: Connect, item: Outgoing) -> PublishReport:
    """Publish one item on a fresh connection of its own, with its recipient's DM relays."""
    async with connect() as pool:
        extra = list(item.relays)
        if item.lookup and item.to is not None:
            extra += await dm_relays(pool, item.to)
        return await pool.publish(item.event, [*pool.relays, *extra])  # de-duplicated there


def announce(count: int, delays: tuple[float, float]) -> str:
    """What the user is told before the wait: why the command does not return at once."""
    low, high = delays
    return (
        f"sending {count} private message(s) apart, each on its own connection after a "
        f"random {low:g}-{high:g} s delay (so a relay cannot link them)…"
    )


def describe(item: Outgoing, report: PublishReport) -> str:
    """One progress line: ``ok  checkin to npub1…: 2/2 relays``."""
    mark = "ok  " if report.ok() else "FAIL"
    to = f" to {nip19.npub_encode(item.to)}" if item.to else ""
    return f"{mark} {item.what}{to}: {report.acks}/{len(report.results)} relays"


async def send_apart(
    connect: Connect,
    items: Sequence[Outgoing],
    progress: Callable[[Outgoing, PublishReport], None] | None = None,
    delays: tuple[float, float] | None = None,
) -> list[PublishReport]:
    """Send every item after its own random delay on its own connection; wait for all.

    Reports come back in the order of ``items``; ``progress`` hears of each as it lands.
    """
    low, high = delays or delay_range()

    async def one(item: Outgoing) -> PublishReport:
        await asyncio.sleep(random_delay(low, high))  # the point: an independent moment
        report = await send_one(connect, item)
        if progress is not None:
            progress(item, report)
        return report

    return list(await asyncio.gather(*(one(item) for item in items)))
