"""``--proxy socks5h://HOST:PORT`` / ``MAS_PROXY``: every relay connection goes through a
real SOCKS5 server (pproxy, logging each CONNECT), by host name, and never directly.

The relays are named ``localhost`` so the proxy log shows whether the name reached the
proxy (socks5h) or was resolved here first; the relay counts its own connections, so a
connection that went around the proxy shows as a difference between the two.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shieldmutual.client.errors import ConfigError
from shieldmutual.client.pool import Pool, PoolOptions, Status
from shieldmutual.client.pool_connect import check_proxy
from shieldmutual.shared.event import sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from tests.waiting import until

KEY = SecretKey(bytes.fromhex("44" * 32))
CONNECT = re.compile(r"^socks5 \S+ -> (\S+):(\d+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SocksProxy:
    """pproxy as a SOCKS5 server on 127.0.0.1; ``connects`` lists each CONNECT's
    ``(host, port)`` exactly as the client sent it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"socks5h://127.0.0.1:{self.port}"
        self.connects: list[tuple[str, int]] = []
        self._ready = threading.Event()
        # pproxy runs on uvloop whenever it is installed, and crashes on uvloop 0.23 (no
        # current event loop at start-up): it is kept on the standard loop.
        no_uvloop = (
            "import sys; sys.modules['uvloop'] = None; from pproxy.server import main; main()"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", no_uvloop, "-l", f"socks5://127.0.0.1:{self.port}", "-v"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(20):
            self.stop()
            raise TimeoutError("pproxy did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("Serving on"):
                self._ready.set()
            match = CONNECT.match(line.strip())
            if match:
                self.connects.append((match.group(1), int(match.group(2))))
        self._ready.set()

    def to(self, port: int) -> list[str]:
        """The host names of the CONNECTs to ``port``."""
        return [host for host, p in self.connects if p == port]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def socks_proxy() -> Iterator[SocksProxy]:
    proxy = SocksProxy()
    yield proxy
    proxy.stop()


def by_name(url: str) -> tuple[str, int]:
    """``ws://127.0.0.1:PORT`` -> ``(ws://localhost:PORT, PORT)``: a name for socks5h."""
    port = int(url.rsplit(":", 1)[1])
    return f"ws://localhost:{port}", port


async def test_every_pool_connection_goes_through_the_proxy_by_name(
    hostile_relay: Any, socks_proxy: SocksProxy
) -> None:
    stored = sign(KEY, 1, "through the proxy", [])
    options = PoolOptions(connect_timeout=5, proxy=socks_proxy.url)
    async with hostile_relay([stored]) as one, hostile_relay([stored]) as two:
        (url1, port1), (url2, port2) = by_name(one.url), by_name(two.url)
        async with Pool([url1, url2], options=options) as pool:
            report = await pool.publish(sign(KEY, 1, "hello", []))
            events = await pool.fetch([Filter.from_dict({"kinds": [1]})])
        assert [r.status for r in report.results] == [Status.ACCEPTED] * 2
        assert [e.id for e in events] == [stored.id]
        await until(lambda: len(socks_proxy.to(port1)) + len(socks_proxy.to(port2)) >= 2)
        for relay, port in ((one, port1), (two, port2)):
            assert relay.connections >= 1
            assert socks_proxy.to(port) == ["localhost"] * relay.connections


async def test_mas_proxy_carries_req_and_relays_check_nip11_too(
    hostile_relay: Any, socks_proxy: SocksProxy, mas: Callable[..., Any]
) -> None:
    stored = sign(KEY, 1, "via MAS_PROXY", [])
    async with hostile_relay([stored]) as relay:
        url, port = by_name(relay.url)
        flag = await asyncio.to_thread(
            mas, "--proxy", socks_proxy.url, "req", "-k", "1", "-r", url, passphrase=None
        )
        assert flag.code == 0, flag.stderr
        assert [e["id"] for e in flag.json_lines()] == [stored.id]
        env = {"MAS_PROXY": socks_proxy.url}
        checked = await asyncio.to_thread(
            mas, "relays", "check", url, "--json", env=env, passphrase=None
        )
        assert checked.code == 0, checked.stderr + checked.stdout
        (row,) = checked.json_lines()
        assert row["ok"] and row["name"] == "hostile" and row["nip11_error"] == ""
        assert relay.http_requests == 1  # the NIP-11 GET, through the proxy as well
        total = relay.connections + relay.http_requests
        await until(lambda: len(socks_proxy.to(port)) >= total)
        assert socks_proxy.to(port) == ["localhost"] * total


async def test_a_proxy_that_is_down_is_an_error_and_nothing_goes_direct(
    hostile_relay: Any, mas: Callable[..., Any]
) -> None:
    dead = free_port()
    async with hostile_relay() as relay:
        url, _ = by_name(relay.url)
        proxy = f"socks5h://127.0.0.1:{dead}"
        result = await asyncio.to_thread(
            mas, "--proxy", proxy, "req", "-k", "1", "-r", url, passphrase=None
        )
        assert result.code == 3
        assert f"proxy 127.0.0.1:{dead} unreachable: connection refused" in result.stderr
        checked = await asyncio.to_thread(
            mas, "--proxy", proxy, "relays", "check", url, "--json", passphrase=None
        )
        assert checked.code == 3
        (row,) = checked.json_lines()
        assert row["error"] == row["nip11_error"].removeprefix("NIP-11: ")
        assert row["error"] == f"proxy 127.0.0.1:{dead} unreachable: connection refused"
        assert relay.connections == 0 and relay.http_requests == 0


@pytest.mark.parametrize(
    "bad",
    ["http://127.0.0.1:9050", "socks5h://127.0.0.1", "socks5h://:9050", "socks5h://h:1/x", "tor"],
)
def test_a_proxy_that_is_not_socks5_is_refused(bad: str, mas: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError):
        check_proxy(bad)
    result = mas("--proxy", bad, "req", "-k", "1", "-r", "ws://localhost:1", passphrase=None)
    assert result.code == 2
    assert result.stderr.startswith("error: proxy must look like socks5h://HOST:PORT")


def test_proxy_credentials_stay_out_of_messages(mas: Callable[..., Any]) -> None:
    proxy = f"socks5h://user:secret@127.0.0.1:{free_port()}"
    assert check_proxy(proxy) == proxy
    result = mas("--proxy", proxy, "req", "-k", "1", "-r", "ws://localhost:1", passphrase=None)
    assert result.code == 3 and "unreachable" in result.stderr
    assert "secret" not in result.stderr + result.stdout


async def test_the_real_relay_through_the_proxy_with_auth(
    relay: Any, socks_proxy: SocksProxy, keys: Any, note: Callable[..., Any]
) -> None:
    """mas-relay itself (AUTH challenge on connect, NIP-42 answered) behind the proxy."""
    url, port = by_name(relay.url)
    options = PoolOptions(proxy=socks_proxy.url)
    event = note(keys.alice, "hello over socks")
    async with Pool([url], options=options, auth=keys.bob) as pool:
        report = await pool.publish(event)
        assert report.ok(), report.results
        assert [e.id for e in await pool.fetch([Filter.from_dict({"ids": [event.id]})])] == [
            event.id
        ]
    await until(lambda: bool(socks_proxy.to(port)))  # pproxy's log line may trail
    assert socks_proxy.to(port) == ["localhost"]
