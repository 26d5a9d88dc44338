"""What the request commands do with relays, without a screen: publish a request, read
one with its thread (and, for its author, the private pledges), relay it into societies.

The CLI (client/cli/request.py) parses options, opens the pools and shows the results;
these take a pool and typed values, so tests call them against a relay directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shieldmutual.client import champions
from shieldmutual.client.aid import (
    RequestPointer,
    RequestRecord,
    fetch_request,
    load_request,
    private_pledges,
    publish,
)
from shieldmutual.client.names import NO_NAMES, Names, lookup
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared.aid.notes import Syndication, syndication_template
from shieldmutual.shared.aid.thread import Thread, thread_of
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey


async def publish_request(
    pool: Pool, request: Event, announcement: Event | None, min_acks: int = 1
) -> tuple[PublishReport, PublishReport | None]:
    """The request everywhere, then its announcement note (if any) once the request has
    ``min_acks``: a note pointing at a request no relay holds would be a dead link."""
    report = await pool.publish(request)
    if announcement is None or not report.ok(min_acks):
        return report, None
    return report, await pool.publish(announcement)


def people_shown(found: RequestRecord, thread: Thread) -> set[str]:
    """Whose names `request show` shows: the author, public pledgers, the member a
    champion speaks for, and who relayed it."""
    origins = [p.origin for p in thread.pledges] + [s.origin for s in thread.syndications]
    shown = {found.event.pubkey, *(o.pubkey for o in origins if o is not None)}
    return shown | ({thread.champion.member} if thread.champion.member else set())


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as `request show` shows it: its thread and the names of those in it."""

    found: RequestRecord
    thread: Thread
    names: Names


async def read_request(pool: Pool, pointer: RequestPointer, names: Names = NO_NAMES) -> RequestView:
    """The request, its public thread, and public names only (private pledgers are never
    looked up: that would name them to the relays)."""
    found, thread = await load_request(pool, pointer)
    return RequestView(found, thread, await lookup(pool, names, people_shown(found, thread)))


async def with_private_pledges(pool: Pool, me: SecretKey, view: RequestView) -> RequestView:
    """``view`` counting the private pledges wrapped to ``me`` (its author), read from
    ``pool``, which authenticates as ``me``. RelayError when no relay answered."""
    opened = await champions.inbox(pool, me)
    rumors = private_pledges(opened, view.found.address)
    found = view.found
    return replace(view, thread=thread_of(found.request, found.address, view.thread.events, rumors))


@dataclass(frozen=True, slots=True)
class Syndicated:
    """A relayed request: the original, the repost's report, and the targets that
    already held it (relayed anyway: the repost is harmless and says who relayed it)."""

    found: RequestRecord
    report: PublishReport
    already: tuple[str, ...]


async def syndicate(
    pool: Pool, secret: SecretKey, pointer: RequestPointer, targets: Sequence[str]
) -> Syndicated:
    """Relay the request into the societies ``targets`` (slugs) with a NIP-18 repost
    carrying the exact signed request."""
    found = await fetch_request(pool, pointer)
    already = tuple(t for t in targets if t in found.request.societies)
    hint = found.relays[0] if found.relays else ""
    template = syndication_template(Syndication.of(found.event, tuple(targets), hint))
    return Syndicated(found, await publish(pool, secret, template), already)
