"""Many relays at once: publish to all, subscribe across all, survive relays coming and going.

The public API (everything else is internal)::

    async with Pool(["ws://a", "ws://b"], options=PoolOptions(ok_timeout=5)) as pool:
        report = await pool.publish(event)             # PublishReport, one result per relay
        report.acks, report.ok(min_acks=2)
        for r in report.results: r.relay, r.status, r.message, r.elapsed

        async with pool.subscribe([Filter(kinds=frozenset({1}))], stream=True) as sub:
            async for event in sub:                     # verified, de-duplicated Events
                ...
            # or: async for item in sub.items(): item is an Event or the EOSE marker
            sub.eose                        # asyncio.Event: overall end of stored events
            sub.stats["ws://a"].status      # per-relay eose / timeout / unreachable ...

        events = await pool.fetch([flt])           # stored events until overall EOSE
        events = await pool.fetch_paged([flt])     # past a relay's result cap

Filters are :class:`~shieldmutual.shared.filter.Filter` objects from end to end: built
once by the caller, matched as they are, encoded only into the REQ frame.

Design:

* One :class:`RelayConnection` per URL, shared by every publish and subscription of the
  pool. A supervisor task owns the socket: it connects, re-sends every active REQ, reads,
  and on a drop reconnects with exponential backoff (jitter, a cap; a session that ends
  at once counts as a failure) while anything still needs the relay. A relay that sends
  a frame over ``max_message_size`` is held off for the longest delay. An idle
  connection that drops is not re-opened until it is needed.
* Every wait has a timeout (connect, OK, EOSE); relays are handled concurrently, so a slow
  or dead relay costs its own timeout and never blocks the others. Once one relay sent
  EOSE (or answered a publish), the others get a short grace (``eose_grace``), not the
  whole ``eose_timeout`` or ``ok_timeout``. A relay that let a grace run out is *lagging*
  (``Pool.lagging``, told once to ``on_lagging``): later calls of the same pool go on
  without waiting for it, until it answers again, so a relay that accepts TCP and never
  speaks costs one grace per command, not one per query.
* Bounded memory against floods: a subscription holds at most ``queue_limit`` events for
  a slow reader, then stops reading the relay (TCP pushes back), and remembers at most
  ``seen_limit`` ids for de-duplication.
* A subscription verifies every event (id and signature) and checks it matches one of its
  filters before it counts as seen; only then is its id added to the de-duplication set,
  so a relay that forges an id cannot suppress the genuine event from another relay. A
  long read (past ``offload_after`` events) has the signatures checked in batches by one
  worker process per pool (client/verifier.py), its events kept in arrival order meanwhile
  (client/pool_order.py); the worker ends when the pool closes.
* Resume: after a relay answered EOSE, a reconnect sends the filters again with
  ``since = last activity - resume_slack`` and without ``limit``; anything re-sent is
  dropped by the de-duplication set. Before EOSE, the original filters are sent again.
* Privacy: subscription ids are random per relay (relays cannot correlate one query
  across relays), and no User-Agent header is sent. With ``proxy`` (socks5h, e.g. Tor)
  every socket goes through it, names resolved there; nothing is dialled directly.
* NIP-42: with ``auth=SecretKey`` the pool answers AUTH challenges, holds a REQ or EVENT
  a moment for an AUTH in flight to be answered, and retries once a publish or REQ the relay refused
  with ``auth-required:`` (or ``restricted:`` before AUTH), read through strfry's
  ``ERROR: `` wrapper (shared/nip01prefix.py). Without a key it never authenticates.

The parts, along nostr-tools' seams: ``pool_connect`` (dialling, proxy, backoff),
``pool_socket`` (one relay's websocket, reconnecting), ``pool_relay`` (one relay's Nostr
side: REQs, OKs, AUTH via ``pool_ok`` and ``pool_auth``), ``pool_subscription`` (merged
subscriptions), ``pool_report`` (publish results), ``pool_options``; the calls between
them are the protocols of ``pool_protocols``. This module is the :class:`Pool` that ties
them together, and the names callers import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from shieldmutual.client.config import normalize_relays
from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_options import PoolOptions as PoolOptions
from shieldmutual.client.pool_protocols import Closable
from shieldmutual.client.pool_report import PublishReport as PublishReport
from shieldmutual.client.pool_report import PublishResult as PublishResult
from shieldmutual.client.pool_report import Status as Status
from shieldmutual.client.pool_subscription import EOSE as EOSE
from shieldmutual.client.pool_subscription import Marker as Marker
from shieldmutual.client.pool_subscription import RelayState as RelayState
from shieldmutual.client.pool_subscription import RelaySubStats as RelaySubStats
from shieldmutual.client.pool_subscription import Subscription as Subscription
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

if TYPE_CHECKING:
    from shieldmutual.client.pool_relay import RelayConnection
    from shieldmutual.client.verifier import Verifier


# Paging (Pool.fetch_paged). Relays cap the results of one filter (ours and strfry at 500,
# others lower), silently: a page this full may have been cut short, so the next one is
# asked for. A filter's pages stop at MAX_PAGED events, bounding memory and traffic.
PAGE = 500
FULL = 100
MAX_PAGED = 5_000


# ---- the pool --------------------------------------------------------------------------


class Pool:
    """Connections to many relays. ``relays`` is the default set for every call."""

    def __init__(
        self,
        relays: Iterable[str] = (),
        *,
        options: PoolOptions | None = None,
        auth: SecretKey | None = None,
    ) -> None:
        self.relays = normalize_relays(relays)
        self.options = options or PoolOptions()
        self.auth = auth
        self._connections: dict[str, RelayConnection] = {}
        self._subscriptions: set[Closable] = set()
        self._verifier: Verifier | None = None
        self.lagging: set[str] = set()
        # Told each relay that becomes lagging, with why (the CLI names it on stderr), and
        # the relays a grace is running for (the CLI's progress line names them).
        self.on_lagging: Callable[[str, str], None] | None = None
        self.on_waiting: Callable[[list[str]], None] | None = None

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _targets(self, relays: Iterable[str] | None) -> list[str]:
        targets = normalize_relays(relays) if relays is not None else list(self.relays)
        if not targets:
            raise RelayError("no relays: add one with `mas relays add URL` or pass -r URL")
        return targets

    def connection(self, url: str) -> RelayConnection:
        conn = self._connections.get(url)
        if conn is None:
            # Imported on first use: websockets is most of a network command's start-up,
            # and commands that only name the pool's types never open a socket.
            from shieldmutual.client.pool_relay import RelayConnection

            conn = self._connections[url] = RelayConnection(url, self.options, self.auth)
        return conn

    @property
    def verifier_pid(self) -> int | None:
        """The signature worker's process id while it runs (long subscriptions start it,
        short commands never do; it ends with the pool)."""
        verifier = self._verifier
        return verifier.pid if verifier is not None and verifier.running else None

    def verifier(self) -> Verifier:
        """The signature worker shared by this pool's subscriptions, started on first call."""
        if self._verifier is None:
            from shieldmutual.client.verifier import Verifier

            self._verifier = Verifier()
        return self._verifier

    def track(self, sub: Closable) -> None:
        """``sub`` started: :meth:`close` ends it."""
        self._subscriptions.add(sub)

    def untrack(self, sub: Closable) -> None:
        self._subscriptions.discard(sub)

    def lag(self, url: str, why: str) -> None:
        """``url`` let a grace run out: later calls do not wait for it."""
        if url not in self.lagging:
            self.lagging.add(url)
            if self.on_lagging is not None:
                self.on_lagging(url, why)

    def waiting(self, urls: list[str]) -> None:
        """Others answered; a grace now runs for ``urls``."""
        if self.on_waiting is not None:
            self.on_waiting(urls)

    def answered(self, url: str) -> None:
        """``url`` answered (EOSE, an OK): it holds up later calls again, like any relay."""
        self.lagging.discard(url)

    async def publish(self, event: Event, relays: Iterable[str] | None = None) -> PublishReport:
        """Send ``event`` to every relay concurrently; one :class:`PublishResult` each.

        Once one relay has answered, the others get :meth:`_grace` (a lagging relay none);
        one still silent then is reported as a timeout and left behind.
        """
        # Imported here, as pool_relay is (see connection()): publishing opens sockets anyway.
        from shieldmutual.shared.messages import ClientEvent

        targets = self._targets(relays)
        frame = ClientEvent(event).encode()  # once, however many relays
        if len(targets) == 1:
            return PublishReport(event, (await self.connection(targets[0]).publish(event, frame),))
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = {u: loop.create_task(self.connection(u).publish(event, frame)) for u in targets}
        pending: set[asyncio.Task[PublishResult]] = set(tasks.values())
        deadline: float | None = None
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                break
            silent = [u for u, t in tasks.items() if t in pending]
            if all(u in self.lagging for u in silent):
                break
            slowest = max(t.result().elapsed for t in tasks.values() if t.done())
            deadline = loop.time() + max(self.options.eose_grace, 2 * slowest)
            self.waiting(silent)
        return PublishReport(event, tuple(self._settled(event, tasks, loop.time() - start)))

    def _settled(
        self, event: Event, tasks: Mapping[str, asyncio.Task[PublishResult]], waited: float
    ) -> Iterable[PublishResult]:
        for url, task in tasks.items():
            if task.done():
                self.answered(url)
                yield task.result()
                continue
            task.cancel()
            why = "no OK after the other relays answered"
            self.lag(url, why)
            yield PublishResult(url, event.id, Status.TIMEOUT, why, waited)

    def subscribe(
        self,
        filters: Iterable[Filter],
        relays: Iterable[str] | None = None,
        *,
        stream: bool = False,
        eose_timeout: float | None = None,
    ) -> Subscription:
        """A merged subscription; start it with ``async with`` (or ``await sub.start()``).

        Without ``stream`` it ends at the overall EOSE: every relay answered EOSE, refused,
        was unreachable, or hit ``eose_timeout``. With ``stream`` it follows live events
        until closed, reconnecting dropped relays and resuming them with ``since``.
        """
        return Subscription(
            self,
            list(filters),
            self._targets(relays),
            stream=stream,
            eose_timeout=self.options.eose_timeout if eose_timeout is None else eose_timeout,
        )

    async def fetch(
        self,
        filters: Iterable[Filter],
        relays: Iterable[str] | None = None,
        *,
        eose_timeout: float | None = None,
    ) -> list[Event]:
        """Stored events up to the overall EOSE, newest first."""
        async with self.subscribe(filters, relays, eose_timeout=eose_timeout) as sub:
            events = [event async for event in sub]
        return sorted(events, key=lambda e: (-e.created_at, e.id))

    async def fetch_paged(
        self,
        filters: Iterable[Filter],
        relays: Iterable[str] | None = None,
        *,
        max_events: int = MAX_PAGED,
    ) -> list[Event]:
        """Stored events of every filter, newest first, past a relay's result cap: each
        filter that came back full is asked again with ``until`` its oldest event (that
        second is asked again, so nothing sharing it is lost; ids de-duplicate), until a
        page brings nothing new or ``max_events`` came for that filter. One REQ a page;
        a filter with its own ``limit`` is sent once, as it is."""
        given = list(filters)
        todo = [replace(f, limit=PAGE) if f.limit is None else f for f in given]
        pageable = [f.limit is None for f in given]
        found: dict[str, Event] = {}
        counted = [0] * len(todo)
        pending = list(range(len(todo)))
        while pending:
            page = await self.fetch([todo[i] for i in pending], relays)
            again = []
            for i in pending:
                mine = [e for e in page if todo[i].matches(e)]
                counted[i] += sum(e.id not in found for e in mine)
                full = pageable[i] and len(mine) >= FULL
                if full and counted[i] < max_events and any(e.id not in found for e in mine):
                    todo[i] = replace(todo[i], until=min(e.created_at for e in mine))
                    again.append(i)
            found.update((e.id, e) for e in page)
            pending = again
        return sorted(found.values(), key=lambda e: (-e.created_at, e.id))

    async def close(self) -> None:
        """End every subscription and close every socket."""
        for sub in list(self._subscriptions):
            await sub.close()
        await asyncio.gather(*(c.close() for c in self._connections.values()))
        self._connections.clear()
        if self._verifier is not None:
            await self._verifier.close()
            self._verifier = None
