"""Relay mirroring (relay/mirror.py) between in-process relays, and the rules for events a
relay copies from its peers: the same checks as a client's EVENT except the created_at
lower limit, and no gift wrap unless the operator opts in."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import serve

from shieldmutual.relay import config as config_mod
from shieldmutual.relay import policy
from shieldmutual.relay.config import Config
from shieldmutual.relay.mirror import peer_label
from shieldmutual.relay.server import Relay
from shieldmutual.shared.errors import ConfigError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)
BOB = SecretKey(bytes([2]) * 32)
YEAR = 365 * 24 * 3600
REQUEST_TAGS = [["d", "rent"], ["t", "mas-north"], ["title", "Rent"]]


def aid(key: SecretKey = ALICE, at: int | None = None, d: str = "rent") -> Event:
    """A request (kind 30402), the traffic mirrored by default."""
    tags = [["d", d], ["t", "mas-north"], ["title", "Rent"]]
    return sign(key, 30402, "help", tags, created_at=int(time.time()) if at is None else at)


def wrap(at: int | None = None) -> Event:
    return sign(ALICE, 1059, "sealed", [["p", BOB.public_key.hex()]], created_at=at)


def ctx(config: Config, mirrored: bool) -> policy.Context:
    return policy.Context(config, int(time.time()), frozenset(), 100, mirrored=mirrored)


MIRRORING = Config().replace("mirror", peers=frozenset({"ws://127.0.0.1:1"}))


# ---- the rules ------------------------------------------------------------------------


def test_a_mirrored_event_older_than_the_lower_limit_is_accepted_a_published_one_is_not():
    old = aid(at=int(time.time()) - 4 * YEAR)
    rules = policy.build(MIRRORING)
    assert "too old" in str(policy.check(rules, old, ctx(MIRRORING, mirrored=False)))
    assert policy.check(rules, old, ctx(MIRRORING, mirrored=True)) is None


def test_a_mirrored_event_from_the_future_is_still_refused():
    future = aid(at=int(time.time()) + 3600)
    refusal = policy.check(policy.build(MIRRORING), future, ctx(MIRRORING, mirrored=True))
    assert refusal is not None and "future" in refusal


def test_a_gift_wrap_is_not_mirrored_unless_the_operator_opts_in():
    rules = policy.build(MIRRORING)
    refusal = policy.check(rules, wrap(), ctx(MIRRORING, mirrored=True))
    assert refusal == "blocked: gift wraps are not mirrored here"
    assert policy.check(rules, wrap(), ctx(MIRRORING, mirrored=False)) is None  # a client's
    opted = MIRRORING.replace("mirror", gift_wraps=True)
    assert policy.check(policy.build(opted), wrap(), ctx(opted, mirrored=True)) is None


def test_mirrored_events_pass_the_aid_only_rule_and_nip70_like_any_other():
    config = MIRRORING.replace("policy", aid_only=True)
    rules = policy.build(config)
    note = sign(ALICE, 1, "not aid", [])
    assert str(policy.check(rules, note, ctx(config, mirrored=True))).startswith("blocked:")
    protected = sign(ALICE, 30402, "x", [*REQUEST_TAGS, ["-"]])
    refusal = policy.check(rules, protected, ctx(config, mirrored=True))
    assert str(refusal).startswith("auth-required:")


def test_an_auth_required_relay_takes_what_it_fetched_from_its_peers():
    config = MIRRORING.replace("policy", auth_required=True)
    rules = policy.build(config)
    assert policy.check(rules, aid(), ctx(config, mirrored=False)) is not None
    assert policy.check(rules, aid(), ctx(config, mirrored=True)) is None


# ---- config -----------------------------------------------------------------------------


def test_mirror_config_reads_peers_filters_interval_and_gift_wraps():
    config = config_mod.from_dict(
        {
            "mirror": {
                "peers": ["wss://relay2.example.org", "ws://10.0.0.2:7777"],
                "filters": [{"kinds": [30402], "#t": ["mas-north"]}],
                "interval": 60,
                "gift_wraps": True,
            }
        }
    )
    mirror = config.mirror
    assert mirror.peers == {"wss://relay2.example.org", "ws://10.0.0.2:7777"}
    assert mirror.filters == (Filter.from_dict({"kinds": [30402], "#t": ["mas-north"]}),)
    assert (mirror.interval, mirror.gift_wraps) == (60.0, True)


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ({"peers": ["http://relay.example.org"]}, "[mirror] peers"),
        ({"peers": [7]}, "[mirror] peers"),
        ({"filters": [{"kinds": ["x"]}]}, "[mirror] filters"),
        ({"filters": {"kinds": [1]}}, "[mirror] filters must be a list"),
        ({"interval": 0}, "[mirror] interval must be more than 0"),
    ],
)
def test_bad_mirror_config_is_refused(mirror: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_mod.from_dict({"mirror": mirror})


def test_peers_named_by_ip_address_are_logged_by_number():
    assert peer_label("ws://10.0.0.2:7777", 2) == "peer 2"
    assert peer_label("ws://[::1]:7777", 3) == "peer 3"
    assert peer_label("wss://relay2.example.org", 1) == "relay2.example.org"


# ---- two relays -------------------------------------------------------------------------

Start = Callable[..., Awaitable[Relay]]


async def mirror_of(start_relay: Start, peer: Relay, **sections: dict[str, Any]) -> Relay:
    """A relay mirroring ``peer``, reconciling often."""
    mirror = {"peers": frozenset({peer.url}), "interval": 0.2}
    return await start_relay(mirror=mirror, **sections)


async def stored(relay: Relay, **filter_: Any) -> list[dict[str, Any]]:
    pages = relay.store.query([Filter.from_dict(filter_)], int(time.time()))
    return [orjson.loads(raw) for page in [p async for p in pages] for raw in page]


async def test_a_new_event_reaches_the_mirror_live(start_relay, connect, until):
    a = await start_relay()
    b = await mirror_of(start_relay, a)
    peer = b.mirror.peers[a.url]
    await until(lambda: peer.stats.state == "live")
    client = await connect(a.url)
    event = aid()
    assert (await client.publish(event))[2] is True
    watcher = await connect(b.url)
    await watcher.send("REQ", "w", {"ids": [event.id]})
    got = await watcher.expect(lambda m: m[0] == "EVENT" and m[2]["id"] == event.id)
    assert got[2] == event.to_dict()


async def test_a_peer_list_naming_this_relay_skips_it(start_relay):
    """A community shares one peer list; each relay finds itself in it."""
    a = await start_relay()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    own = f"ws://127.0.0.1:{port}"
    b = await start_relay(server={"port": port}, mirror={"peers": frozenset({a.url, own})})
    assert b.url == own
    assert list(b.mirror.peers) == [a.url]


async def test_what_a_peer_held_before_is_copied_old_events_included(start_relay, connect, until):
    a = await start_relay()
    client = await connect(a.url)
    older = aid(at=int(time.time()) - 2 * YEAR, d="old")
    newer = aid(d="new")
    plain = sign(ALICE, 1, "not aid traffic", [])
    for event in (older, newer, plain):
        assert (await client.publish(event))[2] is True
    # B refuses anything older than a year from clients; mirrored history still comes.
    b = await mirror_of(start_relay, a, limits={"created_at_lower_limit": YEAR})
    await until(lambda: b.mirror.peers[a.url].stats.reconciliations >= 1)
    ids = {e["id"] for e in await stored(b)}
    assert ids == {older.id, newer.id}  # the plain note is not aid traffic


async def test_a_deleted_event_does_not_come_back_from_a_peer_that_still_has_it(
    start_relay, connect, until
):
    a = await start_relay()
    event = aid(at=int(time.time()) - 60)  # before the live REQ's window: fetched only
    assert (await (await connect(a.url)).publish(event))[2] is True
    b = await start_relay()
    deletion = sign(ALICE, 5, "", [["e", event.id]])
    assert (await (await connect(b.url)).publish(deletion))[2] is True
    await b.stop()
    b = await start_relay(
        server={"db": str(b.config.server.db)},
        mirror={"peers": frozenset({a.url}), "interval": 0.2},
    )
    peer = b.mirror.peers[a.url]
    await until(lambda: peer.stats.reconciliations >= 3)
    assert peer.stats.refusals == {"blocked": 1}  # fetched once, not at every interval
    assert {e["id"] for e in await stored(b)} == {deletion.id}


async def test_replaceable_versions_converge_to_the_newest(start_relay, connect, until):
    a = await start_relay()
    now = int(time.time())
    first, second = aid(at=now - 10), aid(at=now)
    assert (await (await connect(a.url)).publish(first))[2] is True
    b = await mirror_of(start_relay, a)
    assert (await (await connect(b.url)).publish(second))[2] is True
    await until(lambda: b.mirror.peers[a.url].stats.reconciliations >= 1)
    assert [e["id"] for e in await stored(b, kinds=[30402])] == [second.id]


async def test_a_peer_that_was_down_is_retried_and_followed_once_up(start_relay, connect, until):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    b = await start_relay(mirror={"peers": frozenset({f"ws://127.0.0.1:{port}"}), "interval": 60})
    peer = next(iter(b.mirror.peers.values()))
    await until(lambda: peer.stats.state == "down")
    assert peer.stats.last_error == "ConnectionRefusedError"
    a = await start_relay(server={"port": port})
    event = aid()
    assert (await (await connect(a.url)).publish(event))[2] is True
    await until(lambda: peer.stats.stored == 1, timeout=15)  # by reconciliation or live
    assert [e["id"] for e in await stored(b)] == [event.id]


async def test_a_peer_without_nip77_is_followed_live_and_its_words_logged_harmlessly(
    start_relay, until, caplog
):
    """An older relay answers NEG-OPEN with a NOTICE (here full of terminal escapes)."""
    event = aid()
    notice = "\x1b]0;pwned\x07\x1b[2J unknown message \u202etype\nforged line"

    async def old_relay(ws: Any) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            if message[0] == "NEG-OPEN":
                await ws.send(orjson.dumps(["NOTICE", notice]).decode())
            elif message[0] == "REQ":
                await ws.send(orjson.dumps(["EVENT", message[1], event.to_dict()]).decode())
                await ws.send(orjson.dumps(["EOSE", message[1]]).decode())

    async with serve(old_relay, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        b = await start_relay(mirror={"peers": frozenset({url}), "interval": 60})
        peer = b.mirror.peers[url]
        await until(lambda: peer.stats.stored == 1)
        await until(lambda: any("cannot reconcile" in r.getMessage() for r in caplog.records))
    line = next(r.getMessage() for r in caplog.records if "cannot reconcile" in r.getMessage())
    assert "\x1b" not in line and "\u202e" not in line and "\n" not in line
    assert [e["id"] for e in await stored(b)] == [event.id]


async def test_a_peer_that_drops_mid_reconciliation_is_noticed_at_once(start_relay, until):
    """Not after the 30 s a slow peer may take to answer: the reader's end says it."""

    async def dropping(ws: Any) -> None:
        async for raw in ws:
            if orjson.loads(raw)[0] == "NEG-OPEN":
                await ws.close()

    async with serve(dropping, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        b = await start_relay(mirror={"peers": frozenset({url}), "interval": 60})
        peer = b.mirror.peers[url]
        await until(lambda: peer.stats.state == "down", timeout=5)
        assert peer.stats.reconciliations == 0


async def test_a_forged_event_from_a_peer_is_refused_like_a_clients(start_relay, until):
    good = aid(d="good")
    forged = {**aid(d="forged").to_dict(), "sig": good.sig}  # someone else's signature
    retitled = {**good.to_dict(), "content": "send money here instead"}  # id no longer matches

    async def lying(ws: Any) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            if message[0] == "REQ":
                for event in (forged, retitled, good.to_dict()):
                    await ws.send(orjson.dumps(["EVENT", message[1], event]).decode())
                await ws.send(orjson.dumps(["EOSE", message[1]]).decode())

    async with serve(lying, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        b = await start_relay(mirror={"peers": frozenset({url}), "interval": 60})
        peer = b.mirror.peers[url]
        await until(lambda: peer.stats.stored + peer.stats.refused >= 3)
    assert peer.stats.refusals == {"invalid": 2}
    assert [e["id"] for e in await stored(b)] == [good.id]


async def test_gift_wraps_a_peer_hands_out_are_copied_only_with_the_opt_in(start_relay, until):
    """A peer that serves wraps to anyone (not ours: it hides them from all but their
    recipient). Even a filter naming kind 1059 copies none unless gift_wraps = true."""
    sealed = wrap()

    async def open_handed(ws: Any) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            if message[0] == "REQ":
                await ws.send(orjson.dumps(["EVENT", message[1], sealed.to_dict()]).decode())
                await ws.send(orjson.dumps(["EOSE", message[1]]).decode())

    async with serve(open_handed, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        peers = frozenset({url})
        opted = await start_relay(mirror={"peers": peers, "gift_wraps": True})
        asked = await start_relay(mirror={"peers": peers, "filters": [{"kinds": [1059]}]})
        await until(lambda: opted.mirror.peers[url].stats.stored == 1)
        await until(lambda: asked.mirror.peers[url].stats.refused == 1)
    assert asked.mirror.peers[url].stats.refusals == {"blocked": 1}
    viewer = frozenset({BOB.public_key.hex()})
    for relay, held in ((opted, [sealed.id]), (asked, [])):
        pages = relay.store.query(
            [Filter(kinds=frozenset({1059}))], int(time.time()), viewer=viewer
        )
        assert [orjson.loads(raw)["id"] async for page in pages for raw in page] == held


async def test_a_peer_that_wants_auth_is_named_in_the_log_with_its_reason(
    start_relay, until, caplog
):
    """Mirroring a relay with auth_required is not supported (the mirror has no key):
    the operator reads why, and the peer is retried with backoff, not in a loop."""
    a = await start_relay(policy={"auth_required": True})
    b = await start_relay(mirror={"peers": frozenset({a.url}), "interval": 60})
    peer = b.mirror.peers[a.url]
    await until(lambda: peer.stats.state == "down")
    assert peer.stats.last_error.startswith("the peer closed the live subscription: auth-required:")
    assert any(peer.stats.last_error in r.getMessage() for r in caplog.records)
