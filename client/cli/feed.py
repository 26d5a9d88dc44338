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
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from shieldmutual.client.aid import RequestRecord, Thread, fetch_said, split_threads
from shieldmutual.client.cli import aidrender, common, contacts, offerrender
from shieldmutual.client.cli.export import thread_dicts
from shieldmutual.client.cli.filteropts import (
    LanguageFilterOpt,
    PlaceFilterOpt,
    SocietyFilterOpt,
    StatusFilterOpt,
)
from shieldmutual.client.cli.society import parse_slug
from shieldmutual.client.errors import ClientError, RelayError
from shieldmutual.client.feed import FeedReader
from shieldmutual.client.handles import Handle
from shieldmutual.client.names import NO_NAMES, Names, lookup
from shieldmutual.client.notify import Notifier, RequestNotices
from shieldmutual.client.pool import EOSE, Pool, RelayState, Subscription
from shieldmutual.client.state import LocalState
from shieldmutual.client.timeparse import parse_time
from shieldmutual.shared.aid.common import Address, check_geohash, check_language
from shieldmutual.shared.aid.export import request_dict
from shieldmutual.shared.aid.feed import ITEM_TYPES, REQUEST, Feed, FeedFilter, FeedItem
from shieldmutual.shared.aid.offer import OFFER, offer_dict
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.society import mas_tag
from shieldmutual.shared.errors import AidError, InvalidError, ShieldError
from shieldmutual.shared.event import Event

app = typer.Typer()

MAX_ROWS = 40
REFRESH = 60.0  # seconds between progress refreshes of the live table's rows
SLACK = 60  # seconds a refresh looks back before the last one (clocks, slow relays)
MAX_SAID = 20_000  # events about requests a live feed keeps to sort threads out of


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
    if item.type == OFFER:
        listing = offer_dict(item.request, naddr)  # type: ignore[arg-type]
    else:
        known = thread_dicts(item.request, thread) if thread is not None else {}
        listing = {
            "type": REQUEST,
            **request_dict(item.request, naddr),  # type: ignore[arg-type]
            "progress": known.get("progress"),
            "champion": known.get("champion"),
        }
    return {
        **listing,
        "new": new,
        "version": item.version,
        "via": [{"by": v.by, "into": [mas_tag(s) for s in v.into], "id": v.id} for v in item.via],
        "event": item.event.to_dict(),  # type: ignore[attr-defined]
    }


def item_record(item: FeedItem) -> RequestRecord:
    # The feed's events came through the pool, so they are verified Events.
    return RequestRecord(item.event, item.request)  # type: ignore[arg-type]


class ThreadBatches:
    """Threads and names for the rows a feed shows, from queries that name no row.

    What was said about every request (client/aid.fetch_said) is fetched once as the feed
    starts, windowed by the feed's own ``since``, and again since the last time on
    ``refresh`` (the live table: every ``every`` seconds, by the clock, not by which
    rows change); each row's thread is sorted out of those events here. Profiles are
    looked up for the author of every request the feed's uniform query brought (the
    reader's ``on_author``), never for the rows shown: the stored ones all at once when
    ``stored_done`` is called, then each new one as the stream brings it. So what a
    relay is asked depends on its data, never on follows, contacts or rows (PROTOCOL
    §16.9). Items wait until the stored events are in, then ``show`` gets each batch
    (items with their "new on this device" flag); an edit of a known request reuses its
    thread (the status comes from the new version).
    """

    def __init__(
        self,
        pool: Pool,
        show: Callable[[list[tuple[FeedItem, bool]]], None],
        wanted: Callable[[list[FeedItem]], list[FeedItem]] = list,
        names: Names = NO_NAMES,
        *,
        since: int | None = None,
        every: float | None = None,
        held: bool = False,
    ) -> None:
        self.pool = pool
        self.show = show
        self.wanted = wanted  # which of the waiting items need a thread (the table: shown rows)
        self.threads: dict[str, Thread] = {}
        self.names = names  # petnames, plus every author's profile
        self.since = since
        self.every = every
        self._said: dict[str, Event] = {}  # what was said about any request, by event id
        self._asked_at: int | None = None  # when it was last fetched (None: not yet)
        self._refresh = False
        self._held = held  # until stored_done(): names of all stored authors at once
        self._authors: set[str] = set()  # waiting for their profiles
        self._waiting: list[tuple[FeedItem, bool]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, item: FeedItem, new: bool = False) -> None:
        self._waiting.append((item, new))
        self._idle.clear()
        self._wake.set()

    def add_author(self, pubkey: str) -> None:
        """An author the uniform query brought: looked up whether their rows show or not."""
        self._authors.add(pubkey)
        self._wake.set()

    def stored_done(self) -> None:
        self._held = False
        self._idle.clear()  # drain() waits for the names, even with no row to show
        self._wake.set()

    def refresh(self, items: Sequence[FeedItem]) -> None:
        """Fetch what was said since the last time, and sort these rows' threads again."""
        self._refresh = True
        for item in items:
            self.threads.pop(str(item.address), None)
            self.add(item)

    async def drain(self) -> None:
        """Until every item added so far has been shown."""
        await self._idle.wait()

    async def _fetch_said(self) -> None:
        # Progress is shown when it can be had: a failed query must never stop the feed,
        # nor leave drain() waiting for a batch that never ends.
        with contextlib.suppress(ShieldError, OSError):
            asked = int(time.time())
            last = self._asked_at
            since = self.since if last is None else last - SLACK
            events = await fetch_said(
                self.pool, since, labels_since=None if last is None else last - SLACK
            )
            self._asked_at = asked
            self._said.update((e.id, e) for e in events)
            if len(self._said) > MAX_SAID:  # oldest tenth out: a long-lived feed stays bounded
                ids = sorted(self._said, key=lambda i: self._said[i].created_at)
                for old in ids[: MAX_SAID // 10]:
                    del self._said[old]

    async def _wait(self) -> None:
        """Until something is added, or (the live table) it is time to refresh."""
        try:
            async with asyncio.timeout(self.every):
                await self._wake.wait()
        except TimeoutError:
            self.refresh(self.wanted([]))

    async def run(self) -> None:
        while True:
            await self._wait()
            self._wake.clear()
            # Asked once something came (the feed's own REQ went first), then by the clock.
            if self._refresh or self._asked_at is None:
                self._refresh = False
                await self._fetch_said()
            if self._held:
                continue
            batch, self._waiting = self._waiting, []
            # Offers have no progress to show: only requests' threads are sorted out.
            items = self.wanted([item for item, _ in batch])
            latest = {str(i.address): i for i in items if i.type == REQUEST}
            missing = [item_record(i) for k, i in latest.items() if k not in self.threads]
            if missing and self._asked_at is not None:
                self.threads.update(split_threads(missing, self._said.values()))
            authors, self._authors = self._authors, set()
            if authors:
                with contextlib.suppress(ClientError):
                    self.names = await lookup(self.pool, self.names, authors)
            self.show(batch)
            if not self._waiting:
                self._idle.set()


def relay_states(pool: Pool, sub: Subscription) -> Text:
    """One line under the live table with each relay's state, so a relay that went
    quiet is seen rather than guessed at from rows that stopped coming."""
    states = []
    for url, stats in sub.stats.items():
        if pool.connection(url).connected:
            state = "connected"
        elif stats.reconnects or stats.status is RelayState.UNREACHABLE:
            state = "reconnecting"
        elif stats.status is RelayState.TIMEOUT:
            state = "not answering"
        else:
            state = "connecting"
        states.append(f"{url} {state}")
    return Text("relays: " + " · ".join(states), style="dim")


def answered(sub: Subscription) -> bool:
    return any(s.eose_after is not None for s in sub.stats.values())


async def read_stored(
    pool: Pool, tags: Sequence[str], flt: FeedFilter, timeout: float | None = None
) -> tuple[list[FeedItem], Subscription, list[str]]:
    """The stored requests of ``tags`` (for `mas request list`), resolved and filtered, and
    the author of every request the uniform query brought (whose profiles to look up:
    not the rows', which would name the followed societies' people)."""
    reader = FeedReader(pool, tags, Feed(flt), stream=False, eose_timeout=timeout)
    async for _ in reader.items():
        pass
    return reader.feed.visible(), reader.subscription, list(reader.authors)


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
    notices = RequestNotices(notifier) if notifier.channels else None
    tags = feed_tags(state, society)
    only = {OFFER} if offers and not requests else {REQUEST} if requests and not offers else None
    flt = replace(feed_filter(language, place, status), types=frozenset(only or ITEM_TYPES))
    relays = state.relays(relay)
    start = parse_time(since) if since else None
    json_out = state.want_json(json_)
    local = LocalState.load(state.home)
    live = not json_out and state.out.is_terminal

    def ring() -> None:
        with contextlib.suppress(OSError, ValueError):
            state.err.file.write("\a")
            state.err.file.flush()

    async def go() -> Subscription:
        async with state.pool(relays) as pool:
            reader = FeedReader(pool, tags, Feed(flt), stream=not once, since=start,
                                eose_timeout=timeout, follow_hints=follow_hints)  # fmt: skip
            naddrs: dict[str, str] = {}
            store, saveable = common.handle_store(state)
            for kind in ITEM_TYPES:  # a new listing: rows are numbered from 1 again
                store.start(kind)
            handles: dict[str, Handle] = {}
            stored_done, unseen = False, 0
            waiting = Text(f"waiting for requests in {' '.join(tags)}…", style="dim")
            view = Live(waiting, console=state.out, auto_refresh=False) if live else None

            def rows() -> list[FeedItem]:
                return reader.feed.visible()[:MAX_ROWS]

            def shown_rows(batch: list[FeedItem]) -> list[FeedItem]:
                return rows()  # the table fetches for what it displays, not for every event

            def number(items: list[FeedItem]) -> None:
                """Handles for the rows about to show, numbered in the order they first
                show, and saved at once so another terminal can use them."""
                before = len(handles)
                for item in items:
                    handles[str(item.address)] = store.add(item.type, *listed(item, relays))
                if saveable and len(handles) > before:
                    store.save()

            def show(batch: list[tuple[FeedItem, bool]]) -> None:
                threads, names = batches.threads, batches.names
                if view is not None:
                    shown = rows()
                    asked = [i for i in shown if i.type == REQUEST]
                    given = [i for i in shown if i.type == OFFER]
                    number(asked + given)
                    table = aidrender.requests_table(asked, handles, threads, names=names)
                    tables = [table] if asked else []
                    tables += [offerrender.offers_table(given, handles, names)] if given else []
                    tables.append(relay_states(pool, reader.subscription))
                    view.update(Group(*tables), refresh=True)
                    return
                number([item for item, _ in batch])
                for item, new in batch:
                    key = str(item.address)
                    thread = threads.get(key)
                    if json_out:
                        by = names.fields(item.event.pubkey, "author_")
                        fields = handles[key].fields()
                        state.emit_json(
                            {**item_dict(item, naddrs[key], new, thread), **fields, **by}
                        )
                    elif item.type == OFFER:
                        line = offerrender.offer_line(item, naddrs[key], new, names, handles[key])
                        state.out.print(line, markup=False, highlight=False, soft_wrap=True)
                    else:
                        line = aidrender.feed_line(
                            item, naddrs[key], new, thread, names=names, handle=handles[key]
                        )
                        state.out.print(line, markup=False, highlight=False, soft_wrap=True)

            wanted = shown_rows if view is not None else list
            every = REFRESH if view is not None else None
            batches = ThreadBatches(pool, show, wanted, contacts.local_names(state),
                                    since=start, every=every, held=True)  # fmt: skip
            reader.on_author = batches.add_author
            loop = asyncio.get_running_loop()
            fetcher = loop.create_task(batches.run())
            after: asyncio.Task[None] | None = None

            async def after_stored(unseen: int) -> None:
                await batches.drain()
                if reader.skipped_hints:
                    state.note(
                        f"{len(reader.skipped_hints)} relay(s) named in other "
                        "people's posts were not dialled (--follow-hints dials them)"
                    )
                if bell and unseen:
                    ring()
                if notices is not None:
                    await asyncio.to_thread(notices.flush)
                if not once:
                    state.note("end of stored requests; following new ones (Ctrl-C ends)")

            try:
                with view or contextlib.nullcontext():
                    async for item in reader.items():
                        if item is EOSE:
                            batches.stored_done()
                            stored_done = True
                            # The stored rows are shown once their threads and names are
                            # in, while the stream goes on being read: waiting here would
                            # stall the socket those queries share with a busy stream.
                            after = loop.create_task(after_stored(unseen))
                            continue
                        assert isinstance(item, FeedItem)
                        key = str(item.address)
                        naddrs[key] = item_naddr(item, relays)
                        new = local.mark_seen(key)
                        if new and bell and stored_done:
                            ring()
                        if new and notices is not None and isinstance(item.request, AidRequest):
                            await asyncio.to_thread(notices.add, item.request, naddrs[key])
                        unseen += new
                        batches.add(item, new)
                    batches.stored_done()
                    await (after or batches.drain())
            finally:
                for task in (fetcher, after):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
            return reader.subscription

    async def bounded() -> Subscription | None:
        if timeout is None or once:
            return await go()
        try:
            async with asyncio.timeout(timeout):
                return await go()
        except TimeoutError:
            return None

    try:
        sub = common.run(bounded())
    finally:
        local.save()
    if sub is not None and once and not answered(sub):
        raise RelayError("no relay answered")
