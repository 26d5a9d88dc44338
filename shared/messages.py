"""Every NIP-01 client<->relay message (plus NIP-42 AUTH and NIP-45 COUNT), both ways.

Parsing raises the error tree with the prefix the relay sends back. A
:class:`ParseError` remembers the subscription or event id it got as far as reading,
so the relay can answer with ``CLOSED <sub>`` or ``OK <id> false`` instead of a NOTICE.
The relay's hot path frames already-encoded event JSON with :func:`event_frame`, so
each event is encoded once however many subscribers receive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from shieldmutual.shared.errors import InvalidError, MessageError, ShieldError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.nip01prefix import message_prefix

MAX_SUBSCRIPTION_ID = 64


class ParseError(MessageError):
    """A malformed message, with whatever ids were readable before the fault."""

    def __init__(
        self, message: str, *, subscription_id: str | None = None, event_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.subscription_id = subscription_id
        self.event_id = event_id


# ---- client -> relay -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientEvent:
    event: Event

    def encode(self) -> str:
        return _text(["EVENT", self.event.to_dict()])


@dataclass(frozen=True, slots=True)
class ClientReq:
    subscription_id: str
    filters: tuple[Filter, ...]

    def encode(self) -> str:
        return _text(["REQ", self.subscription_id, *(f.to_dict() for f in self.filters)])


@dataclass(frozen=True, slots=True)
class ClientCount:
    subscription_id: str
    filters: tuple[Filter, ...]

    def encode(self) -> str:
        return _text(["COUNT", self.subscription_id, *(f.to_dict() for f in self.filters)])


@dataclass(frozen=True, slots=True)
class ClientClose:
    subscription_id: str

    def encode(self) -> str:
        return _text(["CLOSE", self.subscription_id])


@dataclass(frozen=True, slots=True)
class ClientAuth:
    event: Event

    def encode(self) -> str:
        return _text(["AUTH", self.event.to_dict()])


ClientMessage = ClientEvent | ClientReq | ClientCount | ClientClose | ClientAuth

# ---- relay -> client -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayEvent:
    subscription_id: str
    event: Event

    def encode(self) -> str:
        return event_frame(self.subscription_id, self.event.to_json()).decode()


@dataclass(frozen=True, slots=True)
class RelayOk:
    event_id: str
    accepted: bool
    message: str = ""

    def encode(self) -> str:
        return ok_frame(self.event_id, self.accepted, self.message).decode()

    @property
    def prefix(self) -> str:
        """The machine-readable prefix (``duplicate``, ``invalid``...), or ``""``."""
        return message_prefix(self.message)


@dataclass(frozen=True, slots=True)
class RelayEose:
    subscription_id: str

    def encode(self) -> str:
        return eose_frame(self.subscription_id).decode()


@dataclass(frozen=True, slots=True)
class RelayClosed:
    subscription_id: str
    message: str

    def encode(self) -> str:
        return closed_frame(self.subscription_id, self.message).decode()

    @property
    def prefix(self) -> str:
        """The machine-readable prefix (``auth-required``, ``error``...), or ``""``."""
        return message_prefix(self.message)


@dataclass(frozen=True, slots=True)
class RelayNotice:
    message: str

    def encode(self) -> str:
        return notice_frame(self.message).decode()


@dataclass(frozen=True, slots=True)
class RelayAuth:
    challenge: str

    def encode(self) -> str:
        return auth_frame(self.challenge).decode()


@dataclass(frozen=True, slots=True)
class RelayCount:
    subscription_id: str
    count: int
    approximate: bool = False  # NIP-45: the relay stopped counting at a cap

    def encode(self) -> str:
        return count_frame(self.subscription_id, self.count, self.approximate).decode()


RelayMessage = RelayEvent | RelayOk | RelayEose | RelayClosed | RelayNotice | RelayAuth | RelayCount


# ---- the relay's frames, as bytes ------------------------------------------------
# The relay sends these straight to the socket; the classes above encode through them,
# so there is one spelling of each frame.


def event_prefix(subscription_id: str) -> bytes:
    """``["EVENT",<sub>,``: what every EVENT frame of one subscription starts with, kept
    by a subscription so each frame is this, the event's JSON and ``]``."""
    return b'["EVENT",' + orjson.dumps(subscription_id) + b","


def event_frame(subscription_id: str, event_json: bytes) -> bytes:
    """``["EVENT",<sub>,<event>]`` around JSON encoded once for all subscribers."""
    return event_prefix(subscription_id) + event_json + b"]"


def ok_frame(event_id: str, accepted: bool, message: str) -> bytes:
    return orjson.dumps(["OK", event_id, accepted, message])


def closed_frame(subscription_id: str, message: str) -> bytes:
    return orjson.dumps(["CLOSED", subscription_id, message])


def notice_frame(message: str) -> bytes:
    return orjson.dumps(["NOTICE", message])


def eose_frame(subscription_id: str) -> bytes:
    return orjson.dumps(["EOSE", subscription_id])


def auth_frame(challenge: str) -> bytes:
    return orjson.dumps(["AUTH", challenge])


def count_frame(subscription_id: str, count: int, approximate: bool = False) -> bytes:
    body: dict[str, object] = {"count": count}
    if approximate:
        body["approximate"] = True
    return orjson.dumps(["COUNT", subscription_id, body])


def neg_msg_frame(subscription_id: str, message: bytes) -> bytes:
    """NIP-77's ``["NEG-MSG", <sub>, <hex>]``."""
    return orjson.dumps(["NEG-MSG", subscription_id, message.hex()])


def neg_err_frame(subscription_id: str, reason: str) -> bytes:
    return orjson.dumps(["NEG-ERR", subscription_id, reason])


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


# ---- parsing ---------------------------------------------------------------------


def _load(text: str | bytes) -> list[Any]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"message is not valid JSON: {exc}") from None
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise ParseError("message must be a JSON array starting with a verb string")
    return data


def _subscription_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_SUBSCRIPTION_ID:
        raise ParseError(f"subscription id must be a string of 1 to {MAX_SUBSCRIPTION_ID} chars")
    return value


def _event_of(verb: str, data: list[Any]) -> Event:
    if len(data) != 2:
        raise ParseError(f"{verb} takes exactly one event")
    raw = data[1]
    event_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        return Event.from_dict(raw)
    except InvalidError as exc:
        raise ParseError(
            str(exc), event_id=event_id if isinstance(event_id, str) else None
        ) from None


def _filters(verb: str, data: list[Any]) -> tuple[str, tuple[Filter, ...]]:
    if len(data) < 2:
        raise ParseError(f"{verb} needs a subscription id")
    sub_id = _subscription_id(data[1])
    if len(data) < 3:
        raise ParseError(f"{verb} needs at least one filter", subscription_id=sub_id)
    try:
        return sub_id, tuple(Filter.from_dict(f) for f in data[2:])
    except ShieldError as exc:
        raise ParseError(str(exc), subscription_id=sub_id) from None


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse what a client sends; raises :class:`ParseError` (prefix ``invalid``)."""
    data = _load(text)
    verb = data[0]
    if verb == "EVENT":
        return ClientEvent(_event_of(verb, data))
    if verb == "REQ":
        return ClientReq(*_filters(verb, data))
    if verb == "COUNT":
        return ClientCount(*_filters(verb, data))
    if verb == "CLOSE":
        if len(data) != 2:
            raise ParseError("CLOSE takes exactly one subscription id")
        return ClientClose(_subscription_id(data[1]))
    if verb == "AUTH":
        return ClientAuth(_event_of(verb, data))
    raise ParseError(f"unknown message type {verb[:32]!r}")


def _str_at(data: list[Any], index: int, what: str) -> str:
    if len(data) <= index or not isinstance(data[index], str):
        raise ParseError(f"{data[0]} needs {what} as a string")
    value: str = data[index]
    return value


def parse_relay_message(text: str | bytes) -> RelayMessage:
    """Parse what a relay sends (the client side of the same protocol)."""
    data = _load(text)
    verb = data[0]
    if verb == "EVENT":
        sub_id = _str_at(data, 1, "a subscription id")
        if len(data) != 3:
            raise ParseError("EVENT from a relay has a subscription id and one event")
        try:
            return RelayEvent(sub_id, Event.from_dict(data[2]))
        except InvalidError as exc:
            raise ParseError(str(exc), subscription_id=sub_id) from None
    if verb == "OK":
        if len(data) != 4 or not isinstance(data[2], bool):
            raise ParseError('OK must be ["OK", <event id>, <true|false>, <message>]')
        return RelayOk(_str_at(data, 1, "an event id"), data[2], _str_at(data, 3, "a message"))
    if verb == "EOSE":
        return RelayEose(_str_at(data, 1, "a subscription id"))
    if verb == "CLOSED":
        message = data[2] if len(data) > 2 and isinstance(data[2], str) else ""
        return RelayClosed(_str_at(data, 1, "a subscription id"), message)
    if verb == "NOTICE":
        return RelayNotice(_str_at(data, 1, "a message"))
    if verb == "AUTH":
        return RelayAuth(_str_at(data, 1, "a challenge"))
    if verb == "COUNT":
        sub_id = _str_at(data, 1, "a subscription id")
        body = data[2] if len(data) > 2 else None
        if not isinstance(body, dict) or type(body.get("count")) is not int:
            raise ParseError('COUNT must carry {"count": <integer>}', subscription_id=sub_id)
        return RelayCount(sub_id, body["count"], body.get("approximate") is True)
    raise ParseError(f"unknown message type {verb[:32]!r}")
