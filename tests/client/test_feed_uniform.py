"""Issue 11 privacy fix: what `mas feed` and `mas request list` ask relays does not depend
on what you follow or whom you know (PROTOCOL §16 rule 9).

A recording proxy in front of a real mas-relay keeps every REQ's filters. Two people
with different follows and contacts run the same commands through it: the filters must
be the same multiset, and none may name a request's address. The thread queries page
back with ``until``, so a thread of more comments than a relay returns at once (500)
is counted whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.comments import Pledge, RequestRef, pledge_template
from shieldmutual.shared.aid.notes import (
    Announcement,
    Syndication,
    announcement_template,
    syndication_template,
)
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

Filters = list[bytes]


class RecordingProxy:
    """A websocket proxy on 127.0.0.1 (its own thread and loop, since the CLI runs its own
    ``asyncio.run``) that forwards everything to ``upstream`` and records each REQ."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.reqs: list[list[dict[str, Any]]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def filters(self) -> Filters:
        """Every filter sent since the last call, as a sorted multiset (sub ids dropped)."""
        taken, self.reqs = self.reqs, []
        return sorted(orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for req in taken for f in req)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0, max_size=2**24) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            self._ready.set()
            await self._stop

    async def _handle(self, client: ServerConnection) -> None:
        async with connect(self.upstream, max_size=2**24) as upstream:

            async def up() -> None:
                async for raw in client:
                    message = orjson.loads(raw)
                    if message[0] == "REQ":
                        self.reqs.append(message[2:])
                    await upstream.send(raw)

            async def down() -> None:
                async for raw in upstream:
                    await client.send(raw)

            tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def recorded(relay_process: Any, tmp_path: Path) -> Iterator[tuple[Any, RecordingProxy]]:
    config = tmp_path / "relay.toml"
    config.write_text("[rate_limits]\nevents_per_second = 0\nreqs_per_second = 0\n")
    relay = relay_process("--config", str(config))
    with RecordingProxy(relay.url) as proxy:
        yield relay, proxy


def a_request(slug: str, title: str, identifier: str) -> AidRequest:
    return AidRequest(
        title=title,
        summary="Work lost after the raid.",
        story="The social centre was raided.",
        location="Leeds, UK",
        amount=Decimal(100),
        currency="GBP",
        societies=(slug,),
        identifier=identifier,
    )


def profile(key: SecretKey, name: str) -> Event:
    return sign(key, 0, orjson.dumps({"name": name}).decode(), [])


def pledged(
    key: SecretKey, request: Event, relay: str, amount: int, at: int | None = None
) -> Event:
    ref = RequestRef.of(request, relay)
    return sign(key, *pledge_template(Pledge(ref, Decimal(amount), "GBP")), created_at=at)


def published(key: SecretKey, request: AidRequest, relay: str) -> list[Event]:
    """A request as `mas request new` publishes it: the listing and its announcement."""
    event = sign(key, *request_event_template(request))
    note = sign(key, *announcement_template(Announcement.of(request, key.public_hex, [relay])))
    return [event, note]


def test_feed_and_list_send_the_same_filters_whatever_you_follow_and_know(
    recorded: Any, keys: Any, person: Any, push: Any
) -> None:
    relay, proxy = recorded
    leeds = published(keys.alice, a_request("leeds-care", "Rent in Leeds", "leeds"), relay.url)
    north = published(keys.bob, a_request("north", "Boots for the north", "north"), relay.url)
    south = published(keys.carol, a_request("south", "Vet bill", "south"), relay.url)
    into_north = sign(keys.dave, *syndication_template(Syndication.of(south[0], ("north",))))
    push(relay.url, *leeds, *north, *south, into_north)
    push(
        relay.url,
        pledged(keys.dave, leeds[0], relay.url, 10),
        pledged(keys.alice, north[0], relay.url, 20),
        pledged(keys.bob, south[0], relay.url, 30),
        profile(keys.alice, "Alice A"),
        profile(keys.bob, "Bob B"),
        profile(keys.carol, "Carol C"),
    )

    # Rosa follows Leeds and knows Alice; Sol follows the north and knows Bob.
    rosa = person("rosa", SecretKey(bytes([0x21]) * 32))
    sol = person("sol", SecretKey(bytes([0x22]) * 32))
    for who, slug, friend, petname in ((rosa, "mas-leeds-care", keys.alice, "al"),
                                       (sol, "mas-north", keys.bob, "bo")):  # fmt: skip
        assert who("follow", slug).code == 0
        npub = nip19.npub_encode(friend.public_hex)
        assert who("contacts", "add", petname, npub).code == 0

    sent: dict[tuple[str, str], Filters] = {}
    shown: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for who in (rosa, sol):
        for command in (("feed", "--once"), ("request", "list")):
            proxy.filters()
            done = who(*command, "--json", "-r", proxy.url)
            assert done.code == 0, done.stderr
            shown[who.name, command[0]] = done.json_lines()
            sent[who.name, command[0]] = proxy.filters()

    # The commands show what each follows, with progress and names...
    for command in ("feed", "request"):
        (mine,) = shown["rosa", command]
        assert mine["title"] == "Rent in Leeds" and mine["author_petname"] == "al"
        assert mine["progress"]["pledged"] == {"GBP": "10"}
        theirs = {item["title"]: item for item in shown["sol", command]}
        assert sorted(theirs) == ["Boots for the north", "Vet bill"]
        assert theirs["Boots for the north"]["author_petname"] == "bo"
        assert theirs["Vet bill"]["author_name"] == "Carol C"
        assert theirs["Vet bill"]["progress"]["pledged"] == {"GBP": "30"}
    # ...from exactly the same queries, none naming a request.
    for command in ("feed", "request"):
        assert sent["rosa", command], command
        assert sent["rosa", command] == sent["sol", command], command
        assert not any(b"30402:" in f for f in sent["rosa", command]), command


def test_a_thread_of_more_comments_than_one_relay_answer_is_counted_whole(
    recorded: Any, keys: Any, person: Any, push: Any
) -> None:
    relay, proxy = recorded
    request, note = published(keys.alice, a_request("leeds-care", "Busy", "busy"), relay.url)
    push(relay.url, request, note)
    count = 520  # more than the relay's 500 results per filter
    # Three a second (three people), so pages meet inside a second: the boundary must
    # neither drop nor double-count a pledge.
    now, people = int(time.time()), (keys.bob, keys.carol, keys.dave)
    pledges = [pledged(people[i % 3], request, relay.url, 1, now - i // 3) for i in range(count)]
    for start in range(0, count, 200):
        push(relay.url, *pledges[start : start + 200])

    reader = person("rosa", SecretKey(bytes([0x21]) * 32))
    naddr = nip19.naddr_encode("busy", keys.alice.public_hex, 30402, [relay.url])
    (view,) = reader("request", "show", naddr, "--json", "-r", relay.url).json_lines()
    assert view["progress"]["pledges"] == count
    assert view["progress"]["pledged"] == {"GBP": str(count)}
    listed = reader("request", "list", "--society", "mas-leeds-care", "--json", "-r", proxy.url)
    (row,) = listed.json_lines()
    assert row["progress"]["pledged"] == {"GBP": str(count)}


def test_a_request_fetched_for_a_pointer_is_fetched_for_everyone(
    recorded: Any, keys: Any, person: Any, push: Any
) -> None:
    """A syndication into the north of a request older than ``--since``: the request is not
    in the feed's own result, so it is fetched by address, and by a reader who follows
    the north as much as by one who does not."""
    relay, proxy = recorded
    week_ago = int(time.time()) - 7 * 86400
    old = sign(keys.carol, *request_event_template(a_request("south", "Vet bill", "south")),
               created_at=week_ago)  # fmt: skip
    push(relay.url, old, sign(keys.dave, *syndication_template(Syndication.of(old, ("north",)))))
    rosa = person("rosa", SecretKey(bytes([0x21]) * 32))
    sol = person("sol", SecretKey(bytes([0x22]) * 32))
    assert rosa("follow", "mas-leeds-care").code == 0 and sol("follow", "mas-north").code == 0

    sent, shown = {}, {}
    for who in (rosa, sol):
        proxy.filters()
        done = who("feed", "--once", "--json", "--since", "2 days ago", "-r", proxy.url)
        assert done.code == 0, done.stderr
        shown[who.name], sent[who.name] = done.json_lines(), proxy.filters()
    assert shown["rosa"] == [] and [item["title"] for item in shown["sol"]] == ["Vet bill"]
    fetched = {"#d": ["south"], "authors": [keys.carol.public_hex], "kinds": [30402]}
    assert orjson.dumps(fetched, option=orjson.OPT_SORT_KEYS) in sent["rosa"]
    assert sent["rosa"] == sent["sol"]


def test_whois_asks_for_the_same_profiles_whoever_you_are(
    recorded: Any, keys: Any, person: Any, push: Any
) -> None:
    """The profiles `whois` looks up are the people public events about the person name.
    Leaving the reader's own identities out of that query would name them by their
    absence: Rosa, who vouched for Alice, must ask exactly what Sol asks."""
    relay, proxy = recorded
    rosa = person("rosa", SecretKey(bytes([0x21]) * 32))
    sol = person("sol", SecretKey(bytes([0x22]) * 32))
    alice = nip19.npub_encode(keys.alice.public_hex)
    assert rosa("vouch", alice, "-r", relay.url).code == 0
    push(relay.url, profile(keys.alice, "Alice A"))

    profile_queries = {}
    for who in (rosa, sol):
        proxy.filters()
        done = who("whois", alice, "--json", "-r", proxy.url)
        assert done.code == 0, done.stderr
        profile_queries[who.name] = [f for f in proxy.filters() if b'"kinds":[0]' in f]
    assert profile_queries["rosa"], "whois looked up no profile"
    assert profile_queries["rosa"] == profile_queries["sol"]
    assert rosa.pubkey.encode() in b"".join(profile_queries["rosa"])
