"""The email bridge: new requests of chosen societies, mailed to their mailing lists.

Many members of a society read only email. ``mas bridge email run`` reads, for each list
in the sealed record (client/bridge_state.py), the requests tagged with its societies
on its relays, and mails each new one to the list (mode ``each``) or gathers a day's
into one message (mode ``digest``); with the list's extras it also mails updates and
spending reports by the request's author, and status changes (a new version whose
status differs from the one last mailed). It is independent of the user's own follows.

One :meth:`Bridge.cycle` per interval: query each list's relays from its ``since``
(minus :data:`SLACK`, for events that reach a relay late; the record's ``sent`` keeps
them from being mailed twice), mail what was not sent yet, oldest first, and move
``since`` on only past what was sent. An item counts as sent once the SMTP server
accepted it (client/mailer.py), so a restart, a relay outage or a refusing SMTP server
delay mail but never lose it. A query that no relay answered moves nothing.

Threading: a request's Message-ID is derived from its address, so every update, report
and status change of it carries ``In-Reply-To``/``References`` to it and mail readers
show them under it. Every message has ``List-Id`` and ``Auto-Submitted``. All text
from events goes through shared/aid/export.py (``email_message``, ``text_email``,
``render_text``): headers made one safe line, bodies base64.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from shieldmutual.client import mailer
from shieldmutual.client.bridge_state import (
    DIGEST,
    MAX_DIGEST,
    REPORT,
    STATUS,
    UPDATE,
    BridgeRecord,
    ListEntry,
)
from shieldmutual.client.errors import MailError, RelayError
from shieldmutual.client.feed import FeedReader
from shieldmutual.client.pool import Pool
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import Update
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.export import email_message, render_text, text_email
from shieldmutual.shared.aid.feed import Feed, FeedFilter, FeedItem
from shieldmutual.shared.aid.parse import read_aid_event
from shieldmutual.shared.aid.report import Report
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import mas_tag
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

SLACK = 600  # seconds an event may reach a relay after its created_at and still be mailed
HOUR = 3600
MAX_BACKOFF = 900.0  # seconds between cycles while the server or relays keep failing
BATCH = 50  # requests whose updates and reports go in one query
# Requests whose news is still looked for: the latest a list got. Older ones stay known
# (no second mail) but cost no query each cycle.
MAX_WATCHED = 500
ORDER = {"request": 0, STATUS: 1, UPDATE: 2, REPORT: 3}

Connect = Callable[[Sequence[str]], Pool]
Clock = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to mail: ``text`` already rendered through the export door."""

    key: str
    kind: str  # request, status, update or report
    coordinate: str  # the request it belongs to
    created_at: int
    title: str  # the request's title
    text: str
    link: str  # nostr:naddr1...
    status: str = ""  # a request's or status change's new status
    request: AidRequest | None = None  # for a request's HTML part

    def to_dict(self) -> dict[str, Any]:
        names = ("key", "kind", "coordinate", "created_at", "title", "text", "link", "status")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        return cls(
            str(data["key"]),
            str(data["kind"]),
            str(data["coordinate"]),
            int(data["created_at"]),
            str(data["title"]),
            str(data["text"]),
            str(data["link"]),
            str(data.get("status", "")),
        )


@dataclass
class Outcome:
    """What one cycle did, for the command's messages and exit code."""

    sent: int = 0
    gathered: int = 0  # kept for a digest
    held: int = 0  # waiting for the rate limit
    errors: list[str] = field(default_factory=list)


def message_id(key: str, sender: str) -> str:
    """A stable Message-ID: the same request always has the same one, so replies thread."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{sender.rpartition('@')[2]}>"


def day_of(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


class Bridge:
    """Mails the lists of ``record`` through ``settings``; see the module docstring."""

    def __init__(
        self,
        record: BridgeRecord,
        settings: mailer.MailSettings,
        connect: Connect,
        *,
        clock: Clock,
        retry: mailer.Retry | None = None,
        sleep: mailer.Sleep = asyncio.sleep,
        notify: mailer.Notify = lambda _: None,
    ) -> None:
        self.record = record
        self.settings = settings
        self.connect = connect
        self.clock = clock
        self.retry = retry or mailer.Retry()
        self.sleep = sleep
        self.notify = notify

    async def cycle(self) -> Outcome:
        """One pass over every list; a list's failure is reported and the others go on."""
        outcome = Outcome()
        self.record.refresh()
        for address in sorted(self.record.lists):
            try:
                await self._one_list(self.record.lists[address], outcome)
            except (RelayError, MailError) as exc:
                outcome.errors.append(f"{address}: {exc}")
        return outcome

    async def _one_list(self, entry: ListEntry, outcome: Outcome) -> None:
        async with self.connect(entry.relays) as pool:
            items, newest = await self._collect(pool, entry)
        if entry.mode == DIGEST:
            await self._send_digest(entry.address, outcome)
            held = self._gather(entry.address, items, outcome)
            self._move_since(entry.address, held, newest)
            return
        unsent = [i for i in items if i.key not in entry.sent]
        try:
            while unsent:
                if not self._within_rate(entry.address):
                    outcome.held += len(unsent)
                    break
                item = unsent[0]
                try:
                    message = self._each_message(entry, item)
                except AidError as exc:  # one unmailable item must not block the list forever
                    self.notify(f"{entry.address}: skipped {item.key}: {exc}")
                    self._mark(entry.address, [item], rate=False)
                    unsent.pop(0)
                    continue
                await _settled(self._deliver(message, entry.address, [item], rate=True))
                unsent.pop(0)
                outcome.sent += 1
        finally:
            self._move_since(entry.address, unsent, newest)

    # -- reading the relays --

    async def _collect(self, pool: Pool, entry: ListEntry) -> tuple[list[Item], int]:
        """Every item for ``entry`` from its window, oldest first, and the newest
        ``created_at`` seen (the old ``since`` when nothing came)."""
        window = max(0, entry.since - SLACK)
        tags = [mas_tag(s) for s in entry.societies]
        reader = FeedReader(pool, tags, Feed(FeedFilter()), stream=False, since=window)
        latest: dict[str, FeedItem] = {}
        async for found in reader.items():
            if isinstance(found, FeedItem) and isinstance(found.request, AidRequest):
                latest[str(found.address)] = found
        if not any(s.eose_after is not None for s in reader.subscription.stats.values()):
            raise RelayError(f"no relay answered (asked {len(entry.relays)}); nothing was moved")
        newest = max([entry.since, *(f.event.created_at for f in latest.values())])
        items = [i for f in latest.values() if (i := self._request_item(entry, f)) is not None]
        watched = list(entry.known.items())[-MAX_WATCHED:]
        titles = {c: v.get("title", "") for c, v in watched}
        titles.update({c: f.request.title for c, f in latest.items()})
        if UPDATE in entry.extras or REPORT in entry.extras:
            events = await self._thread_events(pool, sorted(titles), window)
            newest = max([newest, *(e.created_at for e in events)])
            items += self._thread_items(entry, events, titles)
        items.sort(key=lambda i: (i.created_at, ORDER[i.kind], i.key))
        return items, min(newest, self.clock() + SLACK)

    def _request_item(self, entry: ListEntry, found: FeedItem) -> Item | None:
        request = found.request
        if not isinstance(request, AidRequest):
            return None
        coordinate, at = str(found.address), found.event.created_at
        link = "nostr:" + found.address.naddr(entry.relays[:2])
        status = request.status.value
        if coordinate not in entry.known:
            text = render_text(request, link=link, now=self.clock())
            key = "r:" + coordinate
            return Item(key, "request", coordinate, at, request.title, text, link, status, request)
        if STATUS in entry.extras and entry.known[coordinate].get("status") != status:
            text = f"Status: {status}\n\n{request.title}\n\n{link}\n"
            key = f"s:{found.event.id}"
            return Item(key, STATUS, coordinate, at, request.title, text, link, status)
        return None

    async def _thread_events(self, pool: Pool, coordinates: list[str], since: int) -> list[Event]:
        events: list[Event] = []
        for start in range(0, len(coordinates), BATCH):
            chunk = coordinates[start : start + BATCH]
            about = frozenset(chunk)
            filters = [
                Filter(kinds=frozenset({kinds.COMMENT}), tags={"A": about}, since=since),
                Filter(kinds=frozenset({kinds.LONG_FORM}), tags={"a": about}, since=since),
            ]
            events += await pool.fetch(filters)
        return events

    def _thread_items(
        self, entry: ListEntry, events: list[Event], titles: dict[str, str]
    ) -> list[Item]:
        """Updates and reports by the request's own author: anyone else's comment must
        not reach a list in the society's name."""
        items = []
        for event in events:
            item = read_aid_event(event)
            if isinstance(item, Update) and UPDATE in entry.extras:
                address, body, key, kind = item.request.address, item.text, "u:" + event.id, UPDATE
            elif isinstance(item, Report) and REPORT in entry.extras:
                address, body = item.request, f"{item.title}\n\n{item.body}"
                key, kind = f"p:{Address.of(event)}", REPORT  # an edited report: once
            else:
                continue
            coordinate = str(address)
            title = titles.get(coordinate, "")
            if event.pubkey != address.pubkey or not title:
                continue
            link = "nostr:" + address.naddr(entry.relays[:2])
            text = f"{kind.capitalize()} on: {title}\n\n{body}\n\n{link}\n"
            items.append(Item(key, kind, coordinate, event.created_at, title, text, link))
        return items

    # -- mailing --

    def _each_message(self, entry: ListEntry, item: Item) -> EmailMessage:
        sender = self.settings.sender
        now = datetime.fromtimestamp(self.clock(), UTC)
        root = message_id("r:" + item.coordinate, sender)
        if item.request is not None:
            message = email_message(
                item.request, link=item.link, to=entry.address, sender=sender, now=now
            )
            message.replace_header("Message-ID", root)
        else:
            subject = f"{item.kind.capitalize()}: {item.title}"
            message = text_email(subject, item.text, to=entry.address, sender=sender, now=now)
            message.replace_header("Message-ID", message_id(item.key, sender))
            message["In-Reply-To"] = root
            message["References"] = root
        return self._listed(message, entry)

    def _digest_message(self, entry: ListEntry) -> EmailMessage:
        items = [Item.from_dict(d) for d in entry.digest_items]
        requests = sum(1 for i in items if i.kind == "request")
        subject = (
            f"Mutual aid digest {entry.digest_day}: {requests} new requests, {len(items)} items"
        )
        rule = "\n\n" + "-" * 60 + "\n\n"
        text = rule.join(i.text for i in items) + "\n"
        now = datetime.fromtimestamp(self.clock(), UTC)
        message = text_email(subject, text, to=entry.address, sender=self.settings.sender, now=now)
        key = f"d:{entry.address}:{entry.digest_day}"
        message.replace_header("Message-ID", message_id(key, self.settings.sender))
        return self._listed(message, entry)

    def _listed(self, message: EmailMessage, entry: ListEntry) -> EmailMessage:
        message["List-Id"] = f"<{entry.list_id}>"
        message["Auto-Submitted"] = "auto-generated"
        return message

    async def _deliver(
        self, message: EmailMessage, address: str, items: Sequence[Item], *, rate: bool
    ) -> None:
        """Send, then record ``items`` as sent (only once the server accepted them)."""
        await mailer.deliver(self.settings, message, [address], self.retry, self.sleep, self.notify)
        self._mark(address, items, rate=rate)

    def _within_rate(self, address: str) -> bool:
        now = self.clock()
        entry = self.record.lists[address]
        return sum(1 for t in entry.recent if t > now - HOUR) < entry.rate

    async def _send_digest(self, address: str, outcome: Outcome) -> None:
        """Yesterday's (or older) gathered items in one message, once the day is over."""
        entry = self.record.lists[address]
        if not entry.digest_items or entry.digest_day >= day_of(self.clock()):
            return
        items = [Item.from_dict(d) for d in entry.digest_items]
        await _settled(self._deliver(self._digest_message(entry), address, items, rate=False))
        with self.record.edit() as lists:
            lists[address].digest_items = []
            lists[address].digest_day = day_of(self.clock())
        outcome.sent += 1

    def _gather(self, address: str, items: list[Item], outcome: Outcome) -> list[Item]:
        """Keep new items for today's digest; those past :data:`MAX_DIGEST` are held."""
        held = []
        with self.record.edit() as lists:
            entry = lists[address]
            if not entry.digest_items:
                entry.digest_day = day_of(self.clock())
            waiting = {d["key"] for d in entry.digest_items}
            for item in items:
                if item.key in entry.sent or item.key in waiting:
                    continue
                if len(entry.digest_items) >= MAX_DIGEST:
                    held.append(item)
                    continue
                entry.digest_items.append(item.to_dict())
                waiting.add(item.key)
                _know(entry, item)
                outcome.gathered += 1
        outcome.held += len(held)
        return held

    # -- the record --

    def _mark(self, address: str, items: Sequence[Item], *, rate: bool) -> None:
        now = self.clock()
        with self.record.edit() as lists:
            entry = lists[address]
            for item in items:
                entry.sent[item.key] = now
                _know(entry, item)
            if rate:
                entry.recent = [t for t in entry.recent if t > now - HOUR] + [now]

    def _move_since(self, address: str, unsent: Sequence[Item], newest: int) -> None:
        """Resume after ``newest``, but never past an item that was not sent."""
        with self.record.edit() as lists:
            lists[address].since = min([newest, *(i.created_at for i in unsent)])


async def _settled(job: Awaitable[None]) -> None:
    """Run a send-and-record to its end even when the bridge is interrupted meanwhile:
    the server may already hold the message, and a restart must know that."""
    task = asyncio.ensure_future(job)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _know(entry: ListEntry, item: Item) -> None:
    """Remember a request the list got (and the status it last heard of)."""
    if item.kind in ("request", STATUS):
        entry.known[item.coordinate] = {"status": item.status, "title": item.title}


async def run(
    bridge: Bridge, *, once: bool, interval: float, report: Callable[[Outcome], None]
) -> Outcome:
    """Cycles until cancelled (or one, ``once``); after a failed cycle the next waits
    twice as long, up to :data:`MAX_BACKOFF`, so a dead server is not hammered."""
    failures = 0
    while True:
        outcome = await bridge.cycle()
        report(outcome)
        if once:
            return outcome
        failures = failures + 1 if outcome.errors else 0
        await bridge.sleep(min(interval * 2**failures, max(interval, MAX_BACKOFF)))
