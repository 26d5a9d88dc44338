"""NIP-77 over one websocket of the client's own: the ids a relay holds for a filter.

The pool speaks REQ/EVENT/OK; reconciliation is a short exchange of NEG-* frames that
the pool need not know about, so it gets its own socket, dialled through
client/pool_connect.py like every other (``--proxy`` carries it too). The protocol
steps are shared/negclient.py's, shared with relay mirroring::

    async with NegSession(url, proxy=None, timeout=10) as neg:
        ids = await neg.ids(flt)                     # every id the relay holds for it
        neg.sent, neg.received                       # bytes of NEG frames

A relay without NIP-77 answers NEG-OPEN with a NOTICE (or NEG-ERR, CLOSED or nothing):
that is a :class:`~shieldmutual.client.errors.RelayError` naming the relay. With an
``auth`` key, a refusal saying ``auth-required:`` is answered with NIP-42 AUTH (to the
challenge the relay sent) and the reconciliation asked again, once.
"""

from __future__ import annotations

import asyncio
import itertools
from types import TracebackType
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_connect import describe, open_websocket
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.messages import ClientAuth
from shieldmutual.shared.negclient import NegError, Reconciliation
from shieldmutual.shared.nip42 import auth_event

MAX_FRAME = 4 * 2**20  # bytes of one frame from the relay


class NegSession:
    """See the module docstring."""

    def __init__(
        self, url: str, *, proxy: str | None, timeout: float, auth: SecretKey | None = None
    ) -> None:
        self.url = url
        self.proxy = proxy
        self.timeout = timeout
        self.auth = auth
        self._challenge: str | None = None
        self._authed = False
        self.sent = 0
        self.received = 0
        self._ws: ClientConnection | None = None
        self._numbers = itertools.count(1)

    async def __aenter__(self) -> NegSession:
        try:
            async with asyncio.timeout(self.timeout):
                self._ws = await open_websocket(self.url, proxy=self.proxy, max_size=MAX_FRAME)
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise RelayError(f"{self.url}: {describe(exc, self.timeout, self.proxy)}") from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def ids(self, filter_: Filter) -> set[str]:
        """Every id the relay holds for ``filter_`` (reconciled against nothing)."""
        try:
            return await self._ids(filter_)
        except RelayError as exc:
            if self.auth is None or self._authed or "auth-required" not in str(exc):
                raise
        await self._authenticate()
        return await self._ids(filter_)

    async def _ids(self, filter_: Filter) -> set[str]:
        assert self._ws is not None, "use NegSession in async with"
        # The filter becomes JSON here, for the NEG-OPEN frame (shared/negclient.py).
        rec = Reconciliation(f"sync-{next(self._numbers)}", filter_.to_dict(), ())
        try:
            frame = rec.open_frame()
            while True:
                await self._ws.send(frame)
                if rec.done:  # that was NEG-CLOSE
                    break
                message, size = await self._answer(rec.sub_id)
                frame = rec.answer(message, size)
        except NegError as exc:
            raise RelayError(f"{self.url} cannot reconcile (NIP-77): {exc}") from None
        except (OSError, WebSocketException) as exc:
            raise RelayError(f"{self.url}: {describe(exc, self.timeout, self.proxy)}") from None
        finally:
            self.sent += rec.sent
            self.received += rec.received
        return set(rec.need)

    async def _authenticate(self) -> None:
        """NIP-42: sign the relay's challenge; a refusal is a RelayError."""
        assert self._ws is not None and self.auth is not None
        if self._challenge is None:
            raise RelayError(f"{self.url} asks for AUTH but sent no challenge")
        event = auth_event(self.auth, self.url, self._challenge)
        try:
            await self._ws.send(ClientAuth(event).encode())
            ok, _ = await self._answer(event.id, verb="OK")
        except (NegError, OSError, WebSocketException) as exc:
            raise RelayError(f"{self.url}: AUTH got no answer ({exc})") from None
        if len(ok) < 4 or ok[2] is not True:
            raise RelayError(f"{self.url} refused AUTH: {str(ok[3:])[:200]}")
        self._authed = True

    async def _answer(self, key: str, verb: str | None = None) -> tuple[list[Any], int]:
        """The relay's next message about ``key`` (a sub id, or the event id of an OK
        when ``verb`` is "OK"), with its size in bytes. A NOTICE counts (relays without
        NIP-77 answer NEG-OPEN with one); an AUTH challenge is kept for later."""
        assert self._ws is not None
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    frame = await self._ws.recv()
                    try:
                        message = orjson.loads(frame)
                    except orjson.JSONDecodeError:
                        continue
                    if not isinstance(message, list) or len(message) < 2:
                        continue
                    if message[0] == "AUTH" and isinstance(message[1], str):
                        self._challenge = message[1]
                    elif message[0] == "NOTICE":
                        raise NegError(f"the relay said: {str(message[1])[:200]}")
                    elif message[1] == key and verb in (None, message[0]):
                        return message, len(frame)
        except TimeoutError:
            raise NegError(f"no answer within {self.timeout:g}s") from None
