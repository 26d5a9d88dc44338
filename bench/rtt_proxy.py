"""A loopback TCP proxy that puts a network's round trip between a client and its relays.

Not a test. Run as its own process (so its CPU is not the client's), it listens on one
127.0.0.1 port per target port and prints ``LISTEN <port> -> <target>`` for each:

    python -m bench.rtt_proxy --rtt 50 PORT [PORT ...]

Every byte is forwarded after half the round trip (``--rtt`` ms), in order, in each
direction; a new connection also waits one round trip before its first byte goes on, as
TCP's handshake costs one on a network (the kernel accepts here at once). Bytes wait in
the loop's timers, not in a queue per connection: no connection's delay holds up
another's, and a forwarded chunk costs one callback (uvloop), so the proxy adds latency,
not serialization or much CPU. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import uvloop

REPO = Path(__file__).resolve().parent.parent


class _Side(asyncio.Protocol):
    """One end of a proxied connection: what it receives goes out on ``peer`` ``delay``
    seconds later, by a timer of the loop (no task, no queue: uvloop's timers, libuv's, run
    those due at the same time in the order they were set, so bytes stay in order)."""

    def __init__(self, delay: float, not_before: float = 0.0) -> None:
        self.delay = delay
        self.not_before = not_before
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.early: list[bytes] = []  # received before the peer's connection was made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
            return
        self._forward(data)

    def _forward(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        assert self.peer is not None and self.peer.transport is not None
        when = max(loop.time() + self.delay, self.not_before)
        loop.call_at(when, self.peer.transport.write, data)

    def eof_received(self) -> bool:
        self._later(lambda peer: peer.write_eof() if peer.can_write_eof() else peer.close())
        return True

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 (either way)
        self._later(lambda peer: peer.close())

    def _later(self, act: Callable[[asyncio.Transport], None]) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            loop = asyncio.get_running_loop()
            when = max(loop.time() + self.delay, self.not_before)
            loop.call_at(when, act, peer.transport)

    def pair(self, peer: _Side) -> None:
        self.peer, peer.peer = peer, self
        for data in self.early:
            self._forward(data)
        self.early.clear()


def _client_side(target: int, rtt: float) -> _Side:
    """The protocol for one client's connection: it dials the relay, then pairs them.
    The first byte reaches the relay 1.5 RTT after the client's connect, as SYN, SYN-ACK
    and ACK + data would on a network (the kernel accepted here at once)."""
    loop = asyncio.get_running_loop()
    client = _Side(rtt / 2, loop.time() + rtt + rtt / 2)

    async def dial() -> None:
        try:
            _, relay = await loop.create_connection(partial(_Side, rtt / 2), "127.0.0.1", target)
        except OSError:
            if client.transport is not None:
                client.transport.close()
            return
        relay.pair(client)
        client.pair(relay)

    dials.add(task := loop.create_task(dial()))
    task.add_done_callback(dials.discard)
    return client


dials: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)


async def run(targets: list[int], rtt: float) -> None:
    servers = []
    for target in targets:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(partial(_client_side, target, rtt), "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        print(f"LISTEN {port} -> {target}", flush=True)
    print("READY", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


class Proxy:
    """This module run as a child process: ``ports`` maps each target port to the port
    that reaches it ``rtt_ms`` away."""

    def __init__(self, rtt_ms: float, targets: list[int]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.rtt_proxy", "--rtt", str(rtt_ms), *map(str, targets)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.ports: dict[int, int] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("READY"):
                break
            _, port, _, target = line.split()
            self.ports[int(target)] = int(port)
        if len(self.ports) != len(targets):
            raise RuntimeError("the rtt proxy did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, required=True, help="round trip, ms")
    parser.add_argument("ports", type=int, nargs="+", help="127.0.0.1 ports to forward to")
    args = parser.parse_args()
    # uvloop (the relay's loop) keeps the proxy's own CPU small beside the relays'.
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run(args.ports, args.rtt / 1000))


if __name__ == "__main__":
    main()
