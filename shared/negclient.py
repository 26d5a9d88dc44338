"""One NIP-77 reconciliation as the initiator, without I/O: frames out, messages in.

`mas sync` (client/negsession.py) and relay mirroring (relay/mirror.py) both drive it
over their own websocket, so the protocol steps live once, here::

    rec = Reconciliation("sync-1", {"kinds": [30402]}, items)   # items: (created_at, id)
    send(rec.open_frame())
    while not rec.done:
        send(rec.answer(next_message_about(rec.sub_id)))   # the last one is NEG-CLOSE
    rec.have, rec.need                                           # hex ids

``have``: ids we hold that the relay lacks; ``need``: ids the relay holds that we lack.
Reconciling against an empty item list lists the relay's ids as ``need``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.negentropy import Negentropy, Storage

# Bytes of one negentropy message. Sent as hex inside JSON, so a frame is about twice
# this: well under the 128 KiB websocket message most relays (ours included) accept.
FRAME_SIZE_LIMIT = 50_000


class NegError(ShieldError):
    """The relay refused the reconciliation (NEG-ERR) or does not speak NIP-77."""

    prefix = "error"


class Reconciliation:
    """See the module docstring. ``sent``/``received``: bytes of NEG frames, for the
    summary and the benchmark (reconciling vs downloading every event)."""

    def __init__(
        self,
        sub_id: str,
        filter: dict[str, Any],
        items: Iterable[tuple[int, bytes]],
        *,
        frame_size_limit: int = FRAME_SIZE_LIMIT,
    ) -> None:
        self.sub_id = sub_id
        self.filter = filter
        self._negentropy = Negentropy(Storage(items), frame_size_limit)
        self.have: list[str] = []
        self.need: list[str] = []
        self.sent = 0
        self.received = 0
        self.done = False

    def _frame(self, *message: Any) -> str:
        text = orjson.dumps(list(message)).decode()
        self.sent += len(text)
        return text

    def open_frame(self) -> str:
        """``NEG-OPEN`` with the first message."""
        first = self._negentropy.initiate()
        return self._frame("NEG-OPEN", self.sub_id, self.filter, first.hex())

    def close_frame(self) -> str:
        return self._frame("NEG-CLOSE", self.sub_id)

    def answer(self, message: list[Any], size: int = 0) -> str:
        """The frame to send after the relay's ``message`` about this sub id: the next
        ``NEG-MSG``, or ``NEG-CLOSE`` once reconciled (then ``done``). ``NEG-ERR`` and
        anything else (a ``CLOSED``, say) raise :class:`NegError`."""
        self.received += size
        if len(message) < 3 or message[1] != self.sub_id:
            raise NegError(f"the relay answered NEG-OPEN with {str(message)[:200]}")
        if message[0] == "NEG-ERR":
            raise NegError(f"the relay refused to reconcile: {str(message[2])[:200]}")
        if message[0] != "NEG-MSG" or not isinstance(message[2], str):
            raise NegError(f"the relay answered NEG-OPEN with {str(message)[:200]}")
        try:
            payload = bytes.fromhex(message[2])
        except ValueError:
            raise NegError("the relay sent a NEG-MSG that is not hex") from None
        try:
            step = self._negentropy.reconcile_initiator(payload)
        except ShieldError as exc:
            raise NegError(f"the relay sent a bad negentropy message: {exc}") from None
        self.have.extend(i.hex() for i in step.have)
        self.need.extend(i.hex() for i in step.need)
        if step.next is None:
            self.done = True
            return self.close_frame()
        return self._frame("NEG-MSG", self.sub_id, step.next.hex())
