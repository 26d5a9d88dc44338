"""The seams between the pool's parts, as nostr-tools draws them: a relay's websocket
(client/pool_socket.py) and its Nostr side (client/pool_relay.py), a subscription over
several relays (client/pool_subscription.py) and the pool that owns them (client/pool.py).
Each part calls the others only through these protocols, so none reaches into another's
state and each can be read, and tested, on its own. mypy checks that each part satisfies
the protocol it is passed as."""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import TYPE_CHECKING, Protocol

from shieldmutual.client.pool_options import PoolOptions
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from shieldmutual.client.verifier import Verifier


class Backpressure(Protocol):
    """What a socket waits on before reading further, when a reader fell behind."""

    async def caught_up(self) -> None:
        """Returns once the reader has room again."""


class Subscriber(Backpressure, Protocol):
    """What a relay connection tells a subscription attached to it. ``url`` names the
    relay, since one subscription hears from several connections."""

    def filters_for(self, url: str) -> Sequence[Filter]:
        """The filters of the REQ to send now (a resumed one asks only for what is new)."""

    def req_sent(self, url: str) -> None:
        """The REQ went out; stored events follow."""

    def on_frame(self, url: str, event_id: str, frame: bytes) -> bool | None:
        """An EVENT frame read only as far as its id: None to parse it and call on_event;
        else taken unread (True: reading must pause)."""

    def on_event(self, url: str, event: Event) -> bool:
        """An event; True when the reader is so far behind that reading must pause."""

    def on_invalid(self, url: str) -> None:
        """A frame for this subscription that could not be read."""

    def on_eose(self, url: str) -> None:
        """The relay's stored events are all sent."""

    def on_closed(self, url: str, message: str) -> None:
        """The relay ended the subscription (CLOSED)."""

    def on_unreachable(self, url: str, message: str) -> None:
        """No connection (the relay is retried while the subscription needs it)."""

    def on_disconnect(self, url: str, last_alive: float) -> None:
        """The socket dropped; ``last_alive`` is the wall-clock time of its last frame."""


class SocketOwner(Protocol):
    """What a relay's socket (client/pool_socket.py) tells the Nostr side that owns it
    (client/pool_relay.py)."""

    def wanted(self) -> bool:
        """Whether anything still needs the relay (else a dropped socket stays closed)."""

    async def opened(self, ws: ClientConnection) -> None:
        """A socket opened: re-send what must be on it (the active REQs)."""

    def received(self, raw: bytes) -> Backpressure | None:
        """One frame; what to wait for before reading on, when a reader fell behind."""

    def lost(self, last_alive: float) -> None:
        """The socket closed (``last_alive``: wall-clock time of its last frame)."""

    def unreachable(self, message: str) -> None:
        """A connection attempt failed, or the relay is held off for breaking our limits."""


class RelayLink(Protocol):
    """What a subscription asks of one relay's connection."""

    async def attach(self, sub_id: str, sub: Subscriber) -> None:
        """Send ``sub``'s REQ under ``sub_id`` now and after every reconnect."""

    async def detach(self, sub_id: str) -> None:
        """Send CLOSE and forget ``sub_id``."""


class Closable(Protocol):
    """A subscription, as the pool sees it when it closes."""

    async def close(self) -> None: ...


class SubscriptionHost(Protocol):
    """What a subscription needs from the pool it belongs to."""

    @property
    def options(self) -> PoolOptions: ...

    @property
    def lagging(self) -> Set[str]:
        """Relays that let an earlier grace run out: nobody waits for them."""

    def connection(self, url: str) -> RelayLink:
        """The pool's connection to ``url`` (shared by every subscription)."""

    def track(self, sub: Closable) -> None:
        """A subscription started: the pool closes it when the pool closes."""

    def untrack(self, sub: Closable) -> None:
        """A subscription ended."""

    def lag(self, url: str, why: str) -> None:
        """``url`` let a grace run out."""

    def waiting(self, urls: list[str]) -> None:
        """A grace runs for ``urls``."""

    def answered(self, url: str) -> None:
        """``url`` answered: it holds up later calls again."""

    def verifier(self) -> Verifier:
        """The pool's signature worker (client/verifier.py), started on first call."""
