"""NIP-42 on one relay socket, as relays really behave (see client/pool_relay.py).

With a key the pool answers every challenge at once, and a REQ or EVENT that comes while
that AUTH awaits its OK waits for it a moment (a relay that checks messages concurrently,
as khatru does, would refuse it). A refusal that AUTH could lift is tried once more after
AUTH; some relays (strfry) send their challenge only with that refusal. Without a key
nothing here ever waits: whom to authenticate as is the caller's choice.
"""

from __future__ import annotations

import asyncio

from shieldmutual.shared.keys import SecretKey

# Seconds a REQ or EVENT waits for an AUTH in flight. Short: a relay that never OKs an AUTH
# (PyPI nostr-relay) must not cost the whole OK timeout, and one that refuses meanwhile
# is answered by the retry after AUTH anyway.
AUTH_HOLD = 2.0


class SocketAuth:
    """One socket's NIP-42 state: an AUTH in flight, its answer, and the subscriptions
    already tried again after AUTH (once each per socket). :meth:`reset` on a new socket."""

    def __init__(self, key: SecretKey | None, ok_timeout: float) -> None:
        self.key = key
        self.ok_timeout = ok_timeout
        self._pending = False
        self._answered = asyncio.Event()
        self._accepted = False
        self._retried: set[str] = set()

    def reset(self) -> None:
        self._pending = self._accepted = False
        self._answered.clear()
        self._retried.clear()

    def challenged(self) -> None:
        """Our AUTH to a challenge is on its way: sends wait a moment for its answer."""
        self._pending = True
        self._answered.clear()

    def settle(self, accepted: bool) -> None:
        """The relay answered our AUTH (or did not in time: ``accepted`` False)."""
        self._accepted = accepted
        self._pending = False
        self._answered.set()

    def may_help(self, prefix: str) -> bool:
        """A refusal AUTH could lift: ``auth-required``, or ``restricted`` while we are not
        authenticated (a relay that keeps some content to known members)."""
        if self.key is None:
            return False
        return prefix == "auth-required" or (prefix == "restricted" and not self._accepted)

    def first_refusal(self, sub_id: str) -> bool:
        """Whether ``sub_id`` was not yet tried again after AUTH on this socket."""
        if sub_id in self._retried:
            return False
        self._retried.add(sub_id)
        return True

    async def settled(self) -> None:
        """Before a REQ or EVENT: let an AUTH in flight get its OK first (``AUTH_HOLD``)."""
        if self._pending:
            try:
                await asyncio.wait_for(self._answered.wait(), min(AUTH_HOLD, self.ok_timeout))
            except TimeoutError:
                self._pending = False  # held once: later sends do not wait for it

    async def authenticated(self) -> bool:
        """After a refusal: whether this socket is authenticated, waiting (bounded) for a
        challenge the relay may send only now, and for the AUTH's answer."""
        if self._pending or not self._answered.is_set():
            try:
                await asyncio.wait_for(self._answered.wait(), self.ok_timeout)
            except TimeoutError:
                return False
        return self._accepted
