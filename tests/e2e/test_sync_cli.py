"""`mas sync` between real relay processes: only what is missing crosses, both ways or
one, filtered; a second run sends nothing; a refusing relay and a relay without NIP-77
are reported, not crashed on."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import serve

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.negentropy import Negentropy, Storage
from tests.waiting import until

ALICE = SecretKey(bytes([1]) * 32)
BOB = SecretKey(bytes([2]) * 32)
BIN_MAS = str(Path(sys.executable).parent / "mas")


def request(key: SecretKey, d: str, at: int | None = None) -> Event:
    tags = [["d", d], ["t", "mas-north"], ["title", d]]
    return sign(key, 30402, f"help with {d}", tags, created_at=at or int(time.time()))


async def publish(connect: Callable[..., Awaitable[Any]], url: str, *events: Event) -> None:
    client = await connect(url)
    for event in events:
        ok = await client.publish(event)
        assert ok[2] is True, ok


async def ids_on(connect: Callable[..., Awaitable[Any]], url: str) -> set[str]:
    client = await connect(url)
    return {e["id"] for e in await client.req("all", {"limit": 5000})}


@pytest.fixture
async def two(relays, connect) -> tuple[Any, Any, dict[str, Event]]:
    """Relays A and B, each with aid traffic of its own and a note that is not aid."""
    a, b = relays(2)
    events = {
        "a1": request(ALICE, "rent"),
        "a2": request(ALICE, "food"),
        "b1": request(BOB, "heating"),
        "note": sign(ALICE, 1, "just a note", []),
        "marked": sign(BOB, 1, "announcement", [["t", "mutualaid"]]),
    }
    await publish(connect, a.url, events["a1"], events["a2"], events["note"])
    await publish(connect, b.url, events["b1"], events["marked"])
    return a, b, events


async def test_both_ways_copies_only_aid_traffic_and_a_second_run_sends_nothing(two, mas, connect):
    a, b, ev = two
    done = mas("sync", a.url, b.url, "--json")
    assert done.code == 0, done.stderr
    first = {(s["from"], s["to"]): s for s in done.json_lines()}
    assert first[(a.url, b.url)] | {"refused": {}} == {
        "from": a.url, "to": b.url, "have": 0, "need": 2, "received": 2, "sent": 2,
        "duplicate": 0, "gone": 0, "unanswered": 0, "refused": {},
        "reconcile_bytes": first[(a.url, b.url)]["reconcile_bytes"],
    }  # fmt: skip
    assert (first[(b.url, a.url)]["need"], first[(b.url, a.url)]["sent"]) == (2, 2)
    aid = {ev[k].id for k in ("a1", "a2", "b1", "marked")}
    assert await ids_on(connect, a.url) == aid | {ev["note"].id}
    assert await ids_on(connect, b.url) == aid  # the plain note is not aid traffic

    again = mas("sync", a.url, b.url, "--json")
    assert again.code == 0, again.stderr
    for summary in again.json_lines():
        assert (summary["have"], summary["need"], summary["sent"]) == (4, 0, 0)


async def test_one_way_leaves_the_source_alone_and_says_so_for_people(two, mas, connect):
    a, b, ev = two
    done = mas("sync", "--from", a.url, "--to", b.url)
    assert done.code == 0, done.stderr
    assert done.stdout == ""
    assert f"{a.url} -> {b.url}: 0 already on both, 2 missing, 2 received, 2 sent" in done.stderr
    assert ev["a1"].id in await ids_on(connect, b.url)
    assert await ids_on(connect, a.url) == {ev[k].id for k in ("a1", "a2", "note")}


async def test_filter_flags_replace_the_default(two, mas, connect):
    a, b, ev = two
    done = mas("sync", "--from", a.url, "--to", b.url, "-k", "1", "--json")
    assert done.code == 0, done.stderr
    assert [s["sent"] for s in done.json_lines()] == [1]
    assert ev["note"].id in await ids_on(connect, b.url)
    assert ev["a1"].id not in await ids_on(connect, b.url)

    by_author = mas("sync", a.url, b.url, "-a", ALICE.public_key.hex(), "-k", "30402", "--json")
    assert {(s["from"], s["sent"]) for s in by_author.json_lines()} == {(a.url, 2), (b.url, 0)}


async def test_since_narrows_the_default(relays, mas, connect):
    a, b = relays(2)
    old, new = request(ALICE, "old", at=int(time.time()) - 7200), request(ALICE, "new")
    await publish(connect, a.url, old, new)
    done = mas("sync", "--from", a.url, "--to", b.url, "--since", "1h", "--json")
    assert done.code == 0, done.stderr
    assert await ids_on(connect, b.url) == {new.id}


async def test_what_the_target_refuses_is_counted_with_its_reason(relays, mas, connect):
    (a,) = relays(1)
    (b,) = relays(1, config="[policy]\naid_only = true\n")
    note = sign(ALICE, 1, "not aid", [])
    await publish(connect, a.url, note)
    done = mas("sync", "--from", a.url, "--to", b.url, "-k", "1", "--json")
    assert done.code == 0, done.stderr
    (summary,) = done.json_lines()
    assert summary["sent"] == 0
    [(reason, count)] = summary["refused"].items()
    assert count == 1 and reason.startswith("blocked: this relay only accepts mutual aid")


async def test_a_relay_without_nip77_is_a_one_line_error_exit_3(
    relays, hostile_relay, mas_env, spawn
):
    (a,) = relays(1)
    async with hostile_relay(notice="invalid: unknown message type 'NEG-OPEN'") as old:
        proc = await asyncio.create_subprocess_exec(
            BIN_MAS, "sync", a.url, old.url, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            **spawn(mas_env, passphrase=None),
        )  # fmt: skip
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
    assert proc.returncode == 3, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and old.url in lines[0] and "NIP-77" in lines[0], lines
    assert out == b""


def test_bad_relay_arguments_exit_2(mas):
    for args in (
        ["ws://127.0.0.1:1"],
        ["--from", "ws://127.0.0.1:1"],
        ["ws://127.0.0.1:1", "ws://127.0.0.1:1"],
        ["ws://127.0.0.1:1", "--from", "ws://127.0.0.1:2", "--to", "ws://127.0.0.1:3"],
    ):
        done = mas("sync", *args)
        assert done.code == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1


async def test_an_interrupted_sync_is_finished_by_running_it_again(
    relays, mas, mas_stream, connect
):
    """Nothing is kept locally: the second run lists both sides again and sends the rest.
    The target takes 50 events a second, so the first run is stopped half-way."""
    (a,) = relays(1)
    (b,) = relays(1, config="[rate_limits]\nevents_per_second = 50\nevents_burst = 10\n")
    events = [request(ALICE, f"need-{i}") for i in range(150)]
    await publish(connect, a.url, *events)
    first = mas_stream("sync", "--from", a.url, "--to", b.url, "--json")
    watcher = await connect(b.url)

    async def twenty_copied() -> bool:
        return await watcher.count("n", {"kinds": [30402]}) >= 20

    await until(twenty_copied, timeout=20, every=0.05)
    assert first.interrupt() == 130
    held = await watcher.count("n", {"kinds": [30402]})
    assert 20 <= held < 150

    done = mas("sync", "--from", a.url, "--to", b.url, "--json")
    assert done.code == 0, done.stderr
    (summary,) = done.json_lines()
    # (what the first run had in flight when it stopped may have landed after the count)
    assert summary["have"] >= held and summary["have"] + summary["need"] == 150
    assert summary["need"] > 0 and summary["sent"] == summary["need"]
    assert await ids_on(connect, b.url) == {e.id for e in events}


async def test_a_person_sees_a_progress_bar_then_the_summary(two, terminal, mas_env):
    a, b, _ = two
    shown = terminal(mas_env, "sync", "--from", a.url, "--to", b.url)
    screen = shown.read_until(b"2 sent", timeout=30)
    assert b"listing " + a.url.encode() in screen
    assert b"copying " + a.url.encode() + b" -> " + b.url.encode() in screen
    assert b"2/2" in screen  # the bar's count, complete
    assert shown.proc.wait(timeout=20) == 0


async def test_a_relay_that_wants_auth_gets_it_only_with_the_auth_flag(relays, person, connect):
    (a,) = relays(1)
    (b,) = relays(1, config="[policy]\nauth_required = true\n")
    event = request(ALICE, "rent")
    await publish(connect, a.url, event)
    sam = person("sam")
    refused = sam("sync", "--from", a.url, "--to", b.url, code=3)
    assert "auth-required" in refused.stderr and b.url in refused.stderr

    done = sam("sync", "--from", a.url, "--to", b.url, "--auth", "--json")
    assert [s["sent"] for s in done.json_lines()] == [1]
    reader = await connect(b.url)
    await reader.auth(ALICE, b.url)
    assert [e["id"] for e in await reader.req("r", {"kinds": [30402]})] == [event.id]


async def test_both_with_from_and_to_goes_both_ways(two, mas, connect):
    a, b, ev = two
    done = mas("sync", "--from", a.url, "--to", b.url, "--both", "--json")
    assert done.code == 0, done.stderr
    assert [(s["from"], s["sent"]) for s in done.json_lines()] == [(a.url, 2), (b.url, 2)]
    assert ev["b1"].id in await ids_on(connect, a.url)


async def test_a_target_that_never_answers_is_exit_3_saying_run_it_again(
    relays, connect, mas_env, spawn
):
    """It speaks NIP-77 (holding nothing) but never answers EVENT: nothing is counted as
    sent, and the command says to run it again (exit 3)."""
    (a,) = relays(1)
    await publish(connect, a.url, request(ALICE, "rent"), request(ALICE, "food"))
    home = Path(mas_env["MAS_HOME"])
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text("[timeouts]\nconnect = 2.0\nok = 1.0\neose = 3.0\n")

    async def silent(ws: Any) -> None:
        sessions: dict[str, Negentropy] = {}
        async for raw in ws:
            message = orjson.loads(raw)
            if message[0] in ("NEG-OPEN", "NEG-MSG"):
                neg = sessions.setdefault(message[1], Negentropy(Storage([])))
                reply = neg.reconcile(bytes.fromhex(message[-1])).hex()
                await ws.send(orjson.dumps(["NEG-MSG", message[1], reply]).decode())

    async with serve(silent, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        proc = await asyncio.create_subprocess_exec(
            BIN_MAS, "sync", "--from", a.url, "--to", url, "--json",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, **spawn(mas_env, passphrase=None),
        )  # fmt: skip
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
    assert proc.returncode == 3, err
    (summary,) = [orjson.loads(line) for line in out.splitlines()]
    assert (summary["need"], summary["sent"], summary["unanswered"]) == (2, 0, 2)
    assert err.decode().strip().splitlines()[-1].endswith("run mas sync again to send them")
