"""Live fan-out across relay processes that share one PostgreSQL database.

Each process keeps its own live index (relay/subscriptions.py) for its own
connections. An event accepted here (committed, or an ephemeral one that passed every
check) is delivered to the local index at once, as before, and also announced with
``NOTIFY`` on one channel; every process ``LISTEN``s on its own connection and hands
the events of *other* processes to its local index exactly as if it had accepted them
itself, so gift-wrap visibility and every other delivery rule stay in the one place
they live (``Index.notify`` and ``access.audience``).

* **Channel.** One per schema (``mas_relay_`` and a hash of ``current_schema()``), so
  relays on different schemas of one database stay apart, as their stores do.
* **Payload.** ``<origin> <event JSON>``, where ``origin`` is this process's random
  name (a process also hears its own notifications, and drops them: it delivered them
  locally already). PostgreSQL refuses payloads of 8000 bytes or more, so a larger
  event is written to ``fanout_payload`` (an UNLOGGED table: nothing to recover after a
  crash) and the payload is ``<origin> @<row id>``; the row is inserted in the same
  transaction as the ``NOTIFY``, so it is there when listeners hear of it. Rows older
  than a minute are deleted by the next large publish.
* **Order and batching.** One task publishes everything queued since its last round
  trip in one transaction (PostgreSQL delivers a transaction's notifications in order,
  after its commit), and one task delivers what was heard in the order it arrived.
* **Trust.** Events heard on the channel are not checked again: only the relay's own
  database role can ``NOTIFY`` there, and that role can already write events.
* **Gaps.** If the listening connection drops it is re-opened with backoff (logged);
  what other processes accepted meanwhile is not delivered live to this process's
  subscribers. They recover as from any relay restart: events are committed, and a
  REQ with ``since`` fetches them. Events waiting to be announced while the publishing
  connection is down are kept (at most :data:`MAX_OUTBOX`, then the oldest are dropped,
  logged) and sent once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import deque
from typing import Any

import asyncpg

from shieldmutual.relay.subscriptions import Index
from shieldmutual.shared.errors import ShieldError, StoreError
from shieldmutual.shared.event import Event

log = logging.getLogger("shieldmutual.relay.fanout")

# PostgreSQL's limit is "shorter than 8000 bytes"; leave room for the origin prefix.
MAX_NOTIFY = 7900
PAYLOAD_TTL = 60.0  # seconds a large event's row is kept for listeners to read it
MAX_OUTBOX = 10_000  # events waiting for the publishing connection
MAX_BATCH = 500
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
# Shown in pg_stat_activity, so an operator can tell these connections from the store's.
SETTINGS = {"application_name": "mas-relay fan-out"}

SCHEMA = """
CREATE UNLOGGED TABLE IF NOT EXISTS fanout_payload (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    raw text NOT NULL
)
"""
# Two workers starting together would race on CREATE TABLE IF NOT EXISTS.
SCHEMA_LOCK = 0x6D61_7366  # "masf"
INSERT_LARGE = """
INSERT INTO fanout_payload (raw) SELECT r FROM unnest($1::text[]) WITH ORDINALITY AS t(r, n)
ORDER BY n RETURNING id
"""
NOTIFY_ALL = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p"
PRUNE = "DELETE FROM fanout_payload WHERE created < now() - make_interval(secs => $1)"
READ_LARGE = "SELECT raw FROM fanout_payload WHERE id = $1"


class PgFanout:
    """The local index plus announcements to, and from, the other processes."""

    def __init__(self, url: str, index: Index) -> None:
        self.url = url
        self.index = index
        self.origin = os.urandom(8).hex()
        self._outbox: deque[bytes] = deque()
        self._inbox: deque[str] = deque()
        self._wake_publisher = asyncio.Event()
        self._wake_deliverer = asyncio.Event()
        self._announced = asyncio.Event()  # set while nothing waits to be announced
        self._announced.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: Any = None  # asyncpg.Connection while listening
        self._lost = asyncio.Event()
        self._pruned = 0.0
        self.channel = ""  # set by start(): it depends on the schema
        self.heard = 0  # events of other processes delivered here
        self.reconnects = 0  # times the listening connection was opened again

    # ---- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Create the payload table, start listening, then start the tasks. Raises
        StoreError (the relay does not start) when the database cannot be used now."""
        try:
            conn = await asyncpg.connect(self.url, server_settings=SETTINGS)
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
                    await conn.execute(SCHEMA)
                schema = str(await conn.fetchval("SELECT current_schema()"))
            finally:
                await conn.close()
            self.channel = "mas_relay_" + hashlib.sha256(schema.encode()).hexdigest()[:16]
            await self._listen()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The message names the server's complaint, never the URL (it may hold a password).
            raise StoreError(f"live fan-out cannot use PostgreSQL: {exc}") from None
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_listening()),
            loop.create_task(self._publish_loop()),
            loop.create_task(self._deliver_loop()),
        ]

    async def close(self) -> None:
        """Announce what is queued (for up to 2 s), then stop listening."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._announced.wait(), 2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None

    # ---- local side ------------------------------------------------------------

    def notify(self, event: Event, raw: bytes) -> int:
        """Deliver to this process's subscriptions now and queue the announcement."""
        delivered = self.index.notify(event, raw)
        if len(self._outbox) >= MAX_OUTBOX:
            self._outbox.popleft()
            log.warning("fan-out backlog over %d events: dropped the oldest", MAX_OUTBOX)
        self._outbox.append(raw)
        self._announced.clear()
        self._wake_publisher.set()
        return delivered

    # ---- publishing ------------------------------------------------------------

    async def _publish_loop(self) -> None:
        conn: Any = None
        backoff = BACKOFF_FIRST
        try:
            while True:
                await self._wake_publisher.wait()
                self._wake_publisher.clear()
                while self._outbox:
                    count = min(MAX_BATCH, len(self._outbox))
                    batch = [self._outbox.popleft() for _ in range(count)]
                    try:
                        if conn is None or conn.is_closed():
                            conn = await asyncpg.connect(self.url, server_settings=SETTINGS)
                        await self._publish(conn, batch)
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        log.warning("cannot announce events to other processes: %s", exc)
                        self._outbox.extendleft(reversed(batch))  # again once reconnected
                        if conn is not None:
                            conn.terminate()
                            conn = None
                        await asyncio.sleep(backoff)
                        backoff = min(BACKOFF_MAX, backoff * 2)
                        continue
                    backoff = BACKOFF_FIRST
                self._announced.set()
        finally:
            if conn is not None:
                conn.terminate()

    async def _publish(self, conn: Any, batch: list[bytes]) -> None:
        """One transaction: large events' rows, then every NOTIFY in order."""
        prefix = self.origin + " "
        texts = [raw.decode() for raw in batch]
        large = [t for t in texts if len(prefix) + len(t.encode()) >= MAX_NOTIFY]
        async with conn.transaction():
            keys: list[int] = []
            if large:
                keys = [row["id"] for row in await conn.fetch(INSERT_LARGE, large)]
                now = time.monotonic()
                if now - self._pruned > PAYLOAD_TTL / 4:
                    self._pruned = now
                    await conn.execute(PRUNE, PAYLOAD_TTL)
            rows = iter(keys)
            payloads = [
                prefix + (f"@{next(rows)}" if len(prefix) + len(t.encode()) >= MAX_NOTIFY else t)
                for t in texts
            ]
            await conn.execute(NOTIFY_ALL, self.channel, payloads)

    # ---- listening -------------------------------------------------------------

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.url, server_settings=SETTINGS)
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(self.channel, self._heard)
        self._listener = conn

    async def _keep_listening(self) -> None:
        """Re-open the listening connection whenever it drops (see the module's Gaps)."""
        while True:
            await self._lost.wait()
            log.warning("lost the fan-out connection to PostgreSQL; reconnecting")
            self._listener = None
            backoff = BACKOFF_FIRST
            while True:
                try:
                    await self._listen()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("fan-out reconnect failed (%s); retrying in %.1fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
                else:
                    self.reconnects += 1
                    log.info(
                        "fan-out listening again; events accepted meanwhile by other"
                        " processes were not delivered live here"
                    )
                    break

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, body = payload.partition(" ")
        if origin != self.origin:
            self._inbox.append(body)
            self._wake_deliverer.set()

    async def _deliver_loop(self) -> None:
        while True:
            await self._wake_deliverer.wait()
            self._wake_deliverer.clear()
            while self._inbox:
                body = self._inbox.popleft()
                try:
                    if body.startswith("@"):
                        body = await self._read_large(int(body[1:]))
                        if not body:
                            continue
                    raw = body.encode()
                    event = Event.from_json(raw)
                except (ShieldError, ValueError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("dropped an announcement from another process: %s", exc)
                    continue
                except asyncpg.InterfaceError as exc:  # the connection is being replaced
                    log.warning("could not read a large event from another process: %s", exc)
                    continue
                self.heard += 1
                self.index.notify(event, raw)

    async def _read_large(self, key: int) -> str:
        conn = self._listener
        if conn is None:
            return ""
        raw = await conn.fetchval(READ_LARGE, key)
        if raw is None:
            log.warning("a large event from another process was already pruned")
            return ""
        return str(raw)
