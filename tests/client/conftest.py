"""Client test fixtures, and a scriptable misbehaving relay: forged events, silence, AUTH.

Our own relay never forges signatures, goes silent or sends events that do not match,
so the pool's defences against such relays are tested against this stand-in. Everything
a well-behaved relay does is tested against the real ``mas-relay`` in tests/e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner
from websockets.asyncio.server import Server, ServerConnection, serve

from shieldmutual.client.cli.main import main
from shieldmutual.client.pool import Pool
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.helping import Payment
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey
from tests import pooled

OkRule = Callable[[dict[str, Any]], tuple[bool, str] | None]


class FakeRelay:
    """``stored`` events (raw dicts, forged or not) answer every REQ, then EOSE.

    ``ok`` decides the answer to EVENT: ``(accepted, message)``, or None for silence.
    ``eose=False`` never sends EOSE. ``challenge`` sends AUTH on connect; with
    ``require_auth`` REQs are CLOSED ``auth-required:`` until the client authenticates.
    """

    def __init__(
        self,
        stored: list[dict[str, Any]] | None = None,
        *,
        ok: OkRule | None = lambda _event: (True, ""),
        eose: bool = True,
        challenge: str | None = None,
        require_auth: bool = False,
    ) -> None:
        self.stored = list(stored or [])
        self.ok = ok
        self.eose = eose
        self.challenge = challenge
        self.require_auth = require_auth
        self.reqs: list[list[Any]] = []
        self.events: list[dict[str, Any]] = []
        self.auth_events: list[dict[str, Any]] = []
        self.connections: set[ServerConnection] = set()
        self.connected = asyncio.Event()
        self.got_req = asyncio.Event()
        self._subs: dict[ServerConnection, set[str]] = {}
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> FakeRelay:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def drop_all(self) -> None:
        """Cut every client connection (as a crash or network drop would)."""
        for ws in list(self.connections):
            ws.transport.abort()
        self.connected.clear()

    async def push(self, event: dict[str, Any]) -> None:
        """Send a live event to every open subscription."""
        for ws, subs in list(self._subs.items()):
            for sub in subs:
                with contextlib.suppress(Exception):
                    await ws.send(orjson.dumps(["EVENT", sub, event]).decode())

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.add(ws)
        self._subs[ws] = set()
        self.connected.set()
        authed = False
        try:
            if self.challenge:
                await ws.send(orjson.dumps(["AUTH", self.challenge]).decode())
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == "REQ":
                    self.reqs.append(msg)
                    self.got_req.set()
                    sub = msg[1]
                    if self.require_auth and not authed:
                        await ws.send(orjson.dumps(["CLOSED", sub, "auth-required: who?"]).decode())
                        continue
                    self._subs[ws].add(sub)
                    for event in self.stored:
                        await ws.send(orjson.dumps(["EVENT", sub, event]).decode())
                    if self.eose:
                        await ws.send(orjson.dumps(["EOSE", sub]).decode())
                elif msg[0] == "CLOSE":
                    self._subs[ws].discard(msg[1])
                elif msg[0] == "EVENT":
                    self.events.append(msg[1])
                    answer = self.ok(msg[1]) if self.ok else None
                    if answer is not None:
                        frame = ["OK", msg[1]["id"], answer[0], answer[1]]
                        await ws.send(orjson.dumps(frame).decode())
                elif msg[0] == "AUTH":
                    self.auth_events.append(msg[1])
                    event = Event.from_dict(msg[1])
                    good = (
                        event.is_valid()
                        and event.kind == 22242
                        and event.first_tag("challenge") == self.challenge
                    )
                    authed = authed or good
                    await ws.send(orjson.dumps(["OK", event.id, good, ""]).decode())
        except Exception:
            pass
        finally:
            self.connections.discard(ws)
            self._subs.pop(ws, None)

    async def send_raw(self, frame: str) -> None:
        """Send any text frame to every connection (malformed messages)."""
        for ws in list(self.connections):
            await ws.send(frame)


@pytest.fixture
def fake_relay() -> type[FakeRelay]:
    """The :class:`FakeRelay` class: ``async with fake_relay(stored=[...]) as relay``."""
    return FakeRelay


# ---- running the real CLI in-process ------------------------------------------------------


@pytest.fixture
def mas_home(tmp_path: Path) -> Path:
    return tmp_path / "mas-home"


PASSPHRASE = "test passphrase"


@pytest.fixture
def mas(
    mas_home: Path, mas_result: type[Any], passphrase_fd: Callable[..., int]
) -> Callable[..., Any]:
    """``mas("id", "new", "alice", input=..., env=..., passphrase=...)`` runs main() with
    MAS_HOME=tmp.

    The passphrase ("test passphrase" unless ``passphrase`` changes it; None: none at
    all) comes on a pipe named by MAS_PASSPHRASE_FD, and scrypt runs at log_n 4, so
    sealing keys costs nothing in tests.
    """
    base = {
        "MAS_HOME": str(mas_home),
        "MAS_SCRYPT_LOG_N": "4",
        "MAS_PRIVATE_DELAY": "0:0.05",  # private items still go apart, just not for minutes
        "COLUMNS": "200",
    }

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        passphrase: str | None = PASSPHRASE,
    ) -> Any:
        fd = None if passphrase is None else str(passphrase_fd(passphrase, copies=1))
        runner = CliRunner()
        full = {**base, "MAS_PASSPHRASE_FD": fd, **(env or {})}
        with runner.isolation(input=input, env=full) as (out, err, _):
            code = main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
            return mas_result(code, out.getvalue().decode(), err.getvalue().decode())

    return run


# ---- several people, each with their own MAS_HOME (aid commands) ---------------------------


@dataclass
class Person:
    """Someone with their own `mas` setup (MAS_HOME) and a known key, for aid stories."""

    name: str
    secret: SecretKey
    home: Path
    _mas: Callable[..., Any]

    @property
    def pubkey(self) -> str:
        return str(self.secret.public_hex)

    @property
    def npub(self) -> str:
        return nip19.npub_encode(self.pubkey)

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self._mas(*args, input=input, env={"MAS_HOME": str(self.home)})


@pytest.fixture
def person(tmp_path: Path, mas: Callable[..., Any]) -> Callable[..., Person]:
    """``alice = person("alice", keys.alice)``: that key imported into alice's own MAS_HOME."""

    def make(name: str, secret: SecretKey) -> Person:
        who = Person(name, secret, tmp_path / f"home-{name}", mas)
        imported = who("id", "import", name, input=nip19.nsec_encode(secret.secret))
        assert imported.code == 0, imported.stderr
        return who

    return make


@pytest.fixture
def push() -> Callable[..., None]:
    """``push(relay.url, event, ...)``: store signed events before the CLI runs."""
    return pooled.push


def _count_fetches(pool: Pool) -> list[int]:
    calls = [0]
    real_fetch = pool.fetch

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await real_fetch(*args, **kwargs)

    pool.fetch = counted  # type: ignore[method-assign]
    return calls


@pytest.fixture
def count_fetches() -> Callable[[Pool], list[int]]:
    """``fetches = count_fetches(pool)``: the real ``pool.fetch`` from now on, its calls
    (each one REQ to each relay) counted in ``fetches[0]``."""
    return _count_fetches


@pytest.fixture
def rent_request() -> Callable[..., AidRequest]:
    """``rent_request(**changes)``: Sam's request for rent after the raid (``d`` rent-1,
    one lightning payment), with any field changed."""

    def make(**changes: Any) -> AidRequest:
        base: dict[str, Any] = {
            "title": "Rent after the raid",
            "summary": "Two weeks of work lost.",
            "story": "The social centre was raided.",
            "location": "Leeds, UK",
            "amount": Decimal(400),
            "currency": "GBP",
            "societies": ("leeds-care",),
            "payments": (Payment("lightning", "sam@pay.example"),),
            "identifier": "rent-1",
        }
        return AidRequest(**{**base, **changes})

    return make
