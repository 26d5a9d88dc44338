"""A loopback TCP proxy that puts a network's round trip between a client and its relays.

Not a test. Run as its own process (so its CPU is not the client's), it listens on one
127.0.0.1 port per target port and prints ``LISTEN <port> -> <target>`` for each:

    python -m bench.rtt_proxy --rtt 50 PORT [PORT ...]

Every byte is forwarded after half the round trip (``--rtt`` ms), in order, in each
direction; a new connection also waits one round trip before its first byte goes on, as
TCP's handshake costs one on a network (the kernel accepts here at once). Each connection
has its own four tasks (a reader and a writer each way), so one connection's delays never
hold up another's: the proxy adds latency, not serialization. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

REPO = Path(__file__).resolve().parent.parent

CHUNK = 1 << 16


async def _read(reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]]) -> None:
    loop = asyncio.get_running_loop()
    while data := await reader.read(CHUNK):
        queue.put_nowait((loop.time(), data))
    queue.put_nowait((loop.time(), b""))


async def _write(
    writer: asyncio.StreamWriter,
    queue: asyncio.Queue[tuple[float, bytes]],
    delay: float,
    not_before: float,
) -> None:
    """Each chunk ``delay`` seconds after it was read (and not before ``not_before``); the
    queue is in arrival order, so the release times are in order too."""
    loop = asyncio.get_running_loop()
    while True:
        arrived, data = await queue.get()
        wait = max(arrived + delay, not_before) - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if not data:
            with contextlib.suppress(OSError):
                writer.write_eof()
            return
        writer.write(data)
        await writer.drain()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, not_before: float
) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    await asyncio.gather(_read(reader, queue), _write(writer, queue, delay, not_before))


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def handler(target: int, rtt: float) -> Handler:
    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # The handshake's round trip: the first byte reaches the relay 1.5 RTT after the
        # client's connect, as SYN, SYN-ACK and ACK + data would on a network.
        handshake = loop.time() + rtt
        try:
            relay_r, relay_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                _pipe(client_r, relay_w, rtt / 2, handshake + rtt / 2),
                _pipe(relay_r, client_w, rtt / 2, 0.0),
            )
        except OSError:
            pass
        finally:
            for w in (relay_w, client_w):
                w.close()

    return serve


async def run(targets: list[int], rtt: float) -> None:
    servers = []
    for target in targets:
        server = await asyncio.start_server(handler(target, rtt), "127.0.0.1", 0)
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
    sys.exit(main())
