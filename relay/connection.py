"""One websocket connection: its read loop, its state and its limits.

Everything a client can send arrives in :meth:`Connection.run`, whose single ``except``
is the boundary between the client's bytes and the rest of the relay: any fault while
handling a message is logged and ends only this connection (1011), never the relay.
Expected refusals never reach it: every malformed or refused message is answered with
the NIP-01 reply that names it (``OK false``, ``CLOSED`` or ``NOTICE``), see
:data:`~shieldmutual.shared.nip01prefix.BAD_ID` and the messages below.

Work that waits (saving an event, querying stored events, counting) runs in tasks so
one connection can pipeline EVENTs and a slow query never holds up its CLOSE. At most
:data:`MAX_BUSY` such tasks, and a quarter of the memory budget in events being saved,
per connection; beyond that the loop stops reading, which pushes back on the client
through TCP.

Stages: sending and the memory budget are :class:`~shieldmutual.relay.outgoing.Outgoing`'s,
stored reads (REQ back-fill, COUNT) :mod:`~shieldmutual.relay.backfill`'s, refusals
:mod:`~shieldmutual.relay.policy`'s, gift-wrap visibility :mod:`~shieldmutual.relay.access`'s
and NIP-77 :mod:`~shieldmutual.relay.negentropy`'s; this module reads and dispatches.
A query or count that fails ends with ``CLOSED "error: ..."``, logged (rate-limited),
and frees its subscription slot.

Nothing here logs an IP address or any client identifier: connections are numbered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from shieldmutual.relay import policy
from shieldmutual.relay.backfill import count, failure, take_pending
from shieldmutual.relay.host import Host
from shieldmutual.relay.ingest import Outcome
from shieldmutual.relay.limits import Bucket, TimeBucket
from shieldmutual.relay.negentropy import NegSessions, is_neg_message
from shieldmutual.relay.outgoing import Outgoing
from shieldmutual.relay.store.base import EventStore, SaveResult
from shieldmutual.relay.subscriptions import Subscription
from shieldmutual.relay.trim import TRIM_AFTER
from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import (
    ClientAuth,
    ClientClose,
    ClientCount,
    ClientEvent,
    ClientReq,
    ParseError,
    auth_frame,
    closed_frame,
    notice_frame,
    ok_frame,
    parse_client_message,
)
from shieldmutual.shared.nip01prefix import blocked, error, invalid, rate_limited
from shieldmutual.shared.nip42 import check_auth

log = logging.getLogger("shieldmutual.relay")

MAX_BUSY = 1000  # in-flight saves/queries per connection before reading pauses
YIELD_EVERY = 32  # messages handled back to back before letting other connections run
_numbers = itertools.count(1)


class Connection(Outgoing[Host]):
    """The relay side of one websocket."""

    __slots__ = (
        "_room",
        "_tasks",
        "authed",
        "busy",
        "challenge",
        "event_bucket",
        "invalid_bucket",
        "limits",
        "neg",
        "page_size",
        "query_time",
        "reading",
        "req_bucket",
        "saving",
        "subs",
    )

    def __init__(self, relay: Host, ws: ServerConnection) -> None:
        super().__init__(relay, ws, next(_numbers))
        config = relay.config
        self.limits = config.limits
        self.subs: dict[str, Subscription] = {}
        # Replaced, never grown: every connection shares the empty one (a set is 216 bytes).
        self.authed: frozenset[str] = frozenset()
        self.challenge = secrets.token_urlsafe(24)
        rates = config.rate_limits
        self.event_bucket = Bucket(rates.events_per_second, rates.events_burst)
        self.req_bucket = Bucket(rates.reqs_per_second, rates.reqs_burst)
        self.invalid_bucket = Bucket(rates.invalid_per_second, rates.invalid_burst)
        self.query_time = TimeBucket(rates.query_seconds_per_second, rates.query_seconds_burst)
        # A page of the largest events may take a quarter of the budget.
        self.page_size = max(8, min(256, self.max_held // (4 * self.limits.max_event_size)))
        self.reading = asyncio.Lock()  # one result page in flight per connection
        # in-flight work
        self.busy = 0
        self.saving = 0  # bytes of events being saved, also charged to the budget
        self._room: asyncio.Future[None] | None = None
        # In-flight work, True for reads (REQ, COUNT, NIP-77), which are cancelled when the
        # client leaves. One container, not two: there is one per connection, idle or not.
        self._tasks: dict[asyncio.Task[None], bool] = {}
        self.neg = NegSessions(self)  # NIP-77

    # ---- the read loop ---------------------------------------------------------

    async def run(self) -> None:
        relay = self.relay
        relay.connections.add(self)
        try:
            await self.ws.send(auth_frame(self.challenge), text=True)
            handled = 0
            while True:
                message = await self.ws.recv()
                if self.closing:
                    # The relay is closing it (flood, slow reader, shutdown): keep
                    # reading, unanswered, so the client's close frame gets through.
                    continue
                self.handle(message)
                handled += 1
                if self.busy >= MAX_BUSY or self.saving > self.max_held // 4:
                    self._room = asyncio.get_running_loop().create_future()
                    await self._room
                elif handled % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except ConnectionClosed:
            pass
        except Exception:
            relay.logs.log(
                logging.ERROR,
                "internal error",
                "connection %d: internal error; closing it",
                self.number,
                exc_info=True,
            )
            self.closing = True
            await self._close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self.closing = True
        self._release_all()
        reads = [task for task, read in self._tasks.items() if read]
        for task in reads:  # the client left: its queries are of no use
            task.cancel()
        if self._writer is not None:
            self._writer.cancel()
        for future in self._drained:
            if not future.done():
                future.cancel()
        self.relay.connections.discard(self)
        if self.peak >= TRIM_AFTER:
            self.relay.trimmer.request_after(reads)

    def _release_all(self) -> None:
        """Drop every subscription too. (A result page in flight is released by its
        task, which that cancels.)"""
        for sub in self.subs.values():
            self._drop(sub)
        self.subs.clear()
        self.neg.close_all()
        super()._release_all()

    def handle(self, message: str | bytes) -> None:
        """Answer one message; never raises for anything the client sent."""
        if isinstance(message, bytes):
            self.invalid(invalid("binary frames are not supported; send JSON as text"))
            return
        limit = self.limits.max_message_length
        if len(message) * 4 > limit:  # only then can its UTF-8 form be over the limit
            size = len(message.encode("utf-8", "surrogatepass"))
            if size > limit:
                self.invalid(invalid(f"message is {size} bytes, more than {limit}"))
                return
        if is_neg_message(message):
            self.neg.handle(message)
            return
        try:
            msg = parse_client_message(message)
        except ParseError as exc:
            self._refuse(exc)
            return
        if isinstance(msg, ClientEvent):
            self.on_event(msg.event)
        elif isinstance(msg, ClientReq):
            self.on_req(msg.subscription_id, msg.filters)
        elif isinstance(msg, ClientClose):
            self.on_close(msg.subscription_id)
        elif isinstance(msg, ClientCount):
            self.on_count(msg.subscription_id, msg.filters)
        elif isinstance(msg, ClientAuth):
            self.on_auth(msg.event)

    def _refuse(self, exc: ParseError) -> None:
        """A message that does not parse: OK or CLOSED when its id was readable."""
        message = exc.wire()
        event_id = exc.event_id
        if event_id is not None and 0 < len(event_id) <= 64:
            self.count_invalid()
            self.send(ok_frame(event_id, False, message))
        elif exc.subscription_id is not None:
            self.count_invalid()
            old = self.subs.pop(exc.subscription_id, None)
            if old is not None:
                self._drop(old)
            self.send(closed_frame(exc.subscription_id, message))
        else:
            self.invalid(message)

    def invalid(self, message: str) -> None:
        if self.count_invalid():
            self.send(notice_frame(message))

    def count_invalid(self) -> bool:
        """Take a token for a malformed message; False when the connection was closed."""
        if self.invalid_bucket.take():
            return True
        self.close(CloseCode.POLICY_VIOLATION, rate_limited("too many invalid messages"))
        return False

    # ---- EVENT -----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if not self.event_bucket.take():
            rate = self.relay.config.rate_limits.events_per_second
            self.send(ok_frame(event.id, False, rate_limited(f"at most {rate:g} events a second")))
            return
        if self.relay.stopping:
            self.send(ok_frame(event.id, False, policy.SHUTTING_DOWN))
            return
        raw = event.to_json()
        ctx = policy.Context(self.relay.config, int(time.time()), self.authed, len(raw))
        refusal = self.relay.ingest.screen(event, ctx)
        if refusal is not None:
            self.send(ok_frame(event.id, False, refusal))
            return
        # Held until saved; past a quarter of the budget the read loop pauses instead.
        self.saving += len(raw)
        self.hold(len(raw))
        self.busy += 1
        self.relay.ingest.submit(event, raw, self._saved)

    def _saved(self, event: Event, raw: bytes, outcome: Outcome) -> None:
        """The event's OK, once committed (or refused), then its live fan-out."""
        self.saving -= len(raw)
        self.release(len(raw))
        self.busy -= 1
        if isinstance(outcome, Exception):
            self.failed("save", outcome)
            outcome = SaveResult(False, failure(outcome, error("could not store the event")))
        self.send(ok_frame(event.id, outcome.accepted, outcome.message))
        self.relay.ingest.fan_out(event, raw, outcome)
        self._make_room()

    # ---- REQ / CLOSE -----------------------------------------------------------

    @property
    def store(self) -> EventStore:
        return self.relay.store

    def ask(self, sub_id: str, filters: Sequence[Filter]) -> str | None:
        """The refusal of a REQ, COUNT or NEG-OPEN (policy's filter rules), or None."""
        relay = self.relay
        ask = policy.Ask(
            relay.config,
            sub_id,
            filters,
            self.authed,
            self.req_bucket,
            self.query_time,
            relay.stopping,
        )
        return policy.check_filters(relay.filter_rules, ask)

    def on_req(self, sub_id: str, filters: Sequence[Filter]) -> None:
        old = self.subs.pop(sub_id, None)
        if old is not None:  # a reused id replaces the old subscription
            self._drop(old)
        refusal = self.ask(sub_id, filters)
        if refusal is None and len(self.subs) >= self.limits.max_subscriptions:
            refusal = blocked(
                f"at most {self.limits.max_subscriptions} open subscriptions; CLOSE one first"
            )
        if refusal is not None:
            self.send(closed_frame(sub_id, refusal))
            return
        sub = Subscription(self, sub_id, filters)
        self.subs[sub_id] = sub
        self.relay.index.add(sub)  # live first, so nothing slips between query and EOSE
        self.relay.backfills.submit(self, sub)

    def end(self, sub: Subscription, message: str) -> None:
        """Close a subscription from the relay's side."""
        if self.subs.get(sub.sub_id) is sub:
            del self.subs[sub.sub_id]
            self._drop(sub)
        self.send(closed_frame(sub.sub_id, message))

    def _drop(self, sub: Subscription) -> None:
        self.relay.index.remove(sub)
        self.relay.backfills.forget(self, sub)
        task = sub.task
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()  # the store drops a queued statement, interrupts a running one
        sub.task = None
        take_pending(self, sub)

    def on_close(self, sub_id: str) -> None:
        sub = self.subs.pop(sub_id, None)
        if sub is not None:
            self._drop(sub)

    # ---- COUNT -----------------------------------------------------------------

    def on_count(self, sub_id: str, filters: Sequence[Filter]) -> None:
        refusal = self.ask(sub_id, filters)
        if refusal is not None:
            self.send(closed_frame(sub_id, refusal))
            return
        self.spawn(count(self, sub_id, filters), read=True)

    def failed(self, what: str, exc: Exception) -> None:
        """Log a failed save, query or count once, rate-limited per cause; a traceback
        only for what the store did not expect."""
        logs = self.relay.logs
        if isinstance(exc, ShieldError):
            logs.log(logging.WARNING, what, "connection %d: %s failed: %s", self.number, what, exc)
        else:
            logs.log(
                logging.ERROR, what, "connection %d: %s failed", self.number, what, exc_info=exc
            )

    # ---- AUTH ------------------------------------------------------------------

    def on_auth(self, event: Event) -> None:
        if not self.event_bucket.take():
            self.send(ok_frame(event.id, False, rate_limited("too many AUTH attempts")))
            return
        refusal = check_auth(event, self.challenge, self.relay.addresses, int(time.time()))
        if refusal is None:
            self.authed |= {event.pubkey}
            log.debug("connection %d: authenticated a key", self.number)
        self.send(ok_frame(event.id, refusal is None, refusal or ""))

    # ---- tasks -----------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None], *, read: bool = False) -> asyncio.Task[None]:
        """Run ``coro`` as this connection's work; ``read`` work (queries, counts) is
        cancelled when the client leaves. (Saves are the ingest's batches, not tasks.)"""
        task = asyncio.get_running_loop().create_task(coro)
        self.busy += 1
        self._tasks[task] = read
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self.busy -= 1
        if not task.cancelled():
            exc = task.exception()
            if exc is not None and not isinstance(exc, ConnectionClosed):
                self.relay.logs.log(
                    logging.ERROR, "task", "connection %d: task failed", self.number, exc_info=exc
                )
        self._make_room()

    def _make_room(self) -> None:
        """Resume a paused read loop once half its in-flight work is done."""
        room = self._room
        if (
            room is not None
            and not room.done()
            and self.busy < MAX_BUSY // 2
            and self.saving <= self.max_held // 8
        ):
            room.set_result(None)
