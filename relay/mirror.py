"""Mirroring: copy mutual aid traffic from peer relays, so community relays converge.

For each ``[mirror] peers`` URL one task keeps a websocket to the peer and:

1. opens a live REQ (``since`` a little before now) for new events, before anything
   else, so nothing published during a reconciliation falls in a gap;
2. reconciles each filter with NIP-77 (shared/negclient.py), this relay's own store
   as the item set, and asks for the ids it lacks by REQ, in batches;
3. reconciles again every ``interval`` seconds (what the live REQ missed while either
   side was down or busy).

Pull only: every relay that mirrors its peers fetches what it lacks, so pushing would
send each event twice. Every event copied goes through the same checks as a client's
EVENT (id, policy, signature, the store's deletion tombstones and replaceable rules),
flagged ``mirrored`` so that only the ``created_at`` lower limit (meant for clients
publishing now) is lifted, and a gift wrap is refused unless ``gift_wraps = true``.
A deleted event a peer still holds is listed again at every reconciliation and refused
by its tombstone; ids refused for good (``blocked:``, ``invalid:``...) or found held
already (a gift wrap, which the relay's own item set never shows) are remembered,
boundedly, so each is fetched once, not at every interval.

Nothing here blocks the relay's own clients: events wait in a bounded queue (a full
queue stops reading the peer's socket), are saved through the one batched writer, and
a peer that is down is retried with exponential backoff and jitter. Peers are named in
the log by host name, never by an IP address (relay/logs.py), and a peer URL that names
this relay itself is skipped, so every relay of a community can share one peer list.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from shieldmutual.relay import policy
from shieldmutual.shared.aid.traffic import aid_filters
from shieldmutual.shared.errors import BlockedError, ShieldError, StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.negclient import NegError, Reconciliation
from shieldmutual.shared.relayurl import relay_address
from shieldmutual.shared.untrusted import one_line

if TYPE_CHECKING:
    from shieldmutual.relay.server import Relay

log = logging.getLogger("shieldmutual.relay.mirror")

LIVE = "mirror-live"
OVERLAP = 10  # seconds the live REQ reaches back (clock skew, events saved meanwhile)
FETCH_BATCH = 500  # ids in one REQ
ANSWER_TIMEOUT = 30.0  # seconds a peer may take to answer a NEG message or a fetch
QUEUE = 1000  # events waiting to be saved, per peer
MAX_ITEMS = 1_000_000  # ids of one filter reconciled at once (about 50 MB of items)
SAVE_BATCH = 256  # events handed to the store together (its writer commits them as one)
REMEMBER = 100_000  # ids not fetched again (oldest forgotten)
# Refusals that the same event would get again; "error:" and "rate-limited:" may pass later.
FOR_GOOD = frozenset({"blocked", "invalid", "restricted", "pow", "auth-required"})
BACKOFF_BASE = 0.5
BACKOFF_MAX = 60.0
STABLE = 30.0  # a session that lasted this long resets the backoff
GONE: list[Any] = ["GONE"]  # told to whoever waits for an answer when the peer goes away


class PeerGone(Exception):
    """The peer ended the session (closed, or refused the live REQ, e.g. auth-required);
    the message is ours, with the peer's words made one visible line."""


def default_filters(gift_wraps: bool) -> tuple[Filter, ...]:
    return tuple(aid_filters(gift_wraps=gift_wraps))


def peer_label(url: str, number: int) -> str:
    """How the log names a peer: its host name, or ``peer N`` when it is an IP address."""
    host = urlsplit(url).hostname or ""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return f"peer {number}"
    return host or f"peer {number}"


@dataclass(slots=True)
class PeerStats:
    """What one peer session did, for the log and the tests."""

    reconciliations: int = 0
    have: int = 0
    need: int = 0
    stored: int = 0
    refused: int = 0
    neg_bytes: int = 0  # NEG-* frames both ways
    fetched_bytes: int = 0  # EVENT frames answering our fetches by id
    state: str = "starting"
    last_error: str = ""
    refusals: dict[str, int] = field(default_factory=dict)


class Mirror:
    """The peer tasks of one relay: :meth:`start` once listening, :meth:`stop` first."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        config = relay.config.mirror
        self.filters = config.filters or default_filters(config.gift_wraps)
        self.peers: dict[str, Peer] = {}
        for number, url in enumerate(sorted(config.peers), 1):
            if relay_address(url) not in relay.addresses:
                self.peers[url] = Peer(self, url, peer_label(url, number))
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(peer.run()) for peer in self.peers.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Peer:
    """One peer: a session at a time, retried with backoff while the peer is down."""

    def __init__(self, mirror: Mirror, url: str, label: str) -> None:
        self.mirror = mirror
        self.relay = mirror.relay
        self.url = url
        self.label = label
        self.stats = PeerStats()
        self._waiting: dict[str, asyncio.Queue[list[Any]]] = {}
        self._fetching: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE)
        self._skip: dict[str, None] = {}  # insertion-ordered, so the oldest go first
        self._ended: Exception = PeerGone("the peer went away")  # why the reader stopped
        self._reading = False
        self._numbers = itertools.count(1)

    async def run(self) -> None:
        failures = 0
        while True:
            began = time.monotonic()
            try:
                await self._session()
            except PeerGone as exc:
                self._down(str(exc), exc_info=False)
            except (OSError, TimeoutError, WebSocketException, ShieldError) as exc:
                # The type only: an OSError's text names the peer's IP address.
                self._down(type(exc).__name__, exc_info=False)
            except Exception:  # a bug must not end mirroring for good; it is logged
                self._down("internal error", exc_info=True)
            failures = 0 if time.monotonic() - began > STABLE else failures + 1
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(failures, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def _down(self, why: str, *, exc_info: bool) -> None:
        self.stats.state = "down"
        self.stats.last_error = why
        self.relay.logs.log(
            logging.WARNING,
            f"mirror {self.label}",
            "mirror: %s unreachable or gone (%s); retrying",
            self.label,
            why,
            exc_info=exc_info,
        )

    async def _session(self) -> None:
        limit = 2 * self.relay.config.limits.max_message_length
        async with connect(
            self.url, open_timeout=ANSWER_TIMEOUT, close_timeout=1, max_size=limit, compression=None
        ) as ws:
            saver = asyncio.create_task(self._save_loop())
            self._reading = True
            reader = asyncio.create_task(self._read_loop(ws))
            try:
                since = int(time.time()) - OVERLAP
                live = [{**f.to_dict(), "since": since} for f in self.mirror.filters]
                await ws.send(orjson.dumps(["REQ", LIVE, *live]).decode())
                self.stats.state = "live"
                log.info("mirror: following %s", self.label)
                while True:
                    await self._reconcile(ws)
                    # The reader ends when the peer goes away; that ends the session.
                    await asyncio.wait([reader], timeout=self.relay.config.mirror.interval)
                    if reader.done():
                        reader.result()
                        raise PeerGone("the peer closed the connection")
            finally:
                reader.cancel()
                saver.cancel()
                await asyncio.gather(reader, saver, return_exceptions=True)
                self._waiting.clear()

    # ---- reconciliation --------------------------------------------------------

    async def _reconcile(self, ws: ClientConnection) -> None:
        began = time.monotonic()
        have = need = 0
        for filter_ in self.mirror.filters:
            try:
                missing, ours = await self._negotiate(ws, filter_)
            except (NegError, BlockedError, StoreError) as exc:  # theirs, or our set too big
                self.relay.logs.log(
                    logging.WARNING,
                    f"mirror {self.label} nip77",
                    "mirror: %s cannot reconcile (%s); following it live only",
                    self.label,
                    one_line(str(exc)),  # it may quote the peer: one visible line
                )
                return
            missing = [i for i in missing if i not in self._skip]
            have += ours
            need += len(missing)
            for start in range(0, len(missing), FETCH_BATCH):
                await self._fetch(ws, missing[start : start + FETCH_BATCH])
        await self._queue.join()  # saved (or refused) before the line below says so
        self.stats.reconciliations += 1
        self.stats.have, self.stats.need = have, need
        log.info(
            "mirror: reconciled with %s in %.2fs: %d ids only here, %d fetched",
            self.label,
            time.monotonic() - began,
            have,
            need,
        )

    async def _negotiate(self, ws: ClientConnection, filter_: Filter) -> tuple[list[str], int]:
        """The ids the peer holds and we lack, and how many we hold that it lacks."""
        now = int(time.time())
        items = await self.relay.store.items([filter_], now, owner=self, cap=MAX_ITEMS)
        sub_id = f"mirror-neg-{next(self._numbers)}"
        rec = Reconciliation(sub_id, filter_.to_dict(), items)
        answers = self._wait(sub_id)
        try:
            frame = rec.open_frame()
            while True:
                await ws.send(frame)
                if rec.done:  # that was NEG-CLOSE
                    break
                try:
                    message = await asyncio.wait_for(answers.get(), ANSWER_TIMEOUT)
                except TimeoutError:
                    raise NegError("no answer to NEG-OPEN or NEG-MSG") from None
                if message is GONE:
                    raise self._ended
                frame = rec.answer(message, len(orjson.dumps(message)))
        finally:
            del self._waiting[sub_id]
            self.stats.neg_bytes += rec.sent + rec.received
        return rec.need, len(rec.have)

    async def _fetch(self, ws: ClientConnection, ids: list[str]) -> None:
        sub_id = f"mirror-fetch-{next(self._numbers)}"
        done = self._wait(sub_id)
        self._fetching = set(ids)
        try:
            await ws.send(orjson.dumps(["REQ", sub_id, {"ids": ids, "limit": len(ids)}]).decode())
            try:
                answer = await asyncio.wait_for(done.get(), ANSWER_TIMEOUT)  # EOSE or CLOSED
            except TimeoutError:
                raise NegError("no EOSE for the missing events") from None
            if answer is GONE:
                raise self._ended
            await ws.send(orjson.dumps(["CLOSE", sub_id]).decode())
        finally:
            del self._waiting[sub_id]
            self._fetching = set()

    def _wait(self, sub_id: str) -> asyncio.Queue[list[Any]]:
        """A queue for the answers about ``sub_id``; the reader must still be reading,
        or nobody would ever put the answer (or GONE) in it."""
        if not self._reading:
            raise self._ended
        queue: asyncio.Queue[list[Any]] = asyncio.Queue()
        self._waiting[sub_id] = queue
        return queue

    # ---- reading and saving --------------------------------------------------

    async def _read_loop(self, ws: ClientConnection) -> None:
        self._ended = PeerGone("the peer went away")
        try:
            await self._route(ws)
        except Exception as exc:  # told, with its reason, to whoever waits
            self._ended = exc
            raise
        finally:  # whoever waits for an answer stops waiting: the peer is gone
            self._reading = False
            for queue in self._waiting.values():
                queue.put_nowait(GONE)

    async def _route(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                message = orjson.loads(frame)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(message, list) or len(message) < 2:
                continue
            verb, sub_id = message[0], message[1]
            if verb == "EVENT" and len(message) > 2:
                event = self._wanted(sub_id, message[2])
                if event is not None:
                    self.stats.fetched_bytes += len(frame) if sub_id != LIVE else 0
                    await self._queue.put(event)  # a full queue stops reading the peer
            elif verb == "CLOSED" and sub_id == LIVE:
                # Refused or ended by the peer: a new session (after backoff) asks again.
                said = one_line(str(message[2]) if len(message) > 2 else "")[:200]
                raise PeerGone(f"the peer closed the live subscription: {said}")
            elif verb == "NOTICE":
                # A relay without NIP-77 answers NEG-OPEN with a NOTICE ("unknown
                # message"): whatever waits for an answer hears it and gives up.
                for waiting, queue in self._waiting.items():
                    queue.put_nowait(["NEG-ERR", waiting, f"NOTICE {str(sub_id)[:200]}"])
            elif isinstance(sub_id, str) and sub_id in self._waiting:
                self._waiting[sub_id].put_nowait(message)

    def _wanted(self, sub_id: object, data: Any) -> Event | None:
        """The event when it answers what we asked: a live filter, or an id fetched."""
        try:
            event = Event.from_dict(data)
        except ShieldError:
            return None
        if sub_id == LIVE:
            return event if any(f.matches(event) for f in self.mirror.filters) else None
        return event if event.id in self._fetching else None

    async def _save_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < SAVE_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.gather(*(self._save(event) for event in batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _save(self, event: Event) -> None:
        relay = self.relay
        raw = event.to_json()
        ctx = policy.Context(relay.config, int(time.time()), frozenset(), len(raw), mirrored=True)
        refusal = relay.ingest.screen(event, ctx)
        if refusal is None:
            try:
                result = await relay.ingest.accept(event, raw)
            except ShieldError as exc:
                refusal = exc.wire()
            else:
                relay.ingest.fan_out(event, raw, result)
                if result.accepted:
                    if result.message:  # a duplicate: held, though maybe not in our set
                        self._remember(event.id)
                    else:
                        self.stats.stored += 1
                    return
                refusal = result.message
        self.stats.refused += 1
        reason = refusal.split(":", 1)[0]
        self.stats.refusals[reason] = self.stats.refusals.get(reason, 0) + 1
        if reason in FOR_GOOD:
            self._remember(event.id)

    def _remember(self, event_id: str) -> None:
        self._skip[event_id] = None
        if len(self._skip) > REMEMBER:
            del self._skip[next(iter(self._skip))]
