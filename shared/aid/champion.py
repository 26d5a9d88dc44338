"""Champions: the private messages between a member and their champions, and the schedule.

Every message here is a kind 14 rumor (NIP-17) that the client seals and gift-wraps
(NIP-59) to one champion alone, labelled in the ``mas`` namespace so Shield Mutual knows
what it is while other DM apps show a plain sentence. Each rumor names only its one
recipient: champions do not learn who the other champions are.

* ``champion-package``: the hand-over. Tags carry E's secret (``emergency-key``), the
  member-signed attestation (``attestation``, the event JSON), the pre-written request
  (``request``, the Markdown file), the check-in ``interval`` in seconds, the member's
  ``relay`` list, and earlier ``revocation`` events to re-publish if needed. A newer
  package from the same member replaces the older one (that is how E is rotated).
* ``checkin``: "I'm OK", with the ``interval`` until the next one.
* ``champion-release``: the member no longer wants this person as a champion.

Champions by consent: a package only counts once its receiver said yes to that member
(:func:`by_consent`); until then it is pending and nothing is done for it.

Schedule: a check-in is *due* one interval after the last sign of life (a check-in or
the package), and *overdue* after a further grace of a quarter interval, so a cron job
that runs a little late does not raise the alarm. Pure: no I/O; ``now`` is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    check_relay,
    first,
    label_tags,
    labels,
    require_kind,
    require_label,
    values,
)
from shieldmutual.shared.aid.markdown import parse_template
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.vouch import parse_attestation, parse_revocation
from shieldmutual.shared.errors import AidError, EventError, InvalidError
from shieldmutual.shared.event import Event, Rumor
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip59 import make_rumor

PACKAGE, CHECKIN, RELEASE = "champion-package", "checkin", "champion-release"
MIN_INTERVAL = 1  # seconds; tests use tiny intervals, people use hours
MAX_INTERVAL = 90 * 86400
# A rumor this size, sealed, still fits the largest wrap size bucket (nip59.SEAL_BUCKETS),
# so it looks like every other large private message: about 55 KB of wrap JSON, under the
# common 64 KiB event limit.
MAX_RUMOR = 28_000
ATTESTATION_NOTE = "If I go silent, this key speaks for me."


def check_interval(seconds: int) -> int:
    if type(seconds) is not int or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise AidError(f"check-in interval must be 1 second to {MAX_INTERVAL // 86400} days")
    return seconds


def format_duration(seconds: int) -> str:
    """``1d 2h``, ``12h``, ``45m``, ``30s``: the two largest units, for people."""
    seconds = abs(int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def _rumor(
    member: str, champion: str, label: str, content: str, extra: list[list[str]], now: int | None
) -> Rumor:
    rumor = make_rumor(
        member, kinds.DIRECT_MESSAGE, content, [["p", champion], *label_tags(label), *extra], now
    )
    if len(rumor.to_json()) > MAX_RUMOR:
        raise AidError(f"message is too long for a gift wrap (more than {MAX_RUMOR} bytes)")
    return rumor


# ---- the package ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Package:
    """What a champion holds for one member."""

    member: str
    emergency_secret: str  # hex; E's secret
    attestation: Event  # signed by the member, names E
    request_markdown: str
    interval: int
    relays: tuple[str, ...] = ()
    revocations: tuple[Event, ...] = ()  # earlier keys the member revoked
    created_at: int = 0

    @property
    def at(self) -> int:
        return self.created_at

    @property
    def emergency_key(self) -> SecretKey:
        return SecretKey.from_hex(self.emergency_secret)

    @property
    def request(self) -> AidRequest:
        return parse_template(self.request_markdown)

    def to_dict(self) -> dict[str, object]:
        return {
            "member": self.member,
            "emergency_secret": self.emergency_secret,
            "attestation": self.attestation.to_dict(),
            "request_markdown": self.request_markdown,
            "interval": self.interval,
            "relays": list(self.relays),
            "revocations": [e.to_dict() for e in self.revocations],
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        return check_package(
            cls(
                str(data["member"]),
                str(data["emergency_secret"]),
                Event.from_dict(data["attestation"]),
                str(data["request_markdown"]),
                int(data["interval"]),
                tuple(data.get("relays", ())),
                tuple(Event.from_dict(e) for e in data.get("revocations", ())),
                int(data.get("created_at", 0)),
            )
        )


def check_package(package: Package) -> Package:
    """Everything a champion will rely on in an emergency, checked when it arrives."""
    try:
        emergency = package.emergency_key
    except InvalidError:
        raise AidError("package: the emergency key is not a valid secret key") from None
    try:
        package.attestation.verify()
    except EventError as exc:
        raise AidError(f"package: attestation is not validly signed ({exc})") from None
    if package.attestation.pubkey != package.member:
        raise AidError("package: the attestation is not signed by the member")
    if parse_attestation(package.attestation).emergency_key != emergency.public_hex:
        raise AidError("package: the attestation names another key than the one enclosed")
    package.request  # noqa: B018 - parsing is the check
    check_interval(package.interval)
    for url in package.relays:
        check_relay(url)
    for event in package.revocations:
        if event.pubkey != package.member or not event.is_valid():
            raise AidError("package: a revocation is not validly signed by the member")
        parse_revocation(event)
    return package


def package_rumor(package: Package, champion: str, now: int | None = None) -> Rumor:
    check_package(package)
    every = format_duration(package.interval)
    text = (
        f"You are one of my champions in Shield Mutual. I will check in every {every}. "
        "If I go silent, run `mas champion watch`, and if a person confirms I need help, "
        "`mas champion activate`. Keep this message secret."
    )
    extra = [
        ["emergency-key", package.emergency_secret],
        ["attestation", package.attestation.to_json().decode()],
        ["request", package.request_markdown],
        ["interval", str(package.interval)],
        *(["relay", url] for url in package.relays),
        *(["revocation", e.to_json().decode()] for e in package.revocations),
    ]
    return _rumor(package.member, champion, PACKAGE, text, extra, now)


def _event(text: str, what: str) -> Event:
    try:
        return Event.from_dict(orjson.loads(text))
    except (orjson.JSONDecodeError, EventError) as exc:
        raise AidError(f"package: {what} is not an event ({exc})") from None


def _interval(tags: list[list[str]], what: str) -> int:
    raw = first(tags, "interval") or ""
    if not raw.isdigit():
        raise AidError(f"{what}: interval must be a whole number of seconds")
    return check_interval(int(raw))


def parse_package(rumor: Rumor) -> Package:
    """A hand-over, from the rumor of an unwrapped gift (whose author unwrap proved)."""
    require_kind(rumor, kinds.DIRECT_MESSAGE, "champion package")
    require_label(rumor, PACKAGE, "champion package")
    tags = rumor.tags
    secret, attestation, markdown = (
        first(tags, k) for k in ("emergency-key", "attestation", "request")
    )
    if secret is None or attestation is None or markdown is None:
        raise AidError("package: emergency-key, attestation and request are required")
    return check_package(
        Package(
            rumor.pubkey,
            secret,
            _event(attestation, "attestation"),
            markdown,
            _interval(tags, "package"),
            tuple(values(tags, "relay")),
            tuple(_event(t, "revocation") for t in values(tags, "revocation")),
            rumor.created_at,
        )
    )


# ---- check-ins and releases -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckIn:
    member: str
    at: int
    interval: int


@dataclass(frozen=True, slots=True)
class Release:
    member: str
    at: int


def checkin_rumor(member: str, champion: str, interval: int, now: int | None = None) -> Rumor:
    text = f"I'm OK. (Shield Mutual check-in; the next one within {format_duration(interval)}.)"
    return _rumor(
        member, champion, CHECKIN, text, [["interval", str(check_interval(interval))]], now
    )


def release_rumor(member: str, champion: str, now: int | None = None) -> Rumor:
    text = "You are no longer one of my champions. Please forget the emergency key I gave you."
    return _rumor(member, champion, RELEASE, text, [], now)


def parse_checkin(rumor: Rumor) -> CheckIn:
    require_kind(rumor, kinds.DIRECT_MESSAGE, "check-in")
    require_label(rumor, CHECKIN, "check-in")
    return CheckIn(rumor.pubkey, rumor.created_at, _interval(rumor.tags, "check-in"))


def parse_release(rumor: Rumor) -> Release:
    require_kind(rumor, kinds.DIRECT_MESSAGE, "champion release")
    require_label(rumor, RELEASE, "champion release")
    return Release(rumor.pubkey, rumor.created_at)


Message = Package | CheckIn | Release
# Champion labels and their parsers; shared/aid/parse.py's dispatcher reads this table.
PARSERS: dict[str, Callable[[Rumor], Message]] = {
    PACKAGE: parse_package,
    CHECKIN: parse_checkin,
    RELEASE: parse_release,
}


def parse_message(rumor: Rumor) -> Message | None:
    """The champion message in a rumor, or None for anything else (a plain DM...).

    Pass the rumor of an unwrapped gift: :func:`~shieldmutual.shared.nip59.unwrap`
    has proved its ``pubkey`` is the seal's signer, so the member really sent it.
    """
    if rumor.kind != kinds.DIRECT_MESSAGE:
        return None
    found = [label for label in labels(rumor.tags) if label in PARSERS]
    if len(found) != 1:
        return None
    return PARSERS[found[0]](rumor)


# ---- what a champion knows about each member ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """A member this person champions: their package and their last sign of life."""

    package: Package
    last_seen: int
    interval: int

    @property
    def pubkey(self) -> str:
        return self.package.member


def fold(members: dict[str, Member], messages: Iterable[Message]) -> dict[str, Member]:
    """Apply messages in time order: packages add or rotate, check-ins refresh, releases
    remove. Check-ins from someone we hold no package for are ignored."""
    out = dict(members)
    # Oldest first; at the same second a package comes before the check-ins it starts.
    for msg in sorted(messages, key=lambda m: (m.at, not isinstance(m, Package))):
        if isinstance(msg, Package):
            current = out.get(msg.member)
            if current is None or msg.created_at >= current.package.created_at:
                seen = max(msg.created_at, current.last_seen if current else 0)
                out[msg.member] = Member(msg, seen, msg.interval)
        elif isinstance(msg, CheckIn):
            current = out.get(msg.member)
            if current is not None and msg.at >= current.last_seen:
                out[msg.member] = replace(current, last_seen=msg.at, interval=msg.interval)
        elif (current := out.get(msg.member)) is not None and msg.at >= current.package.created_at:
            del out[msg.member]
    return out


def by_consent(
    messages: Iterable[Message], accepted: Collection[str], declined: Mapping[str, int]
) -> tuple[list[Message], dict[str, Package]]:
    """The messages of members this person agreed to champion, and the newest package of
    anyone else: it waits for a yes. Anyone can gift-wrap a package to anyone; acting on
    a stranger's would dial their relays, authenticate there as the victim and raise
    alarms nobody agreed to. ``declined`` keeps out packages no newer than the one said
    no to (a newer one, say after a rotation, asks again)."""
    kept: list[Message] = []
    pending: dict[str, Package] = {}
    for msg in messages:
        if msg.member in accepted:
            kept.append(msg)
        elif isinstance(msg, Package) and msg.created_at > declined.get(msg.member, -1):
            current = pending.get(msg.member)
            if current is None or msg.created_at >= current.created_at:
                pending[msg.member] = msg
    return kept, pending


class Health(StrEnum):
    OK = "ok"
    DUE = "due"  # the interval has passed; within the grace period
    OVERDUE = "overdue"  # raise the alarm: a person should find out what happened


@dataclass(frozen=True, slots=True)
class Watch:
    member: str
    last_seen: int
    interval: int
    due_at: int
    overdue_at: int
    health: Health

    def to_dict(self, now: int) -> dict[str, object]:
        return {
            "member": self.member,
            "last_checkin": self.last_seen,
            "interval": self.interval,
            "due_at": self.due_at,
            "overdue_at": self.overdue_at,
            "status": str(self.health),
            "overdue": self.health is Health.OVERDUE,
            "silent_for": max(0, now - self.last_seen),
        }


def grace(interval: int) -> int:
    return max(1, interval // 4)


def watch(member: Member, now: int) -> Watch:
    due = member.last_seen + member.interval
    overdue = due + grace(member.interval)
    health = Health.OVERDUE if now > overdue else Health.DUE if now > due else Health.OK
    return Watch(member.pubkey, member.last_seen, member.interval, due, overdue, health)
