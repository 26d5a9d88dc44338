"""`mas feed`: the requests of every followed society, from every relay, live.

Followed societies come from local state (client/state.py); the relays only see a
query for some hashtags. Requests arrive once each (several relays, reposts and
edits are merged by shared/aid/feed.py), syndicated reposts are resolved to the
request they carry, and the language / place / status filters apply to what is shown.
Offers of help (shared/aid/offer.py) come with the same query and are shown beside the
requests, marked as offers (``--offers`` / ``--requests`` to see only one kind).

People get a live Rich table; with ``--json`` each request is one JSON line, flushed
(the stored ones once they are all in, then each new one as it arrives), so a pipe or a
file sees it at once. Every view shows each request's progress and champion check from
its thread, sorted out of one query about every request (:class:`ThreadBatches`),
refreshed now and then for the live table: what is asked never depends on which rows
are shown, nor on what you follow or whom you know. ``--bell`` rings the terminal bell
for requests this device has never shown before, and ``--notify`` tells a hook, an
inbox or the desktop of each (client/notify.py: requests only, not their edits, bounded).
``--once`` stops after the stored requests (scripts, tests, cron) and ``--timeout S``
after S seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.live import Live

from shieldmutual.client.cli import aidrender, common, contacts, feedrender, offerrender
from shieldmutual.client.cli.export import thread_dicts
from shieldmutual.client.cli.filteropts import (
    LanguageFilterOpt,
    PlaceFilterOpt,
    SocietyFilterOpt,
    StatusFilterOpt,
)
from shieldmutual.client.cli.society import parse_slug
from shieldmutual.client.errors import RelayError
from shieldmutual.client.feed import FeedReader
from shieldmutual.client.feedthreads import ThreadBatches, answered, follow
from shieldmutual.client.handles import Handle
from shieldmutual.client.notify import Notifier, RequestNotices
from shieldmutual.client.pool import Pool, Subscription
from shieldmutual.client.state import LocalState
from shieldmutual.client.timeparse import parse_time
from shieldmutual.shared.aid.common import Address, check_geohash, check_language
from shieldmutual.shared.aid.export import request_dict
from shieldmutual.shared.aid.feed import ITEM_TYPES, REQUEST, Feed, FeedFilter, FeedItem
from shieldmutual.shared.aid.offer import OFFER, Offer, offer_dict
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.society import mas_tag
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.errors import AidError, InvalidError

app = typer.Typer()

MAX_ROWS = 40
REFRESH = 60.0  # seconds between progress refreshes of the live table's rows


def feed_filter(
    language: str | None, place: str | None, statuses: Sequence[str] | None
) -> FeedFilter:
    """The filter from flags, each value checked (exit 2 with a one-line message)."""
    try:
        wanted = frozenset(Status(s.strip().lower()) for s in statuses or ())
    except ValueError:
        raise AidError(f"--status must be open, funded or closed, got {statuses}") from None
    return FeedFilter(
        language=check_language(language.strip().lower()) if language else None,
        place=check_geohash(place.strip().lower()) if place else None,
        statuses=wanted,
    )


def feed_tags(state: common.State, societies: Sequence[str] | None) -> list[str]:
    """``--society`` tags, else the followed ones (with syndicate members)."""
    if societies:
        return [mas_tag(parse_slug(s)) for s in societies]
    tags = LocalState.load(state.home).follow_tags()
    if not tags:
        raise InvalidError("not following any society: `mas follow mas-<slug>` or --society")
    return tags


def item_naddr(item: FeedItem, relays: Sequence[str]) -> str:
    return item.address.naddr(tuple(relays[:2]))


def listed(item: FeedItem, relays: Sequence[str]) -> tuple[Address, str, list[str]]:
    """What the handle store remembers of a listed row: address, title and the relay
    hints its naddr carries."""
    return item.address, item.request.title, list(relays[:2])


def item_dict(
    item: FeedItem, naddr: str, new: bool | None = None, thread: Thread | None = None
) -> dict[str, Any]:
    """One feed or list line: the request's fields, its progress and champion check (None
    when its thread could not be fetched), how it arrived, and the event."""
    if isinstance(item.request, Offer):
        listing = offer_dict(item.request, naddr)
    else:
        known = thread_dicts(item.request, thread) if thread is not None else {}
        listing = {
            "type": REQUEST,
            **request_dict(item.request, naddr),
            "progress": known.get("progress"),
            "champion": known.get("champion"),
        }
    return {
        **listing,
        "new": new,
        "version": item.version,
        "via": [{"by": v.by, "into": [mas_tag(s) for s in v.into], "id": v.id} for v in item.via],
        "event": item.event.to_dict(),
    }


class FeedScreen:
    """What `mas feed` shows and remembers as rows arrive: a live table on a terminal,
    else a line (or JSON line) per row, each numbered by the handle store; the bell and
    notices for rows new on this device."""

    def __init__(
        self,
        state: common.State,
        relays: Sequence[str],
        *,
        json_out: bool,
        bell: bool,
        notices: RequestNotices | None,
    ) -> None:
        self.state = state
        self.relays = relays
        self.json_out = json_out
        self.bell = bell
        self.notices = notices
        self.local = LocalState.load(state.home)
        self.naddrs: dict[str, str] = {}
        self.handles: dict[str, Handle] = {}
        self.store, self.saveable = common.handle_store(state)
        for kind in ITEM_TYPES:  # a new listing: rows are numbered from 1 again
            self.store.start(kind)
        self.view: Live | None = None
        self.unseen = 0

    def live(self, tags: Sequence[str]) -> Live | None:
        """The live table's screen, for a terminal that is not asked for JSON."""
        if not self.json_out and self.state.out.is_terminal:
            first = feedrender.waiting(tags)
            self.view = Live(first, console=self.state.out, auto_refresh=False)
        return self.view

    def ring(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.state.err.file.write("\a")
            self.state.err.file.flush()

    async def seen(self, item: FeedItem, stored_done: bool) -> bool:
        """An item as it arrives: whether it is new on this device (bell, notices)."""
        key = str(item.address)
        self.naddrs[key] = item_naddr(item, self.relays)
        new = self.local.mark_seen(key)
        if new and self.bell and stored_done:
            self.ring()
        if new and self.notices is not None and isinstance(item.request, AidRequest):
            await asyncio.to_thread(self.notices.add, item.request, self.naddrs[key])
        self.unseen += new
        return new

    def number(self, items: list[FeedItem]) -> None:
        """Handles for the rows about to show, numbered in the order they first show,
        and saved at once so another terminal can use them."""
        before = len(self.handles)
        for item in items:
            self.handles[str(item.address)] = self.store.add(item.type, *listed(item, self.relays))
        if self.saveable and len(self.handles) > before:
            self.store.save()

    def lines(self, batch: list[tuple[FeedItem, bool]], batches: ThreadBatches) -> None:
        """Each row of the batch as a line (or JSON line), for a pipe or a file."""
        self.number([item for item, _ in batch])
        names = batches.names
        for item, new in batch:
            key = str(item.address)
            thread, naddr, handle = batches.threads.get(key), self.naddrs[key], self.handles[key]
            if self.json_out:
                by = names.fields(item.event.pubkey, "author_")
                self.state.emit_json(
                    {**item_dict(item, naddr, new, thread), **handle.fields(), **by}
                )
                continue
            if item.type == OFFER:
                line = offerrender.offer_line(item, naddr, new, names, handle)
            else:
                line = aidrender.feed_line(item, naddr, new, thread, names=names, handle=handle)
            self.state.out.print(line, markup=False, highlight=False, soft_wrap=True)

    async def run(
        self, pool: Pool, reader: FeedReader, since: int | None, once: bool
    ) -> Subscription:
        view = self.view

        def rows(_waiting: list[FeedItem]) -> list[FeedItem]:
            # The table fetches threads for what it displays, not for every event.
            return reader.feed.visible()[:MAX_ROWS]

        def show(batch: list[tuple[FeedItem, bool]]) -> None:
            if view is None:
                self.lines(batch, batches)
                return
            shown = rows([])
            self.number(shown)
            states = feedrender.relay_states(pool, reader.subscription)
            drawn = feedrender.live_view(
                shown, self.handles, batches.threads, batches.names, states
            )
            view.update(drawn, refresh=True)

        batches = ThreadBatches(
            pool, show, rows if view is not None else list, contacts.local_names(self.state),
            since=since, every=REFRESH if view is not None else None, held=True,
        )  # fmt: skip
        reader.on_author = batches.add_author

        async def after_stored() -> None:
            if reader.skipped_hints:
                self.state.note(
                    f"{len(reader.skipped_hints)} relay(s) named in other "
                    "people's posts were not dialled (--follow-hints dials them)"
                )
            if self.bell and self.unseen:
                self.ring()
            if self.notices is not None:
                await asyncio.to_thread(self.notices.flush)
            if not once:
                self.state.note("end of stored requests; following new ones (Ctrl-C ends)")

        with view or contextlib.nullcontext():
            return await follow(reader, batches, self.seen, after_stored)


async def bounded(
    reading: Coroutine[Any, Any, Subscription], timeout: float | None
) -> Subscription | None:
    """The feed read until its end, or None after ``timeout`` seconds."""
    if timeout is None:
        return await reading
    try:
        async with asyncio.timeout(timeout):
            return await reading
    except TimeoutError:
        return None


@app.command("feed")
def feed(
    ctx: typer.Context,
    society: SocietyFilterOpt = None,
    language: LanguageFilterOpt = None,
    place: PlaceFilterOpt = None,
    status: StatusFilterOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only requests since, e.g. '2 weeks ago'.")
    ] = None,
    bell: Annotated[bool, typer.Option("--bell", help="Ring the bell for new requests.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Stop after the stored requests (for scripts).")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="Stop after this many seconds.")
    ] = None,
    follow_hints: Annotated[
        bool,
        typer.Option(
            "--follow-hints",
            help="Also dial relays named inside other people's posts (they see your IP address).",
        ),
    ] = False,
    offers: Annotated[bool, typer.Option("--offers", help="Only offers of help.")] = False,
    requests: Annotated[bool, typer.Option("--requests", help="Only requests.")] = False,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="CHANNEL",
            help="Tell email:ADDR, exec:CMD (text on its stdin) or desktop of each request new "
            "on this device; at most 10 an hour, the rest summed up (repeat).",
        ),
    ] = None,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Requests and offers of help from the societies you follow, across all relays, live.

    Follows live on this device only (`mas follow`); relays see a query, never a list.
    Exits 3 with --once if no relay answered; Ctrl-C ends a live feed (exit 130).
    """
    state = common.state(ctx)
    notifier = Notifier.parse(notify, state.home, state.warn)  # bad channels fail first
    tags = feed_tags(state, society)
    only = {OFFER} if offers and not requests else {REQUEST} if requests and not offers else None
    flt = replace(feed_filter(language, place, status), types=frozenset(only or ITEM_TYPES))
    relays = state.relays(relay)
    start = parse_time(since) if since else None
    screen = FeedScreen(
        state, relays, json_out=state.want_json(json_), bell=bell,
        notices=RequestNotices(notifier) if notifier.channels else None,
    )  # fmt: skip
    screen.live(tags)

    async def read() -> Subscription:
        async with state.pool(relays) as pool:
            reader = FeedReader(pool, tags, Feed(flt), stream=not once, since=start,
                                eose_timeout=timeout, follow_hints=follow_hints)  # fmt: skip
            return await screen.run(pool, reader, start, once)

    try:
        sub = common.run(bounded(read(), None if once else timeout))
    finally:
        screen.local.save()
    if sub is not None and once and not answered(sub):
        raise RelayError("no relay answered")
