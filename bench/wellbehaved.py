"""The well-behaved user of the soak (bench.soak) and the attack benchmarks' canary
(bench.attack): every ``interval`` seconds (jittered) it publishes a signed kind 1 note
and runs one small REQ of four shapes, closing it at EOSE; user ``n`` also holds a live
subscription on its topic when n % 5 == 0. What it measures goes into a :class:`Window`
the caller swaps for a fresh one."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import _load
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared import keys

SOAK_CONFIG = """\
# Written by bench.soak: mas-relay's defaults (rate limits included; the soak's
# connections stay well under them), logging at WARNING so the log is not the load.
[server]
log_level = "WARNING"
"""
TOPICS = 10
REPLY_TIMEOUT = 10.0  # a REQ or EVENT unanswered this long counts as an error


@dataclass
class Window:
    """What the connections measured since the last sample."""

    eose_ms: list[float] = field(default_factory=list)
    ok_ms: list[float] = field(default_factory=list)
    live_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        key = what[:80]
        self.errors[key] = self.errors.get(key, 0) + 1


class SoakClient(_load.WsClient):
    """One well-behaved user: answers arrive as futures keyed by event or sub id."""

    def __init__(self, stats: list[Window]) -> None:
        super().__init__()
        self.stats = stats  # stats[0] is the current window; the sampler swaps it
        self.waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self.live_sub = ""

    def handle(self, payload: bytes) -> None:
        msg = orjson.loads(payload)
        verb = msg[0]
        if verb == "EVENT" and msg[1] == self.live_sub:
            sent = float(msg[2]["content"].rpartition(" ")[2])
            self.stats[0].live_ms.append(1000 * (time.time() - sent))
        elif verb in ("OK", "EOSE", "CLOSED"):
            waiter = self.waiting.pop(msg[1], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(msg)
            elif verb == "CLOSED":
                self.stats[0].error(f"CLOSED {msg[2]}")
        elif verb == "NOTICE":
            self.stats[0].error(f"NOTICE {msg[1]}")

    def lost(self) -> None:
        for waiter in self.waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("connection closed"))
        self.waiting.clear()

    async def ask(self, key: str, message: list[Any]) -> tuple[list[Any], float]:
        """Send ``message``, wait for the reply about ``key``; (reply, milliseconds)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[key] = waiter
        t0 = time.perf_counter()
        self.send(orjson.dumps(message))
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                reply = await waiter
        finally:
            self.waiting.pop(key, None)
        return reply, 1000 * (time.perf_counter() - t0)


async def user(
    port: int, n: int, args: argparse.Namespace, stats: list[Window], stop: asyncio.Event
) -> None:
    """Publish and query until ``stop``; reconnect (and count it) if the relay drops us."""
    rng = random.Random(args.seed * 1000 + n)
    key = keys.SecretKey(hashlib.sha256(b"shieldmutual-soak-%d" % n).digest())
    topic = f"soak{n % TOPICS}"
    recent: list[str] = []
    seq = 0
    while not stop.is_set():
        try:
            client = await _load.connect(port, lambda: SoakClient(stats))
        except (OSError, TimeoutError, ConnectionError) as exc:
            stats[0].error(f"connect: {exc!r}")
            await asyncio.sleep(1.0)
            continue
        try:
            if n % 5 == 0:
                client.live_sub = "live"
                flt = {"kinds": [1], "#t": [topic], "since": int(time.time())}
                await client.ask("live", ["REQ", "live", flt])
            while not stop.is_set() and client.is_open:
                seq += 1
                note = nostr_event.sign(key, 1, f"soak {n} {seq} {time.time()}", [["t", topic]])
                reply, ms = await client.ask(note.id, ["EVENT", note.to_dict()])
                if reply[2] is True:
                    stats[0].ok_ms.append(ms)
                    recent = [note.id, *recent[:9]]
                else:
                    stats[0].error(f"OK false {reply[3]}")
                sub = f"q{seq}"
                reply, ms = await client.ask(sub, ["REQ", sub, query(rng, key, topic, recent)])
                if reply[0] == "EOSE":
                    stats[0].eose_ms.append(ms)
                    client.send(orjson.dumps(["CLOSE", sub]))
                else:
                    stats[0].error(f"CLOSED {reply[2]}")
                # pacing of a person's client, not a wait for a condition
                await asyncio.sleep(args.interval * rng.uniform(0.5, 1.5))
        except (ConnectionError, TimeoutError) as exc:
            stats[0].error(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()


def query(rng: random.Random, key: keys.SecretKey, topic: str, recent: list[str]) -> dict[str, Any]:
    """One of four small shapes a client app sends all the time."""
    shape = rng.randrange(4)
    if shape == 0:
        return {"kinds": [1], "#t": [topic], "limit": 20}
    if shape == 1:
        return {"authors": [key.public_hex], "limit": 10}
    if shape == 2:
        return {"kinds": [1], "limit": 20}
    return {"ids": recent[:5] or ["0" * 64]}


def relay_config(given: str | None, tmp: str) -> str:
    """``--config`` if given, else SOAK_CONFIG written into the folder ``tmp``."""
    if given is not None:
        return given
    path = Path(tmp) / "mas-relay.toml"
    path.write_text(SOAK_CONFIG)
    return str(path)


class Canary:
    """One well-behaved user (as in the soak) beside an attack, from bench/attack/: a note
    and a small REQ every ~0.175 s; user ``n`` holds a live subscription when n % 5 == 0."""

    def __init__(self, port: int, n: int) -> None:
        self.stats = [Window()]
        self._stop = asyncio.Event()
        pace = argparse.Namespace(interval=0.175, seed=1)
        self._task = asyncio.create_task(user(port, n, pace, self.stats, self._stop))

    def take(self) -> Window:
        """What was measured since the last ``take``; a fresh window starts."""
        window, self.stats[0] = self.stats[0], Window()
        return window

    async def stop(self) -> Window:
        """Stop it; what was measured since the last ``take``."""
        self._stop.set()
        await asyncio.wait_for(self._task, REPLY_TIMEOUT + 5)
        return self.stats[0]
