"""``mas-relay --workers N`` over PostgreSQL: live events cross processes (issue 14).

The worker tests run the real console script as a subprocess on the throwaway cluster
(``pg_url``); each websocket learns which worker it landed on from the handshake's
``Server`` header (``mas-relay (worker N)``), so the tests prove both workers serve
and that what one accepts reaches subscribers on the other. The fan-out's own failure
modes (PostgreSQL dropping its connections, two stores in one database) use two
relays in this process on one database, which is the same thing without the wait for
two interpreters to start.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.relay import config as config_mod
from shieldmutual.relay.workers import reserve_port
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

EXE = str(Path(sys.executable).parent / "mas-relay")
WORKER = re.compile(r"mas-relay \(worker (\d+)\)")
PIDS = re.compile(r"workers 2 \(pids (\d+), (\d+)\)")
TIMEOUT = 10.0


def worker_config(tmp_path: Path, pg_url: str) -> str:
    path = tmp_path / "workers.toml"
    path.write_text(
        f'[store]\nurl = "{pg_url}"\n\n[server]\nexpire_interval = 0.0\n\n'
        "[rate_limits]\nevents_per_second = 0\nreqs_per_second = 0\n"
    )
    return str(path)


def worker_of(client: Any) -> int:
    match = WORKER.fullmatch(client.ws.response.headers["Server"])
    assert match, client.ws.response.headers["Server"]
    return int(match.group(1))


async def on_workers(
    connect: Callable[..., Awaitable[Any]], url: str, want: int
) -> dict[int, list[Any]]:
    """At least ``want`` connections on each of the two workers (the kernel picks by
    the connection's address hash, so open more until both have enough)."""
    by_worker: dict[int, list[Any]] = {1: [], 2: []}
    for _ in range(20 * want):
        client = await connect(url)
        by_worker[worker_of(client)].append(client)
        if all(len(c) >= want for c in by_worker.values()):
            return by_worker
    raise AssertionError(f"connections did not reach both workers: {by_worker}")


async def subscribe(client: Any, sub_id: str, flt: dict[str, Any]) -> None:
    """REQ answered with EOSE: the subscription is live on its worker from then on."""
    assert await client.req(sub_id, flt, timeout=TIMEOUT) == []


async def received(client: Any, sub_id: str, ids: set[str]) -> None:
    """Wait until ``client`` got every event of ``ids`` on ``sub_id``, and nothing twice."""
    got: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while not ids <= set(got):
            message = await client.expect(lambda m: m[0] == "EVENT" and m[1] == sub_id)
            got.append(message[2]["id"])
    assert len(got) == len(set(got)), "an event was delivered twice"


def events_for(key: SecretKey, tag: str, worker: int) -> list[Event]:
    """A regular note, an ephemeral event and one far over NOTIFY's 8000-byte payload."""
    tags = [["t", tag]]
    return [
        sign(key, 1, f"regular from worker {worker}", tags),
        sign(key, 20001, f"ephemeral from worker {worker}", tags),
        sign(key, 1, "large " + "x" * 30_000, tags),
    ]


async def test_two_workers_deliver_every_live_event_across_processes(
    pg_url, relay_process, connect, keys, tmp_path
):
    relay = relay_process("--workers", "2", "--config", worker_config(tmp_path, pg_url))
    ready = "".join(relay.log)
    assert PIDS.search(ready), ready
    # The store as the operator knows it, never a SQLite file it does not use.
    assert f"  database {pg_url.split('?')[0]} (PostgreSQL)\n" in ready
    clients = await on_workers(connect, relay.url, want=4)
    subscribers = clients[1][:3] + clients[2][:3]
    publishers = {1: clients[1][3], 2: clients[2][3]}
    for n, sub in enumerate(subscribers):
        await subscribe(sub, f"live{n}", {"#t": ["fanout"]})

    published: set[str] = set()
    for worker, publisher in publishers.items():
        for event in events_for(keys.alice, "fanout", worker):
            assert (await publisher.publish(event))[2] is True
            published.add(event.id)
    await asyncio.gather(*(received(s, f"live{n}", published) for n, s in enumerate(subscribers)))

    # Nobody else joins the workers' port through SO_REUSEPORT: neither a second set of
    # workers nor a plain relay.
    port = relay.url.rsplit(":", 1)[1]
    for args in (["--workers", "2", "--config", worker_config(tmp_path, pg_url)], []):
        done = subprocess.run(
            [EXE, "--port", port, "--db", str(tmp_path / "other.db"), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("mas-relay: cannot start:"), done.stderr
    assert relay.terminate() == 0


async def test_gift_wraps_cross_workers_only_to_their_recipient(
    pg_url, relay_process, connect, keys, tmp_path
):
    """The other worker applies the one visibility rule (Connection.can_see) to wraps
    it hears from PostgreSQL: Bob gets his, Dave (authenticated too) and an anonymous
    subscriber to everything get none."""
    relay = relay_process("--workers", "2", "--config", worker_config(tmp_path, pg_url))
    clients = await on_workers(connect, relay.url, want=3)
    bob, dave, anon = clients[2][:3]
    publisher = clients[1][0]
    for client, key in ((bob, keys.bob), (dave, keys.dave)):
        assert (await client.auth(key, relay.url))[2] is True
        await subscribe(client, "wraps", {"kinds": [1059]})
    await subscribe(anon, "all", {})
    wrap = sign(SecretKey.generate(), 1059, "sealed", [["p", keys.bob.public_hex]])
    after = sign(keys.alice, 1, "published after the wrap")
    for event in (wrap, after):
        assert (await publisher.publish(event))[2] is True
    await received(bob, "wraps", {wrap.id})
    await received(anon, "all", {after.id})  # so the wrap, announced first, was heard
    assert not [m for m in await anon.barrier() if m[0] == "EVENT"]
    assert not [m for m in await dave.barrier() if m[0] == "EVENT"]


async def test_a_killed_worker_is_logged_and_restarted_while_the_other_serves(
    pg_url, relay_process, connect, keys, tmp_path, until
):
    relay = relay_process("--workers", "2", "--config", worker_config(tmp_path, pg_url))
    pids = PIDS.search("".join(relay.log))
    assert pids
    clients = await on_workers(connect, relay.url, want=1)
    survivor = clients[1][0]
    await subscribe(survivor, "kept", {"#t": ["after"]})

    os.kill(int(pids.group(2)), signal.SIGKILL)
    log = lambda: "".join(relay.log)  # noqa: E731
    await until(lambda: "worker 2 is ready again" in log(), timeout=30)  # a new interpreter
    assert re.search(r"worker 2 \(pid \d+\) died \(signal 9\); restarting it in 1s", log())
    assert relay.proc.poll() is None

    again = await on_workers(connect, relay.url, want=1)
    event = sign(keys.alice, 1, "published on the restarted worker", [["t", "after"]])
    assert (await again[2][0].publish(event))[2] is True
    await received(survivor, "kept", {event.id})  # its connection and REQ survived
    assert relay.terminate() == 0


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for whoever adopted it counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_workers_stop_when_their_parent_is_killed(pg_url, relay_process, tmp_path, until):
    """SIGKILL (or the OOM killer) on the parent must not leave workers holding the port
    with nobody to restart or stop them: they stop, and a new relay can take the port."""
    relay = relay_process("--workers", "2", "--config", worker_config(tmp_path, pg_url))
    pids = PIDS.search("".join(relay.log))
    assert pids
    workers = [int(pids.group(1)), int(pids.group(2))]
    relay.kill()
    await until(lambda: all(gone(pid) for pid in workers), timeout=TIMEOUT)
    host, port = relay.url.removeprefix("ws://").rsplit(":", 1)
    reserve_port(host, int(port)).close()


async def test_fan_out_connections_dropped_by_postgresql_come_back(
    pg_url, pg_cluster, start_relay, connect, keys, until
):
    """Two relays (in this process) on one database: PostgreSQL terminates every fan-out
    connection (a restart, a failover, an idle-killer); both relays reconnect on their
    own, and live events cross again with no relay restarted and no client reconnecting."""
    first, second = [await start_relay(store={"url": pg_url}) for _ in range(2)]
    subscriber = await connect(second.url)
    publisher = await connect(first.url)
    await subscribe(subscriber, "live", {"#t": ["outage"]})
    before = sign(keys.alice, 1, "before", [["t", "outage"]])
    assert (await publisher.publish(before))[2] is True
    await received(subscriber, "live", {before.id})

    killed = pg_cluster.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'mas-relay fan-out'"
    )
    assert int(killed) >= 3  # both listeners and the publisher
    await until(lambda: first.fanout.reconnects and second.fanout.reconnects, timeout=TIMEOUT)
    after = sign(keys.alice, 1, "after", [["t", "outage"]])
    assert (await publisher.publish(after))[2] is True
    await received(subscriber, "live", {after.id})


async def test_relays_on_other_schemas_of_the_database_hear_nothing(
    pg_url, pg_cluster, start_relay, connect, keys, until
):
    """NOTIFY is database-wide; two stores in two schemas of one database are two relays,
    and neither may deliver the other's events. A witness on the other schema shows
    when its announcement went out."""
    other = pg_cluster.new_schema()
    ours, theirs, witness = [await start_relay(store={"url": u}) for u in (pg_url, other, other)]
    listener = await connect(ours.url)
    await subscribe(listener, "all", {})
    foreign = sign(keys.alice, 1, "stored in the other schema")
    assert (await (await connect(theirs.url)).publish(foreign))[2] is True
    await until(lambda: witness.fanout.heard == 1, timeout=TIMEOUT)
    assert not [m for m in await listener.barrier() if m[0] == "EVENT"]
    assert ours.fanout.heard == 0


def test_the_compose_relay_configs_load_as_deployed():
    """docker/compose.yaml's two relay configs: the workers on PostgreSQL without a
    password in the file, each relay mirroring the other by its compose service name."""
    docker = Path(__file__).resolve().parents[2] / "docker"
    main = config_mod.load(docker / "relay-workers.toml")
    peer = config_mod.load(docker / "relay-peer.toml")
    assert main.store.url == "postgresql://mas@db:5432/mas"
    assert main.mirror.peers == {"ws://peer:7778"} and peer.mirror.peers == {"ws://relay:7777"}
    assert peer.store.url == "" and peer.server.port == 7778
    assert main.policy.aid_only and peer.policy.aid_only


def test_workers_that_cannot_reach_postgresql_stop_everything_with_exit_1(tmp_path):
    """A worker failing before the ready block is not restarted: the relay as a whole
    did not start (exit 1), said why in one line each (no traceback), and printed no
    password."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://mas:s3cret@127.0.0.1:{port}/mas"
    config = tmp_path / "down.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    done = subprocess.run(
        [EXE, "--workers", "2", "--port", "0", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    # The first worker to fail says why; the other may be stopped before it can.
    why = re.compile(r"mas-relay: worker [12] cannot start: cannot open the PostgreSQL store: .+")
    stopped = re.compile(
        r".* ERROR shieldmutual\.relay\.workers: worker [12] exited \(exit status 1\)"
        r" before it was ready; stopping the others"
    )
    lines = done.stderr.splitlines()
    assert any(why.fullmatch(line) for line in lines), done.stderr
    assert any(stopped.fullmatch(line) for line in lines), done.stderr
    assert all(why.fullmatch(line) or stopped.fullmatch(line) for line in lines), done.stderr
    assert "s3cret" not in done.stderr


def test_more_than_one_worker_on_sqlite_is_refused(tmp_path):
    done = subprocess.run(
        [EXE, "--workers", "2", "--port", "0", "--db", str(tmp_path / "r.db")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "mas-relay: --workers above 1 needs the PostgreSQL store ([store] url): SQLite"
        " has one writer\n"
    )
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_is_a_bad_flag(tmp_path, workers):
    done = subprocess.run(
        [EXE, "--workers", workers, "--db", str(tmp_path / "r.db")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "mas-relay: --workers must be 1 or more\n"


def test_a_reserved_port_cannot_be_reserved_or_taken_again():
    """Two supervisors (or a plain relay) never share one port through SO_REUSEPORT."""
    with reserve_port("127.0.0.1", 0) as held:
        port = held.getsockname()[1]
        assert port > 0
        with pytest.raises(OSError):
            reserve_port("127.0.0.1", port)
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
