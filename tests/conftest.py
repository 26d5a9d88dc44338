"""Fixtures for testing against a real relay (shared by every test folder).

Relay-focused and dependency-free beyond the test extra; client-only fixtures live in
tests/client/conftest.py and tests/e2e/conftest.py. Async tests run under
pytest-asyncio (``asyncio_mode = "auto"`` in pyproject.toml).

``start_relay(**sections)``  async factory: a :class:`~shieldmutual.relay.server.Relay`
                             in this test's event loop on 127.0.0.1, port 0, with a
                             real SQLite file under ``tmp_path``; keyword arguments
                             change config tables, e.g.
                             ``await start_relay(policy={"aid_only": True})``.
                             Stopped (gracefully) at teardown.
``relay``                    one such relay with the default configuration.
``connect(url)``             async factory: a :class:`WsClient` (closed at teardown)
                             that has already read the relay's AUTH challenge.
``relay_process(...)``       factory: the real ``mas-relay`` console script as a
                             subprocess on port 0; returns a :class:`RelayProcess`
                             once its ready line was read (never a fixed sleep).
``module_relay_process``,    the same for a module-scoped fixture (a story told once and
``module_passphrase_fd``     read by several tests): they last until the module ends.
``until``                    ``await until(lambda: cond)``: tests/waiting.py's poll.
``keys``                     a few fixed secret keys: ``keys.alice``, ``keys.bob``...
``note``                     ``note(key, "text", kind=1, tags=[...], at=None)``: signed event
``smtp_inbox``               a real SMTP server (aiosmtpd) on loopback in a thread; can
                             be stopped and started again on its port (an outage).
``pg_cluster``               one throwaway PostgreSQL per session (tests/pgcluster.py);
                             skipped without PostgreSQL binaries, failed under CI.
``pg_url``                   a fresh, empty schema on it for one test, as an asyncpg URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import importlib.util
import itertools
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve

from bench.harness import RelayProcess
from shieldmutual.relay.config import Config
from shieldmutual.relay.server import Relay, http_response
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.negentropy import Negentropy, Storage
from tests import waiting

TIMEOUT = 5.0
_barriers = itertools.count(1)


# ---- keys and events --------------------------------------------------------------


@pytest.fixture
def keys() -> SimpleNamespace:
    """Fixed keys so failures reproduce: alice, bob, carol, dave."""
    return SimpleNamespace(
        **{
            name: SecretKey(bytes([i + 1]) * 32)
            for i, name in enumerate(("alice", "bob", "carol", "dave"))
        }
    )


def make_note(
    key: SecretKey,
    content: str = "",
    *,
    kind: int = 1,
    tags: Sequence[Sequence[str]] = (),
    at: int | None = None,
) -> Event:
    """A signed event, dated now unless ``at`` is given."""
    return sign(key, kind, content, tags, created_at=int(time.time()) if at is None else at)


@pytest.fixture
def note() -> Callable[..., Event]:
    """``note(key, "text", kind=1, tags=[["t", "x"]], at=None)``: a signed event."""
    return make_note


# ---- a tiny websocket client ---------------------------------------------------------


class WsClient:
    """JSON messages over one websocket, every wait bounded by ``timeout``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.challenge: str | None = None
        self.inbox: list[list[Any]] = []  # messages read while waiting for another

    async def send(self, *message: Any) -> None:
        """Send ``[*message]`` as JSON text; Event objects are turned into dicts."""
        items = [m.to_dict() if isinstance(m, Event) else m for m in message]
        await self.ws.send(orjson.dumps(items).decode())

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = TIMEOUT) -> list[Any]:
        """The next message (from the inbox first)."""
        if self.inbox:
            return self.inbox.pop(0)
        async with asyncio.timeout(timeout):
            return orjson.loads(await self.ws.recv())

    async def expect(
        self, predicate: Callable[[list[Any]], bool], timeout: float = TIMEOUT
    ) -> list[Any]:
        """The first message ``predicate`` accepts; others are kept in the inbox."""
        for i, message in enumerate(self.inbox):
            if predicate(message):
                return self.inbox.pop(i)
        skipped: list[list[Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = orjson.loads(await self.ws.recv())
                    if predicate(message):
                        return message
                    skipped.append(message)
        finally:
            self.inbox.extend(skipped)

    async def publish(self, event: Event | dict[str, Any], timeout: float = TIMEOUT) -> list[Any]:
        """Send EVENT and return the relay's ``["OK", id, accepted, message]``."""
        event_id = event.id if isinstance(event, Event) else event.get("id")
        await self.send("EVENT", event)
        return await self.expect(lambda m: m[0] == "OK" and m[1] == event_id, timeout)

    async def publish_many(self, events: Sequence[Event | dict[str, Any]]) -> None:
        """Send every EVENT, then wait for every OK, each of which must accept: a few
        hundred events take well under a second pipelined."""
        for event in events:
            await self.send("EVENT", event)
        wanted = {e.id if isinstance(e, Event) else e["id"] for e in events}
        while wanted:
            ok = await self.expect(lambda m: m[0] == "OK" and m[1] in wanted)
            assert ok[2], ok
            wanted.discard(ok[1])

    async def req(
        self, sub_id: str, *filters: dict[str, Any], timeout: float = TIMEOUT
    ) -> list[dict[str, Any]]:
        """Stored events for a REQ, in the order sent, up to its EOSE. A CLOSED
        instead raises :class:`Closed` with the relay's message."""
        await self.send("REQ", sub_id, *filters)
        return await self.collect(sub_id, timeout)

    async def collect(self, sub_id: str, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while True:
            message = await self.expect(
                lambda m: m[0] in ("EVENT", "EOSE", "CLOSED") and m[1] == sub_id, timeout
            )
            if message[0] == "EOSE":
                return events
            if message[0] == "CLOSED":
                raise Closed(message[2])
            events.append(message[2])

    async def refused(self, verb: str, sub_id: str, *filters: dict[str, Any]) -> str:
        """Send REQ or COUNT that the relay must refuse; its CLOSED message."""
        await self.send(verb, sub_id, *filters)
        message = await self.expect(
            lambda m: m[0] in ("EOSE", "COUNT", "CLOSED") and m[1] == sub_id
        )
        assert message[0] == "CLOSED", f"expected CLOSED, got {message}"
        return str(message[2])

    async def count(self, sub_id: str, *filters: dict[str, Any]) -> int:
        await self.send("COUNT", sub_id, *filters)
        message = await self.expect(lambda m: m[0] in ("COUNT", "CLOSED") and m[1] == sub_id)
        if message[0] == "CLOSED":
            raise Closed(message[2])
        return int(message[2]["count"])

    async def auth(self, key: SecretKey, relay_url: str, challenge: str | None = None) -> list[Any]:
        """Answer the relay's challenge (NIP-42); returns the OK."""
        tags = [["relay", relay_url], ["challenge", challenge or self.challenge or ""]]
        event = sign(key, 22242, "", tags)
        await self.send("AUTH", event)
        return await self.expect(lambda m: m[0] == "OK" and m[1] == event.id)

    async def barrier(self) -> list[list[Any]]:
        """Everything the relay sent before it answered a fresh no-op REQ: the relay
        handles one connection's messages in order, so this is "all sent so far"
        (live events queued before the barrier's EOSE) without sleeping."""
        sub_id = f"barrier-{next(_barriers)}"
        await self.send("REQ", sub_id, {"ids": ["0" * 64]})
        await self.expect(lambda m: m[0] == "EOSE" and m[1] == sub_id)
        await self.send("CLOSE", sub_id)
        seen, self.inbox = self.inbox, []
        return seen

    async def neg_sync(
        self,
        sub_id: str,
        filter: dict[str, Any],
        items: Sequence[tuple[int, bytes]],
        frame_size_limit: int = 60_000,
    ) -> tuple[set[str], set[str]]:
        """A whole NIP-77 reconciliation with our initiator (shared/negentropy.py), then
        NEG-CLOSE: (have, need) as hex ids. A NEG-ERR raises :class:`Closed`."""
        ours = Negentropy(Storage(items), frame_size_limit)
        have: set[str] = set()
        need: set[str] = set()
        await self.send("NEG-OPEN", sub_id, filter, ours.initiate().hex())
        while True:
            reply = await self.expect(lambda m: m[0] in ("NEG-MSG", "NEG-ERR") and m[1] == sub_id)
            if reply[0] == "NEG-ERR":
                raise Closed(reply[2])
            step = ours.reconcile_initiator(bytes.fromhex(reply[2]))
            have.update(i.hex() for i in step.have)
            need.update(i.hex() for i in step.need)
            if step.next is None:
                await self.send("NEG-CLOSE", sub_id)
                return have, need
            await self.send("NEG-MSG", sub_id, step.next.hex())

    async def close(self) -> None:
        await self.ws.close()


class Closed(Exception):
    """The relay answered a REQ or COUNT with CLOSED; ``str()`` is its message."""


async def open_client(url: str, greeting: bool = True, **kwargs: Any) -> WsClient:
    """Connect and read the AUTH challenge our relay sends first (``greeting=False``:
    another relay, which may send nothing until asked)."""
    ws = await ws_connect(url, open_timeout=TIMEOUT, **kwargs)
    client = WsClient(ws)
    if not greeting:
        return client
    first = await client.recv()
    if first[0] == "AUTH":
        client.challenge = first[1]
    else:
        client.inbox.append(first)
    return client


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[WsClient]]]:
    """``client = await connect(relay.url)``; extra keyword arguments go to
    websockets' ``connect`` (e.g. ``max_queue=1`` for a client that stops reading),
    except ``greeting=False`` for another relay that sends no AUTH challenge first."""
    clients: list[WsClient] = []

    async def make(url: str, **kwargs: Any) -> WsClient:
        client = await open_client(url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await client.close()


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    """``await until(lambda: condition, timeout=10, what="...")``: tests/waiting.py's poll
    of a condition against a deadline, as a fixture."""
    return waiting.until


# ---- in-process relay ----------------------------------------------------------------


def relay_config(db: Path, **sections: dict[str, Any]) -> Config:
    """Defaults, on 127.0.0.1 port 0 with ``db``, no expiry sweeps, then ``sections``."""
    config = Config().replace(
        "server", host="127.0.0.1", port=0, db=str(db), expire_interval=0.0, close_timeout=1.0
    )
    for section, values in sections.items():
        config = config.replace(section, **values)
    return config


@pytest.fixture(scope="session")
def make_relay_config() -> Callable[..., Config]:
    """:func:`relay_config` for conftests that start a relay of their own (tests cannot
    import this module under ``--import-mode=importlib``)."""
    return relay_config


@pytest.fixture
async def start_relay(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Relay]]]:
    started: list[Relay] = []

    async def start(**sections: dict[str, Any]) -> Relay:
        relay = Relay(relay_config(tmp_path / f"relay{len(started)}.db", **sections))
        await relay.start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        await relay.stop()


@pytest.fixture
async def relay(start_relay: Callable[..., Awaitable[Relay]]) -> Relay:
    return await start_relay()


# ---- what a `mas` run gave (in-process or as a subprocess) ---------------------------


@dataclass
class MasResult:
    """Exit code and output of one `mas` run; ``lines`` skips blank ones."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]

    def json_lines(self) -> list[Any]:
        return [orjson.loads(line) for line in self.lines]


@pytest.fixture(scope="session")
def mas_result() -> type[MasResult]:
    """The :class:`MasResult` class, for fixtures and tests that run `mas` themselves."""
    return MasResult


@contextlib.contextmanager
def passphrase_pipes() -> Iterator[Callable[..., int]]:
    """The ``passphrase_fd`` factory; every pipe it made is closed on exit."""
    fds: list[int] = []

    def make(passphrase: str, copies: int = 64) -> int:
        read, write = os.pipe()
        os.write(write, (passphrase + "\n").encode() * copies)
        os.close(write)
        fds.append(read)
        return read

    try:
        yield make
    finally:
        for fd in fds:
            os.close(fd)


@pytest.fixture
def passphrase_fd() -> Iterator[Callable[..., int]]:
    """``passphrase_fd("pw")``: the read end of a pipe holding that passphrase, for
    ``MAS_PASSPHRASE_FD`` (and ``pass_fds``), closed when the test ends. The line is there
    ``copies`` times, one for each `mas` of a shell pipeline. Never an environment variable:
    those are readable in /proc/PID/environ."""
    with passphrase_pipes() as make:
        yield make


@pytest.fixture(scope="module")
def module_passphrase_fd() -> Iterator[Callable[..., int]]:
    """``passphrase_fd`` for a module-scoped fixture: pipes closed after the module."""
    with passphrase_pipes() as make:
        yield make


# ---- the console script as a subprocess ----------------------------------------------


@contextlib.contextmanager
def relay_processes(folder: Path) -> Iterator[Callable[..., RelayProcess]]:
    """The ``relay_process`` factory with its databases in ``folder``; every process it
    started (and whatever those started) is killed on exit."""
    started: list[RelayProcess] = []

    def start(*args: str, db: Path | None = None) -> RelayProcess:
        relay = RelayProcess.mas_relay(db or folder / f"process{len(started)}.db", *args)
        started.append(relay)
        relay.wait_ready()
        return relay

    try:
        yield start
    finally:
        for relay in started:
            relay.close()


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[Callable[..., RelayProcess]]:
    """``proc = relay_process("--config", path)``: ``mas-relay --host 127.0.0.1 --port 0
    --db <tmp>/relay.db [args]``, ready (its URL in ``proc.url``). Killed at teardown
    if the test left it running."""
    with relay_processes(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def module_relay_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RelayProcess]]:
    """``relay_process`` for a module-scoped fixture (a story run once, then read by
    several tests); its relays live until the module's last test."""
    with relay_processes(tmp_path_factory.mktemp("relays")) as start:
        yield start


# ---- a hostile relay (client defences: escapes, huge frames, silence, floods) ---------


ESC_NOTICE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m \u202egnp.exe [bold red]x[/]"
"""Terminal escapes (OSC window title, clear screen, SGR colour), U+202E (right-to-left
override) and Rich markup: everything a relay's text must never do to our terminal."""
ESC_STRINGS = (
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\u202e",
    "[bold red]x[/]",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
)
ESC_INFO: dict[str, Any] = {
    "name": f"relay {ESC_NOTICE}",
    "description": f"hello\n{ESC_NOTICE}\r\x1b[1A\x1b[Kforged line",
    "pubkey": ESC_NOTICE,
    "contact": "[link=http://evil.example]mailto:x[/link]\x1b]0;pwned\x07",
    "software": f"{ESC_NOTICE}soft",
    "version": "\x1b[2J1.0",
    "supported_nips": [1, 11, "\x1b[2J", 42],
    "limitation": {"max_message_length": ESC_NOTICE, "auth_required": "\x1b[2J"},
    "posting_policy": "\u202ehttp://evil.example",
}
FLOOD_KEY = SecretKey(bytes([0x66]) * 32)
FLOOD_AT = int(time.time())  # every flood of this test session is dated now
_flood_cache: dict[tuple[int, str], list[bytes]] = {}


def flood_frames(count: int, tag: str = "mas-flood") -> list[bytes]:
    """``count`` distinct valid signed kind 1 events tagged ``["t", tag]``, as JSON (signed
    once per session: 100k cost ~3 s)."""
    cached = _flood_cache.get((count, tag))
    if cached is None:
        cached = _flood_cache[(count, tag)] = [
            orjson.dumps(sign(FLOOD_KEY, 1, f"flood {i}", [["t", tag]], FLOOD_AT).to_dict())
            for i in range(count)
        ]
    return cached


class HostileRelay:
    """A real websocket server on 127.0.0.1 (port 0) that misbehaves as a test says.

    ``async with HostileRelay(**behaviour) as relay`` (``hostile_relay`` is this class);
    ``relay.url`` is ``ws://127.0.0.1:PORT`` and ``relay.http_url`` the same as http://.
    Behaviour (constructor keywords, also attributes a test may change while it runs):

    ``stored``       events (``Event`` or raw dicts, forged or not) sent for every REQ.
    ``eose``         False: never send EOSE (nor CLOSED): a relay that stays silent.
    ``flood``        after the stored events (and EOSE, if any), send this many distinct valid
                     signed kind 1 events tagged ``["t", flood_tag]`` to each REQ, as fast
                     as the client reads (stops at CLOSE). ``FLOOD_KEY``/``FLOOD_AT`` made them.
    ``flood_with``   these events (``Event`` or dicts) are the flood instead.
    ``flood_once``   only the first REQ gets the flood (a client's later queries do not).
    ``notice``       a ``NOTICE`` sent first on every connection.
    ``ok_false``     answer every EVENT ``["OK", id, false, ok_false]`` (default: OK true).
    ``ok``           False: never answer EVENT at all.
    ``closed``       answer every REQ ``["CLOSED", sub, closed]`` instead of events.
    ``oversize``     send one text frame of this many bytes first on every connection
                     (e.g. ``10 * 2**20``), then behave as told.
    ``info``         the NIP-11 document served over HTTP on the same port to a GET with
                     ``Accept: application/nostr+json`` (``ESC_INFO`` is one full of escapes).

    What it saw: ``connections`` (websocket handshakes accepted, ever), ``open`` (live
    ones), ``http_requests`` (NIP-11 GETs), ``reqs`` (REQ messages), ``events`` (EVENT
    payloads), ``closes`` (CLOSE sub ids), ``flooded`` (flood events sent). Helpers:
    ``await relay.send_all(frame)`` (any text to every connection), ``await
    relay.push(event)`` (a live event to every open subscription). Module constants:
    ``ESC_NOTICE`` (one string with every escape), ``ESC_STRINGS`` (each alone),
    ``ESC_INFO``, ``flood_frames()``.
    """

    def __init__(
        self,
        stored: Sequence[Event | dict[str, Any]] = (),
        *,
        eose: bool = True,
        flood: int = 0,
        flood_tag: str = "mas-flood",
        flood_with: Sequence[Event | dict[str, Any]] = (),
        flood_once: bool = False,
        notice: str | None = None,
        ok_false: str | None = None,
        ok: bool = True,
        closed: str | None = None,
        oversize: int = 0,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.stored = [e.to_dict() if isinstance(e, Event) else e for e in stored]
        self.eose = eose
        self.flood = flood
        self.flood_tag = flood_tag
        self.flood_with = [
            orjson.dumps(e.to_dict() if isinstance(e, Event) else e) for e in flood_with
        ]
        self.flood_once = flood_once
        self._flood_given = False
        self.notice = notice
        self.ok_false = ok_false
        self.ok = ok
        self.closed = closed
        self.oversize = oversize
        self.info = info if info is not None else {"name": "hostile", "supported_nips": [1, 11]}
        self.connections = 0
        self.http_requests = 0
        self.open: set[Any] = set()
        self.reqs: list[list[Any]] = []
        self.events: list[dict[str, Any]] = []
        self.closes: list[str] = []
        self.flooded = 0
        self.url = ""
        self.http_url = ""
        self._subs: dict[Any, dict[str, asyncio.Task[None]]] = {}
        self._server: Any = None

    async def __aenter__(self) -> HostileRelay:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._http, max_size=2**24,
            compression=None,
        )  # fmt: skip
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        self.http_url = f"http://127.0.0.1:{port}"
        if self.flood:
            flood_frames(self.flood, self.flood_tag)  # signed now, not while a test measures
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def _http(self, _ws: Any, request: Any) -> Any:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.http_requests += 1
        return http_response(200, orjson.dumps(self.info), "application/nostr+json")

    async def send_all(self, frame: str | bytes) -> None:
        for ws in list(self.open):
            with contextlib.suppress(Exception):
                await ws.send(frame)

    async def push(self, event: Event | dict[str, Any]) -> None:
        data = event.to_dict() if isinstance(event, Event) else event
        for ws, subs in list(self._subs.items()):
            for sub in list(subs):
                with contextlib.suppress(Exception):
                    await ws.send(orjson.dumps(["EVENT", sub, data]).decode())

    async def _send(self, ws: Any, *message: Any) -> None:
        await ws.send(orjson.dumps(list(message)).decode())

    async def _handle(self, ws: Any) -> None:
        self.connections += 1
        self.open.add(ws)
        subs = self._subs[ws] = {}
        try:
            if self.oversize:
                await ws.send('["NOTICE","' + "x" * self.oversize + '"]')
            if self.notice is not None:
                await self._send(ws, "NOTICE", self.notice)
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == "REQ":
                    self.reqs.append(msg)
                    if self.closed is not None:
                        await self._send(ws, "CLOSED", msg[1], self.closed)
                        continue
                    old = subs.pop(msg[1], None)
                    if old is not None:
                        old.cancel()
                    subs[msg[1]] = asyncio.get_running_loop().create_task(self._answer(ws, msg[1]))
                elif msg[0] == "CLOSE":
                    self.closes.append(msg[1])
                    task = subs.pop(msg[1], None)
                    if task is not None:
                        task.cancel()
                elif msg[0] == "EVENT":
                    self.events.append(msg[1])
                    if self.ok:
                        accepted = self.ok_false is None
                        await self._send(ws, "OK", msg[1]["id"], accepted, self.ok_false or "")
                elif msg[0] == "AUTH":
                    await self._send(ws, "OK", msg[1]["id"], True, "")
        except Exception:  # a client that goes away mid-flood is what this relay is for
            pass
        finally:
            self.open.discard(ws)
            for task in self._subs.pop(ws, {}).values():
                task.cancel()

    async def _answer(self, ws: Any, sub: str) -> None:
        flood = not (self.flood_once and self._flood_given)  # decided before any await
        self._flood_given = True
        with contextlib.suppress(Exception):
            for event in self.stored:
                await self._send(ws, "EVENT", sub, event)
            if self.eose:
                await self._send(ws, "EOSE", sub)
            if not flood:
                return
            prefix = b'["EVENT",' + orjson.dumps(sub) + b","
            frames = self.flood_with or (
                flood_frames(self.flood, self.flood_tag) if self.flood else ()
            )
            for frame in frames:
                await ws.send((prefix + frame + b"]").decode())
                self.flooded += 1


@pytest.fixture
def hostile_relay() -> type[HostileRelay]:
    """The :class:`HostileRelay` class: ``async with hostile_relay(eose=False) as relay``."""
    return HostileRelay


def body_pages(db: sqlite3.Connection) -> dict[int, int]:
    """Each stored event's rid -> the file page that holds its body, as an analyst reads
    a seized relay with ``dbstat``: the first overflow page of a row too big for its
    B-tree leaf (SQLite allocates those as rows arrive), else the leaf page itself.
    Leaf cells are in rid order, so a cell's place among all leaf cells names its rid."""
    rids = [rid for (rid,) in db.execute("SELECT rid FROM events ORDER BY rid")]
    stat = "SELECT path, pageno, ncell FROM dbstat WHERE name = 'events' AND pagetype = ?"
    leaves = sorted(db.execute(stat, ("leaf",)).fetchall())
    first: dict[str, int] = {}  # leaf page path -> cells in the leaves before it
    page_of: dict[int, int] = {}  # a cell's place -> the page holding its body
    place = 0
    for path, page, ncell in leaves:
        first[path] = place
        for _ in range(ncell):
            page_of[place] = page
            place += 1
    spilled: dict[int, int] = {}
    for path, page, _ in db.execute(stat, ("overflow",)):
        leaf, cell = path.split("+")[0].rsplit("/", 1)
        at = first[leaf + "/"] + int(cell, 16)
        spilled[at] = min(page, spilled.get(at, page))
    page_of.update(spilled)
    return {rids[at]: page for at, page in page_of.items()}


@pytest.fixture
def file_layout() -> Callable[[sqlite3.Connection], dict[int, int]]:
    """:func:`body_pages`, for tests that read a relay's database as a seizer would."""
    return body_pages


# ---- a real SMTP server (aiosmtpd) for the mail bridge and alarms ---------------------


class SmtpInbox:
    """An aiosmtpd server on 127.0.0.1 in its own thread, so a ``mas`` subprocess or an
    async test can talk to it. ``stop()`` and ``start()`` take it down and bring it back
    on the same port (an outage); ``received`` holds (MAIL FROM, RCPT TOs, raw DATA) of
    every message it accepted; ``wait_for(n)`` waits (never sleeps) for n of them."""

    def __init__(self, **smtp_options: Any) -> None:
        with contextlib.closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.host = "127.0.0.1"
        self.options = smtp_options
        self.received: list[tuple[str, list[str], bytes]] = []
        self._arrived = threading.Condition()
        self._controller: Any = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._arrived:
            content = envelope.original_content or b""
            self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
            self._arrived.notify_all()
        return "250 OK"

    def start(self) -> SmtpInbox:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname=self.host, port=self.port, **self.options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 20) -> list[email.message.EmailMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} of {count} messages arrived")
        return self.messages()

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)
            for _, _, raw in self.received
        ]


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A started :class:`SmtpInbox` (plain SMTP, loopback), stopped at teardown."""
    inbox = SmtpInbox().start()
    yield inbox
    inbox.stop()


# ---- a relay that accepts TCP and never answers (slow-relay tests) ---------------------


class SilentRelay:
    """A TCP listener on loopback that accepts every connection and never answers, not
    even the websocket handshake (a relay behind a hung proxy, or a stopped process)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed at the end of the test
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_relay() -> Iterator[SilentRelay]:
    """A :class:`SilentRelay` (its URL in ``.url``), closed at teardown."""
    relay = SilentRelay()
    yield relay
    relay.close()


# ---- PostgreSQL (tests/pgcluster.py) -------------------------------------------------


def _load_pgcluster() -> Any:
    """tests/pgcluster.py by path: under --import-mode=importlib tests/ is no package."""
    spec = importlib.util.spec_from_file_location(
        "pgcluster", Path(__file__).with_name("pgcluster.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgcluster"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One throwaway PostgreSQL cluster for the session (``tests/pgcluster.py``). Skipped,
    with the reason, only when no PostgreSQL binaries exist; under CI (env ``CI`` set,
    where .ci/run installs them) that is a failure instead."""
    pgcluster = _load_pgcluster()
    try:
        cluster = pgcluster.start_cluster()
    except pgcluster.ClusterUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {e}")
        pytest.skip(f"PostgreSQL unavailable: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Any) -> str:
    """``postgresql://`` URL (for asyncpg) of a fresh, empty schema on :func:`pg_cluster`
    for one test: ``.../tests?search_path=t<pid>_<n>`` (trust authentication, no
    password). ``pg_cluster.new_database()`` gives a whole database when a test needs
    one (slower: most of a second with fsync on)."""
    return str(pg_cluster.new_schema())
