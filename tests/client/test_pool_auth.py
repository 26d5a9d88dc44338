"""NIP-42 as relays really behave (issue 17): the pool against a relay speaking strfry's
dialect.

strfry (hoytech/strfry, relay__auth__restrictedReadKinds = "4, 1059") refuses a REQ whose
filters ask only for restricted kinds with ``["AUTH", challenge]`` then ``["CLOSED", sub,
"ERROR: auth-required: requested filter requires authentication"]``, and a protected
event (``["-"]``) with ``OK false "auth-required: event marked as protected"``; other
relays send the challenge on connect. The stand-in below does both, as told.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve

from shieldmutual.client.pool import Pool, PoolOptions, RelayState, Status
from shieldmutual.client.pool_auth import AUTH_HOLD
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ME = SecretKey(bytes.fromhex("31" * 32))
SENDER = SecretKey(bytes.fromhex("32" * 32))
FAST = PoolOptions(connect_timeout=2, ok_timeout=2, eose_timeout=3, backoff_base=0.05)
STRFRY_CLOSED = "ERROR: auth-required: requested filter requires authentication"
STRFRY_PROTECTED = "auth-required: event marked as protected"
RESTRICTED_KINDS = frozenset({4, 1059})


class DialectRelay:
    """A relay that restricts reading kinds 4 and 1059 to authenticated clients.

    ``on_connect``: send the challenge when a client connects (else with the first
    refusal, as strfry does). ``refusal`` / ``ok_refusal``: the CLOSED and OK messages of
    a refusal. ``auth_delay``: seconds before AUTH is answered (a busy relay).
    ``always_refuse``: refuse restricted REQs even after AUTH. ``closed_first``: send the
    CLOSED before the challenge that goes with it. ``silent_auth``: accept AUTH without an
    OK, as PyPI nostr-relay does (an older NIP-42 draft). What it saw: ``reqs``,
    ``refused`` (REQs and EVENTs refused), ``auths`` (AUTH events), ``events`` (stored).
    """

    def __init__(
        self,
        stored: list[Event] | None = None,
        *,
        on_connect: bool = False,
        refusal: str = STRFRY_CLOSED,
        ok_refusal: str = STRFRY_PROTECTED,
        auth_delay: float = 0.0,
        always_refuse: bool = False,
        closed_first: bool = False,
        silent_auth: bool = False,
    ) -> None:
        self.stored = list(stored or [])
        self.on_connect = on_connect
        self.refusal = refusal
        self.ok_refusal = ok_refusal
        self.auth_delay = auth_delay
        self.always_refuse = always_refuse
        self.closed_first = closed_first
        self.silent_auth = silent_auth
        self.reqs: list[list[Any]] = []
        self.refused = 0
        self.auths: list[Event] = []
        self.events: list[Event] = []
        self.url = ""
        self._server: Server | None = None

    async def __aenter__(self) -> DialectRelay:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{next(iter(self._server.sockets)).getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, ws: ServerConnection) -> None:
        state: dict[str, Any] = {"challenge": None, "authed": None}

        async def send(*message: Any) -> None:
            await ws.send(orjson.dumps(list(message)).decode())

        async def challenge() -> None:
            if state["challenge"] is None:
                state["challenge"] = f"challenge-{id(ws)}"
                await send("AUTH", state["challenge"])

        answers: set[asyncio.Task[None]] = set()

        async def answer_auth(auth: Event) -> None:
            with contextlib.suppress(Exception):
                await self._accept(state, auth, send)

        if self.on_connect:
            await challenge()
        with contextlib.suppress(Exception):
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == "REQ":
                    await self._req(msg, state, send, challenge)
                elif msg[0] == "EVENT":
                    await self._event(Event.from_dict(msg[1]), state, send, challenge)
                elif msg[0] == "AUTH":
                    auth = Event.from_dict(msg[1])
                    self.auths.append(auth)
                    # Checked beside later messages, as khatru handles each in its own
                    # goroutine: a REQ right behind the AUTH is read before it is accepted.
                    answers.add(asyncio.get_running_loop().create_task(answer_auth(auth)))

    async def _req(self, msg: list[Any], state: dict[str, Any], send: Any, challenge: Any) -> None:
        self.reqs.append(msg)
        filters = [Filter.from_dict(f) for f in msg[2:]]
        restricted = all(f.kinds and f.kinds <= RESTRICTED_KINDS for f in filters)
        if restricted and (state["authed"] is None or self.always_refuse):
            self.refused += 1
            if self.closed_first:
                await send("CLOSED", msg[1], self.refusal)
            await challenge()
            if not self.closed_first:
                await send("CLOSED", msg[1], self.refusal)
            return
        for event in self.stored:
            if any(f.matches(event) for f in filters):
                await send("EVENT", msg[1], event.to_dict())
        await send("EOSE", msg[1])

    async def _event(self, event: Event, state: dict[str, Any], send: Any, challenge: Any) -> None:
        if ["-"] in event.tags and state["authed"] != event.pubkey:
            self.refused += 1
            await challenge()
            await send("OK", event.id, False, self.ok_refusal)
            return
        self.events.append(event)
        await send("OK", event.id, True, "")

    async def _accept(self, state: dict[str, Any], auth: Event, send: Any) -> None:
        await asyncio.sleep(self.auth_delay)  # how long this relay takes to check an AUTH
        good = state["challenge"] and auth.first_tag("challenge") == state["challenge"]
        if good and auth.is_valid() and auth.kind == 22242:
            state["authed"] = auth.pubkey
            if not self.silent_auth:
                await send("OK", auth.id, True, "successfully authenticated")
        else:
            await send("OK", auth.id, False, "error: challenge string mismatch")


def wrap_for(recipient: SecretKey, text: str = "a wrapped message") -> Event:
    """A stand-in gift wrap (kind 1059 addressed to ``recipient``): the pool only routes it."""
    return sign(SENDER, 1059, text, [["p", recipient.public_hex]])


def inbox(key: SecretKey) -> list[Filter]:
    return [Filter(kinds=frozenset({1059}), tags={"p": frozenset({key.public_hex})})]


async def test_strfry_refusal_with_its_error_prefix_is_answered_with_auth_and_a_retry() -> None:
    """Finding: `mas dm read` on strfry ended with "closed ERROR: auth-required: ..."."""
    wrap = wrap_for(ME)
    async with DialectRelay([wrap]) as relay, Pool([relay.url], options=FAST, auth=ME) as pool:
        async with pool.subscribe(inbox(ME)) as sub:
            events = [e async for e in sub]
        assert [e.id for e in events] == [wrap.id]
        assert sub.stats[relay.url].status is RelayState.EOSE
        assert [a.pubkey for a in relay.auths] == [ME.public_hex]
        assert relay.auths[0].first_tag("relay") == relay.url
        assert len(relay.reqs) == 2


async def test_a_challenge_already_received_is_answered_before_a_req_that_needs_it() -> None:
    """The relay challenged on connect and is slow to accept the AUTH: the inbox REQ waits
    for the AUTH's OK instead of being refused and sent again."""
    wrap = wrap_for(ME)
    public = sign(SENDER, 1, "hello", [])
    async with (
        DialectRelay([wrap, public], on_connect=True, auth_delay=0.3) as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        assert [e.id for e in await pool.fetch([Filter.from_dict({"kinds": [1]})])] == [public.id]
        assert [e.id for e in await pool.fetch(inbox(ME))] == [wrap.id]
        assert relay.refused == 0
        assert len(relay.auths) == 1


async def test_the_retry_after_auth_happens_once() -> None:
    """A relay that still refuses after a successful AUTH ends the subscription; the REQ is
    not sent again and again."""
    async with (
        DialectRelay(always_refuse=True, refusal="auth-required: who are you?") as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        async with pool.subscribe(inbox(ME)) as sub:
            assert [e async for e in sub] == []
        assert sub.stats[relay.url].status is RelayState.CLOSED
        assert sub.stats[relay.url].message == "auth-required: who are you?"
        assert len(relay.reqs) == 2


async def test_restricted_before_auth_is_answered_with_auth_and_a_retry() -> None:
    wrap = wrap_for(ME)
    async with (
        DialectRelay([wrap], refusal="Restricted:  members only") as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        assert [e.id for e in await pool.fetch(inbox(ME))] == [wrap.id]
        assert len(relay.auths) == 1


async def test_a_protected_event_refused_in_the_error_style_is_published_after_auth() -> None:
    protected = sign(ME, 1, "only I may publish this", [["-"]])
    async with (
        DialectRelay(ok_refusal="ERROR: auth-required: event marked as protected") as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        result = (await pool.publish(protected)).results[0]
        assert result.status is Status.ACCEPTED, result.message
        assert [e.id for e in relay.events] == [protected.id]
        assert [a.pubkey for a in relay.auths] == [ME.public_hex]


async def test_without_a_key_the_pool_never_authenticates() -> None:
    """Privacy: a pool given no key (public reads, anonymous sends) never answers AUTH,
    however the relay refuses; the refusal is final and reported as the relay said it."""
    protected = sign(ME, 1, "only I may publish this", [["-"]])
    async with DialectRelay(on_connect=True) as relay, Pool([relay.url], options=FAST) as pool:
        async with pool.subscribe(inbox(ME)) as sub:
            assert [e async for e in sub] == []
        result = (await pool.publish(protected)).results[0]
        assert sub.stats[relay.url].message == STRFRY_CLOSED
        assert result.status is Status.REJECTED and result.message == STRFRY_PROTECTED
        assert relay.auths == [] and len(relay.reqs) == 1


async def test_restricted_after_auth_is_final() -> None:
    """Once authenticated, ``restricted:`` means this key may not: no AUTH or REQ again."""
    public = sign(SENDER, 1, "hello", [])
    async with (
        DialectRelay(
            [public], on_connect=True, always_refuse=True, refusal="restricted: no"
        ) as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        assert [e.id for e in await pool.fetch([Filter.from_dict({"kinds": [1]})])] == [public.id]
        async with pool.subscribe(inbox(ME)) as sub:
            assert [e async for e in sub] == []
        assert sub.stats[relay.url].message == "restricted: no"
        assert len(relay.auths) == 1 and len(relay.reqs) == 2


async def test_a_challenge_that_follows_the_refusal_is_waited_for() -> None:
    wrap = wrap_for(ME)
    async with (
        DialectRelay([wrap], closed_first=True) as relay,
        Pool([relay.url], options=FAST, auth=ME) as pool,
    ):
        assert [e.id for e in await pool.fetch(inbox(ME))] == [wrap.id]
        assert len(relay.auths) == 1 and len(relay.reqs) == 2


async def test_a_relay_that_never_answers_auth_holds_a_req_only_briefly() -> None:
    """nostr-relay takes AUTH without an OK: a REQ behind it waits a moment, not the whole
    OK timeout, then goes (that relay reads its messages in order, so it is served), and
    the REQs after it do not wait again."""
    wrap = wrap_for(ME)
    public = sign(SENDER, 1, "hello", [])
    patient = PoolOptions(connect_timeout=2, ok_timeout=20, eose_timeout=20, backoff_base=0.05)
    async with (
        DialectRelay([wrap, public], on_connect=True, silent_auth=True) as relay,
        Pool([relay.url], options=patient, auth=ME) as pool,
    ):
        assert [e.id for e in await pool.fetch([Filter.from_dict({"kinds": [1]})])] == [public.id]
        clock = asyncio.get_running_loop().time
        start = clock()
        assert [e.id for e in await pool.fetch(inbox(ME))] == [wrap.id]
        held = clock()
        assert held - start < AUTH_HOLD + 2
        assert [e.id for e in await pool.fetch(inbox(ME))] == [wrap.id]
        assert clock() - held < AUTH_HOLD  # held once per AUTH, not once per REQ
        assert relay.refused == 0
