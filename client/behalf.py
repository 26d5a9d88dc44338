"""A champion's actions on the member's published request, over anonymous connections.

`mas champion activate` publishes what client/champions.activation signs; `update`,
`fact`, `status` and `report` edit the version relays hold. Every call takes a maker of
connections (``connect``): the CLI gives fresh pools that answer AUTH with a throwaway
key, so no relay sees the champion next to what E signs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from shieldmutual.client import aid
from shieldmutual.client.champions import published_request
from shieldmutual.client.errors import ChampionError
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.champion import Package
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.event import Event

NOT_YET = "nothing is published for {npub} yet: `mas champion activate {npub}` first"


@dataclass(frozen=True, slots=True)
class Published:
    """The version of the member's request relays hold, with the connection it came from
    (an edit that needs more, the report's thread, asks on the same connection)."""

    record: aid.RequestRecord
    pool: Pool

    async def thread(self) -> Thread:
        return await aid.fetch_thread(self.pool, self.record)


# Signs the new version (or another event under the request); None when nothing changes.
Edit = Callable[[Published], Awaitable[Event | None]]


@dataclass(frozen=True, slots=True)
class Edited:
    """The version edited, and what relays said of the new event (None: nothing changed)."""

    record: aid.RequestRecord
    report: PublishReport | None


async def fetch_published(
    connect: Callable[[], Pool], package: Package
) -> aid.RequestRecord | None:
    """The version relays hold now; None before anyone activated."""
    async with connect() as pool:
        return await published_request(pool, package)


async def publish_in_order(
    connect: Callable[[], Pool], events: Sequence[Event]
) -> list[PublishReport]:
    """Publish ``events`` one after the other (the attestation before the request that
    relies on it), one report each."""
    async with connect() as pool:
        return [await pool.publish(event) for event in events]


async def edit_published(connect: Callable[[], Pool], package: Package, edit: Edit) -> Edited:
    """Fetch the version relays hold, let ``edit`` sign what to publish, and publish it."""
    async with connect() as pool:
        current = await published_request(pool, package)
        if current is None:
            raise ChampionError(NOT_YET.format(npub=nip19.npub_encode(package.member)))
        # Hints name the member's relay only: the champion's would point at them.
        current = replace(current, relays=package.relays[:1])
        event = await edit(Published(current, pool))
        return Edited(current, await pool.publish(event) if event is not None else None)
