"""The harness of issue 10's attack suite: a real ``mas-relay`` subprocess under attack,
watched by a well-behaved canary client and by its own RSS.

``arena(config="", db=None)``  async factory: starts ``mas-relay`` (tests/conftest.py's
                               ``relay_process``) with ``config`` as its TOML file, then
                               an :class:`Arena` around it: a :class:`Canary` publishing
                               and querying every 0.1-0.25 s, and an RSS sampler. A test
                               ends with ``await arena.finish()``, which asserts the
                               canary's REQ->EOSE p99 under :data:`CANARY_P99_MS`, no
                               canary errors, RSS never over ``[server] max_memory``, no
                               traceback in the relay's log and the relay still running.
``stalled(url, **kw)``         async factory: a websocket client that reads nothing after
                               the relay's AUTH challenge (tiny socket buffers, websockets
                               pauses reading), so everything sent to it piles up.
``big_events_db``              path of a session-wide database of :data:`BIG_EVENTS`
                               ~8 KB kind 1 notes (~35 MB), written through a real relay.
``small_events_db``            the same with :data:`SMALL_EVENTS` small notes.
``db_copy(src)``               a private copy of such a database for one test's relay.

Waits are conditions with deadlines (``arena.until``, canary rounds), never fixed
sleeps; ``arena.until`` also fails at once when the relay's RSS passes its budget, so a
leaking relay fails the test in seconds instead of eating the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import shutil
import socket
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from shieldmutual.relay.config import Config
from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from tests import waiting

# The bound on this 2-core box: the canary's REQ->EOSE p99 while under attack.
CANARY_P99_MS = 100.0
CANARY_TIMEOUT = 10.0  # a canary REQ or EVENT unanswered this long is an error
DEFAULT_MAX_MEMORY = 512 * 2**20  # [server] max_memory when a test's config sets none
RSS_POLL = 0.05  # seconds between RSS samples
BIG_EVENTS = 4_000  # ~8 KB notes in big_events_db
SMALL_EVENTS = 10_000  # short notes in small_events_db (bench/attack/query_flood.py: 100k)
FILL_AT = int(time.time()) - 3600  # the seeded notes are an hour old, newest last


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """A resident-memory line of ``/proc/PID/status`` in bytes (0 once the process is
    gone): ``VmRSS`` in all, ``RssAnon`` the heap and stacks alone, without the pages of
    the database file SQLite maps into the relay (``RssFile``)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile (the maximum below 100 samples)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


# ---- the canary --------------------------------------------------------------------


class Canary:
    """A well-behaved user beside the attack: publish one note, then one small REQ, every
    0.1-0.25 s; ``eose_ms``/``ok_ms`` hold the latencies, ``errors`` anything unexpected."""

    KEY = SecretKey(hashlib.sha256(b"shieldmutual-attack-canary").digest())

    def __init__(self, client: Any) -> None:
        self.client = client
        self.eose_ms: list[float] = []
        self.ok_ms: list[float] = []
        self.errors: list[str] = []
        self.rounds = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        client, pubkey = self.client, self.KEY.public_hex
        n = 0
        while not self._stop.is_set():
            n += 1
            note = sign(self.KEY, 1, f"canary {n}", [["t", "canary"]])
            try:
                t0 = time.perf_counter()
                ok = await client.publish(note, timeout=CANARY_TIMEOUT)
                self.ok_ms.append(1000 * (time.perf_counter() - t0))
                if ok[2] is not True:
                    self.errors.append(f"OK false: {ok[3]}")
                t0 = time.perf_counter()
                await client.req(f"c{n}", {"authors": [pubkey], "limit": 3}, timeout=CANARY_TIMEOUT)
                self.eose_ms.append(1000 * (time.perf_counter() - t0))
                await client.send("CLOSE", f"c{n}")
            except Exception as exc:  # a timeout, CLOSED or a dropped connection
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if isinstance(exc, TimeoutError):
                    self.eose_ms.append(1000 * CANARY_TIMEOUT)
                    continue
                return
            self.rounds += 1
            # a person's pace, not a wait for a condition
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1 + 0.15 * (n % 4) / 3)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, CANARY_TIMEOUT * 2 + 5)

    @property
    def gave_up(self) -> bool:
        """It stopped by itself: the relay closed it or refused something."""
        return self._task is not None and self._task.done() and not self._stop.is_set()

    def mark(self) -> int:
        """An index into ``eose_ms``: latencies measured from now on start there."""
        return len(self.eose_ms)


# ---- the arena ----------------------------------------------------------------------


class OverBudget(AssertionError):
    """The relay's RSS passed its configured ``[server] max_memory``."""


class Arena:
    """One relay subprocess under attack, with its canary and RSS sampler."""

    def __init__(self, proc: Any, canary: Canary, budget: int) -> None:
        self.proc = proc
        self.pid: int = proc.proc.pid
        self.url: str = proc.url
        self.canary = canary
        self.budget = budget
        self.canary_bound_ms = CANARY_P99_MS
        self.rss_max = 0
        self.rss_at_start = rss_bytes(self.pid)
        self._sampler: asyncio.Task[None] | None = None

    @property
    def rss(self) -> int:
        return rss_bytes(self.pid)

    @property
    def anon(self) -> int:
        """Anonymous resident memory: what the relay allocated, not file pages."""
        return rss_bytes(self.pid, "RssAnon")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> None:
        self.canary.start()
        self._sampler = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.rss_max = max(self.rss_max, self.rss)
            await asyncio.sleep(RSS_POLL)  # the sampling clock

    def check_budget(self) -> None:
        rss = self.rss
        self.rss_max = max(self.rss_max, rss)
        if self.rss_max > self.budget:
            raise OverBudget(
                f"relay RSS reached {self.rss_max / 2**20:.0f} MiB, "
                f"over its max_memory of {self.budget / 2**20:.0f} MiB"
            )
        assert self.proc.proc.poll() is None, "mas-relay exited:\n" + "".join(self.proc.log[-30:])

    async def until(
        self, predicate: Callable[[], bool | Awaitable[bool]], timeout: float, what: str
    ) -> None:
        """Poll ``predicate`` until true; fails on timeout (saying how much memory the
        relay holds), or at once when RSS goes over budget or the relay dies."""

        async def holds() -> bool:
            self.check_budget()
            result = predicate()
            return bool(await result if inspect.isawaitable(result) else result)

        try:
            await waiting.until(holds, timeout, what, every=RSS_POLL)
        except waiting.TimedOut as timed_out:
            raise waiting.TimedOut(
                f"{timed_out} (relay RSS {self.rss / 2**20:.0f} MiB of which anonymous "
                f"{self.anon / 2**20:.0f}; {self.rss_at_start / 2**20:.0f} MiB at start)"
            ) from None

    async def canary_rounds(self, rounds: int, timeout: float = 30.0) -> None:
        """Let the canary complete ``rounds`` more rounds (the attack's duration)."""
        canary = self.canary
        goal = canary.rounds + rounds

        def done() -> bool:
            assert not canary.gave_up, f"the canary gave up: {canary.errors}"
            return canary.rounds >= goal

        await self.until(done, timeout, f"{rounds} canary rounds")

    def log_text(self) -> str:
        return "".join(self.proc.log)

    async def close(self) -> None:
        """Stop the sampler and the canary (teardown: no assertions)."""
        if self._sampler is not None:
            self._sampler.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.canary.stop(), 5)

    async def finish(self) -> None:
        """Let the canary run three more rounds (the relay still serves after the
        attack), stop it and assert the relay served it well and stayed healthy."""
        await self.canary_rounds(3)
        await self.canary.stop()
        if self._sampler is not None:
            self._sampler.cancel()
        self.check_budget()
        c = self.canary
        assert not c.errors, f"canary errors: {c.errors[:5]}"
        worst = p99(c.eose_ms)
        print(  # shown with -rP: what the margins were
            f"canary: {len(c.eose_ms)} REQs, REQ->EOSE p99 {worst:.1f} ms, max "
            f"{max(c.eose_ms):.1f} ms; relay RSS max {self.rss_max / 2**20:.0f} MiB "
            f"(budget {self.budget / 2**20:.0f}), {len(self.proc.log)} log lines"
        )
        assert worst < self.canary_bound_ms, (
            f"canary REQ->EOSE p99 {worst:.1f} ms over {self.canary_bound_ms:g} ms "
            f"({len(c.eose_ms)} REQs, max {max(c.eose_ms):.1f} ms)"
        )
        assert "Traceback" not in self.log_text(), self.log_text()[-3000:]


@pytest.fixture
async def arena(
    relay_process: Callable[..., Any],
    connect: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Arena]]]:
    made: list[Arena] = []

    async def make(config: str = "", db: Path | None = None) -> Arena:
        path = tmp_path / f"attack{len(made)}.toml"
        path.write_text(config)
        budget = tomllib.loads(config).get("server", {}).get("max_memory", DEFAULT_MAX_MEMORY)
        proc = relay_process("--config", str(path), db=db)
        canary = Canary(await connect(proc.url))
        arena = Arena(proc, canary, budget)
        arena.start()
        made.append(arena)
        return arena

    yield make
    for arena in made:
        await arena.close()


# ---- a client that stops reading ----------------------------------------------------


@pytest.fixture
async def stalled(
    connect: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """``client = await stalled(url)``: reads the AUTH challenge, then nothing more
    until the test calls ``client.recv`` (4 KiB socket buffer, websockets' queue of one
    message), so the relay's sends pile up on its side."""

    async def make(url: str, **kwargs: Any) -> Any:
        host, port = url.removeprefix("ws://").rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        return await connect(url, sock=sock, max_queue=1, max_size=2**20, **kwargs)

    return make


async def drain_close_code(client: Any, max_bytes: int, timeout: float = 30.0) -> int | None:
    """Read until the relay closes; the close code it sent (None: no close frame, the
    TCP stream was cut). Fails if more than ``max_bytes`` come first (the relay was still
    sending, not closing) or nothing ends within ``timeout``."""
    ws = client.ws
    drained = 0
    try:
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionClosed):
                while drained <= max_bytes:
                    drained += len(await ws.recv())
    except TimeoutError:
        raise AssertionError(f"the relay did not close the connection in {timeout} s") from None
    assert drained <= max_bytes, f"the relay kept sending ({drained} bytes) instead of closing"
    rcvd = ws.protocol.close_rcvd
    return None if rcvd is None else rcvd.code


@pytest.fixture
def close_code_of() -> Callable[..., Awaitable[int | None]]:
    """``await close_code_of(client)``: see :func:`drain_close_code`."""
    return drain_close_code


# ---- seeded databases ---------------------------------------------------------------


async def _fill(config: Config, events: list[Event]) -> None:
    """Store ``events`` through a real relay (in this process)."""
    relay = Relay(config)
    await relay.start()
    try:
        await asyncio.gather(*(_publish(relay.url, events[i::4]) for i in range(4)))
    finally:
        await relay.stop()


async def _publish(url: str, events: list[Event]) -> None:
    async with ws_connect(url, max_size=2**24, proxy=None) as ws:
        for chunk in range(0, len(events), 500):
            batch = events[chunk : chunk + 500]
            for event in batch:
                await ws.send(b'["EVENT",' + event.to_json() + b"]", text=True)
            oks = 0
            while oks < len(batch):
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
                if message[0] == "OK":
                    assert message[2] is True, message
                    oks += 1


def _seed(
    path: Path, count: int, content: Callable[[int], str], make_config: Callable[..., Config]
) -> Path:
    """``count`` notes stored at ``path`` through a relay with its rate limits off."""
    authors = [SecretKey(hashlib.sha256(b"attack-author-%d" % i).digest()) for i in range(20)]
    events = [
        sign(authors[i % 20], 1, content(i), [["t", f"topic{i % 10}"]], FILL_AT + i * 3600 // count)
        for i in range(count)
    ]
    unlimited = {"events_per_second": 0, "reqs_per_second": 0}
    asyncio.run(_fill(make_config(path, rate_limits=unlimited), events))
    return path


@pytest.fixture(scope="session")
def big_events_db(
    tmp_path_factory: pytest.TempPathFactory, make_relay_config: Callable[..., Config]
) -> Path:
    """:data:`BIG_EVENTS` kind 1 notes of ~8 KB each."""
    filler = "mutual aid " * 740  # 8,140 characters
    path = tmp_path_factory.mktemp("big") / "big.db"
    return _seed(path, BIG_EVENTS, lambda i: f"{i} {filler}", make_relay_config)


@pytest.fixture(scope="session")
def small_events_db(
    tmp_path_factory: pytest.TempPathFactory, make_relay_config: Callable[..., Config]
) -> Path:
    """:data:`SMALL_EVENTS` short kind 1 notes."""
    path = tmp_path_factory.mktemp("small") / "small.db"
    return _seed(path, SMALL_EVENTS, lambda i: f"water food shelter {i}", make_relay_config)


@pytest.fixture
def db_copy(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """``db_copy(src)``: a copy of a seeded database (and its WAL) for one relay."""

    def copy(src: Path) -> Path:
        dest = tmp_path / src.name
        for suffix in ("", "-wal", "-shm"):
            side = src.with_name(src.name + suffix)
            if side.exists():
                shutil.copyfile(side, dest.with_name(dest.name + suffix))
        return dest

    yield copy
