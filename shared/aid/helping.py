"""Ways to help: direct payments and actions, as tags and as the *How to help* text.

Money never pools, so a payment is always an address of the person asking (or of the
member a champion asks for): a lightning address (or LNURL, invoice, offer), an on-chain
address, or another method in words. Lightning and bitcoin addresses become standard
URIs (:mod:`payuri`), so the *How to help* text links each to the payer's wallet.
Actions are what people do instead of or besides paying. Unknown action types are kept,
not refused, so a request written by a newer client still parses and still shows its
other ways to help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shieldmutual.shared.aid.common import check_line, check_token
from shieldmutual.shared.aid.payuri import PaymentUri, lightning_uri, payment_uri
from shieldmutual.shared.errors import AidError

_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,31}\Z").match
_ONCHAIN = re.compile(r"[A-Za-z0-9]{14,100}\Z").match


@dataclass(frozen=True, slots=True)
class Payment:
    """A way to pay the person directly: ``lightning``, ``onchain`` or ``other`` (words).

    A lightning value must make a ``lightning:`` URI (strictly checked, so it cannot carry
    parameters); an on-chain value that is not a bitcoin address is kept as words."""

    method: str
    value: str

    def __post_init__(self) -> None:
        check_token(self.method, "payment method")
        check_line(self.value, f"{self.method} payment", 512)
        if self.method == "lightning":
            lightning_uri(self.value)
        if self.method == "onchain" and not _ONCHAIN(self.value):
            raise AidError(f"onchain payment must be a bitcoin address, got {self.value!r}")

    def tag(self) -> list[str]:
        return ["payment", self.method, self.value]

    def uri(self) -> PaymentUri | None:
        """The ``lightning:`` or ``bitcoin:`` URI to pay with, when the method has one."""
        return payment_uri(self.method, self.value)


@dataclass(frozen=True, slots=True)
class CallFlood:
    """Many people call one number: who to call, the number, and what to say."""

    number: str
    target: str
    script: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.number, str) or not _PHONE(self.number):
            raise AidError(f"call number must be a phone number, got {self.number!r}")
        if "|" in check_line(self.target, "call target", 200):
            raise AidError("call target must not contain '|'")
        check_line(self.script, "call script", 2000, empty=True)

    def tag(self) -> list[str]:
        return ["action", "call", self.number, self.target, self.script]


@dataclass(frozen=True, slots=True)
class SignWave:
    """People gather with signs at a place and time (timezone-aware, so never ambiguous)."""

    place: str
    time: datetime

    def __post_init__(self) -> None:
        check_line(self.place, "sign wave place", 200)
        offset = self.time.utcoffset() if isinstance(self.time, datetime) else None
        if offset is None or offset.total_seconds() % 60:
            raise AidError("sign wave time must be a datetime with a whole-minute UTC offset")

    def tag(self) -> list[str]:
        return ["action", "signwave", self.place, self.time.isoformat()]


@dataclass(frozen=True, slots=True)
class OtherAction:
    """An action type this version does not know; kept so newer requests still parse."""

    type: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        check_token(self.type, "action type")
        for value in self.values:
            check_line(value, f"{self.type} action", 2000, empty=True)

    def tag(self) -> list[str]:
        return ["action", self.type, *self.values]


Action = CallFlood | SignWave | OtherAction


def action_types(actions: tuple[Action, ...]) -> list[str]:
    """The types of ``actions`` a request asks people to join, in its order, each once
    (what `mas pledge --action` accepts)."""
    names = []
    for action in actions:
        if isinstance(action, CallFlood):
            names.append("call")
        elif isinstance(action, SignWave):
            names.append("signwave")
        else:
            names.append(action.type)
    return list(dict.fromkeys(names))


def parse_payment(tag: list[str]) -> Payment:
    if len(tag) < 3:
        raise AidError("payment must be ['payment', method, value]")
    return Payment(tag[1], tag[2])


def parse_action(tag: list[str]) -> Action:
    if len(tag) < 2:
        raise AidError("action must be ['action', type, ...]")
    kind, args = tag[1], tag[2:]
    if kind == "call":
        if len(args) not in (2, 3):
            raise AidError("call action must be ['action', 'call', number, target, script]")
        return CallFlood(*args)
    if kind == "signwave":
        if len(args) != 2:
            raise AidError("signwave action must be ['action', 'signwave', place, iso-time]")
        try:
            when = datetime.fromisoformat(args[1])
        except ValueError:
            raise AidError(f"signwave time is not ISO 8601: {args[1]!r}") from None
        return SignWave(args[0], when)
    return OtherAction(kind, tuple(args))


def how_to_help(payments: tuple[Payment, ...], actions: tuple[Action, ...]) -> str:
    """The generated *How to help* section: direct payments first, then actions."""
    names = {"lightning": "Lightning", "onchain": "On-chain", "other": "Other"}
    blocks = []
    if payments:
        lines = [f"- {names.get(p.method, p.method)}: {payment_text(p)}" for p in payments]
        blocks.append("Pay the person directly (money never pools):\n\n" + "\n".join(lines))
    if actions:
        lines = []
        for action in actions:
            if isinstance(action, CallFlood):
                script = f' Say: "{action.script}"' if action.script else ""
                lines.append(f"- Call {action.target} at {action.number}.{script}")
            elif isinstance(action, SignWave):
                lines.append(f"- Sign wave at {action.place}, {when(action.time)}")
            else:
                lines.append(f"- {action.type}: {' / '.join(action.values)}")
        blocks.append("Act:\n\n" + "\n".join(lines))
    blocks.append("Share this request with people who can help.")
    return "\n\n".join(blocks)


def payment_text(payment: Payment) -> str:
    """The value, as a Markdown link to its URI when it has one (one tap in a wallet)."""
    found = payment.uri()
    return f"[{payment.value}]({found.uri})" if found else payment.value


def when(moment: datetime) -> str:
    """A human date and time that keeps its own offset: ``2025-05-30 17:00 UTC+01:00``."""
    offset = moment.strftime("%z")
    zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:5]}"
    return f"{moment:%Y-%m-%d %H:%M} {zone}"
