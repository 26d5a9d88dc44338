"""Society definitions on relays (NIP-72 kind 34550): publish, find, discover, expand.

A society *is* its tag, ``mas-<slug>``; a definition only describes it, and several
people may publish one for the same slug: :func:`pick_definition` chooses the only one,
else the reader's own, and otherwise asks the reader to choose (``--by``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from shieldmutual.client import aid
from shieldmutual.client.cli.fmt import short_npub
from shieldmutual.client.errors import ClientError, NotFoundError
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import MUTUAL_AID, Address
from shieldmutual.shared.aid.society import Society, society_event_template, society_slugs
from shieldmutual.shared.aid.thread import current_versions
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

# A member society as given: its definition's address, or a bare slug to look up.
Member = Address | str


def pick_definition(
    records: list[aid.SocietyRecord], slug: str, me: str | None = None
) -> aid.SocietyRecord:
    """The one definition to use: the only one, else mine; several others need --by."""
    if not records:
        raise NotFoundError(
            f"no relay holds a definition of mas-{slug}; pass its naddr or 34550:<pubkey>:{slug}"
        )
    mine = [r for r in records if r.event.pubkey == me]
    if len(records) == 1 or mine:
        return (mine or records)[0]
    authors = ", ".join(short_npub(r.event.pubkey) for r in records)
    raise ClientError(f"mas-{slug} is described by several people ({authors}): choose with --by")


async def _member_address(pool: Pool, member: Member, me: str) -> Address:
    if isinstance(member, Address):
        return member
    record = pick_definition(await aid.fetch_societies(pool, [member]), member, me)
    return record.society.address(record.event.pubkey)


async def publish_definition(
    connect: Callable[[], Pool], secret: SecretKey, society: Society, members: Sequence[Member]
) -> tuple[Society, PublishReport]:
    """Publish ``society`` under ``secret``, with ``members`` (a syndicate) resolved to
    their definitions' addresses first; the society as published, and the report."""
    async with connect() as pool:
        found = [await _member_address(pool, m, secret.public_hex) for m in members]
        published = replace(society, members=tuple(found)) if found else society
        return published, await aid.publish(pool, secret, society_event_template(published))


async def definitions(
    connect: Callable[[], Pool], slug: str, authors: Sequence[str] = ()
) -> list[aid.SocietyRecord]:
    """Every published definition of ``mas-<slug>`` (only ``authors``' when given)."""
    async with connect() as pool:
        return await aid.fetch_societies(pool, [slug], authors)


@dataclass(frozen=True, slots=True)
class Discovered:
    """Published definitions, and how many recent requests carry each society's tag."""

    records: list[aid.SocietyRecord]
    requests: Counter[str]


async def discover(connect: Callable[[], Pool], limit: int) -> Discovered:
    """Societies on the relays: their definitions and the tags of the ``limit`` most
    recent requests, asked at once."""
    recent = Filter(
        kinds=frozenset({kinds.CLASSIFIED}), tags={"t": frozenset({MUTUAL_AID})}, limit=limit
    )
    async with connect() as pool:
        records, requests = await asyncio.gather(aid.fetch_societies(pool), pool.fetch([recent]))
    counts = Counter(s for e in current_versions(requests) for s in society_slugs(e.tags))
    return Discovered(records, counts)


async def syndicate_members(
    connect: Callable[[], Pool], slugs: Sequence[str], authors: Sequence[str] = ()
) -> dict[str, list[str]]:
    """For each slug, the slugs of the member societies its definition lists."""
    async with connect() as pool:
        found = {slug: await aid.fetch_societies(pool, [slug], authors) for slug in slugs}
    return {
        slug: [m.identifier for m in pick_definition(records, slug).society.members]
        for slug, records in found.items()
    }
