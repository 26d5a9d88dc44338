"""NIP-17 private messages on relays: your inbox, and where you receive them (kind 10050).

Sending is client/private_send.py (each wrap apart, over throwaway-AUTH connections);
this module reads, so it is given connections that authenticate as you: relays serve
gift wraps only to the person they are addressed to.
"""

from __future__ import annotations

from collections.abc import Callable

from shieldmutual.client import champions
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.client.private_send import dm_relays
from shieldmutual.shared import kinds, nip17
from shieldmutual.shared.aid.champion import CHECKIN, PACKAGE, RELEASE
from shieldmutual.shared.aid.common import labels
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

# Champion check-ins, hand-overs and stand-downs: `mas champion watch` reads those.
CHAMPION_LABELS = frozenset({PACKAGE, CHECKIN, RELEASE})


async def read_messages(
    connect: Callable[[], Pool],
    me: SecretKey,
    sender: str | None = None,
    champion_traffic: bool = False,
) -> list[nip17.DirectMessage]:
    """The kind 14 messages addressed to ``me`` that open and verify, oldest first; only
    ``sender``'s when given; champion traffic only when asked for."""
    async with connect() as pool:
        opened = await champions.inbox(pool, me)
    out = []
    for item in opened:
        if item.rumor.kind != kinds.DIRECT_MESSAGE:
            continue
        if not champion_traffic and set(labels(item.rumor.tags)) & CHAMPION_LABELS:
            continue
        if sender is not None and item.sender != sender:
            continue
        out.append(nip17.parse_dm(item))
    return out


async def publish_relay_list(connect: Callable[[], Pool], relay_list: Event) -> PublishReport:
    """Publish a kind 10050 (where you want DMs delivered)."""
    async with connect() as pool:
        return await pool.publish(relay_list)


async def relay_list(connect: Callable[[], Pool], pubkey: str) -> list[str]:
    """The relays ``pubkey`` asked to receive DMs on (their newest kind 10050), or []."""
    async with connect() as pool:
        return await dm_relays(pool, pubkey)
