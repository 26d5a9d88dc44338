"""The champion workflows over relays: hand-over, rotation, check-ins, watching, activation.

Who talks to whom is the secret here, so three rules shape every function:

* Gift wraps are *sent* through a pool that never authenticates as the sender (the CLI
  gives it a throwaway NIP-42 key): a relay that saw the member's AUTH next to a wrap
  for a champion would learn exactly the link this feature must hide. This module only
  builds the :class:`~shieldmutual.client.private_send.Outgoing` items; private_send
  sends each on its own connection at its own random moment.
* Gift wraps are *read* through a pool authenticated as the reader, because relays
  serve kind 1059 only to the recipient named in the wrap.
* Local records live only in the sealed :class:`~shieldmutual.client.vault.Vault`.

Nothing here publishes anything public except what a person explicitly asked for: the
member's revocation on ``champion remove``, and what a champion publishes with E (the
activation, then new versions of that one request, updates and the spending report).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldmutual.client import aid
from shieldmutual.client.aid import RequestRecord
from shieldmutual.client.errors import ChampionError, NotFoundError, RelayError
from shieldmutual.client.pool import Pool
from shieldmutual.client.private_send import Outgoing
from shieldmutual.client.vault import Vault, VaultRecord
from shieldmutual.shared import kinds, nip59
from shieldmutual.shared.aid.behalf import emergency_identifier, emergency_request
from shieldmutual.shared.aid.champion import (
    ATTESTATION_NOTE,
    Member,
    Message,
    Package,
    by_consent,
    checkin_rumor,
    fold,
    package_rumor,
    parse_message,
    release_rumor,
)
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.notes import Announcement, announcement_template
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

DEFAULT_INTERVAL = 24 * 3600
REVOCATION_NOTE = "This emergency key no longer speaks for me."


# ---- gift wraps over relays ---------------------------------------------------------------


async def inbox(pool: Pool, me: SecretKey) -> list[nip59.Unwrapped]:
    """Every gift wrap addressed to ``me`` that opens and checks out, oldest rumor first.

    Wrap timestamps are randomized, so no ``since`` can be trusted: all are fetched. A
    :class:`RelayError` when no relay answered (unreachable, or refused our AUTH): an
    empty inbox must mean "nothing there", never "could not look".
    """
    wraps = []
    inbox = Filter(kinds=frozenset({kinds.GIFT_WRAP}), tags={"p": frozenset({me.public_hex})})
    async with pool.subscribe([inbox]) as sub:
        wraps = [event async for event in sub]
    if not any(s.eose_after is not None for s in sub.stats.values()):
        why = "; ".join(f"{s.relay}: {s.status} {s.message}".strip() for s in sub.stats.values())
        raise RelayError(f"no relay let us read our messages ({why})")
    opened = [u for w in wraps if (u := nip59.try_unwrap(me, w)) is not None]
    return sorted(opened, key=lambda u: (u.rumor.created_at, u.rumor.id))


# ---- the member's side ----------------------------------------------------------------------


@dataclass
class MyChampions:
    """The member's sealed record: E, its attestation, the request, and who holds them."""

    emergency: str | None = None  # E's secret, hex
    attestation: Event | None = None
    request_markdown: str | None = None
    interval: int = DEFAULT_INTERVAL
    champions: dict[str, dict[str, Any]] = field(default_factory=dict)  # pubkey -> info
    revocations: list[Event] = field(default_factory=list)
    last_checkin: int | None = None

    @classmethod
    def from_vault(cls, data: VaultRecord) -> MyChampions:
        raw = data.get("member") or {}
        attestation = raw.get("attestation")
        return cls(
            raw.get("emergency"),
            Event.from_dict(attestation) if attestation else None,
            raw.get("request_markdown"),
            int(raw.get("interval", DEFAULT_INTERVAL)),
            dict(raw.get("champions", {})),
            [Event.from_dict(e) for e in raw.get("revocations", [])],
            raw.get("last_checkin"),
        )

    def to_vault(self, data: VaultRecord) -> None:
        data["member"] = {
            "emergency": self.emergency,
            "attestation": self.attestation.to_dict() if self.attestation else None,
            "request_markdown": self.request_markdown,
            "interval": self.interval,
            "champions": self.champions,
            "revocations": [e.to_dict() for e in self.revocations],
            "last_checkin": self.last_checkin,
        }

    @property
    def emergency_pubkey(self) -> str | None:
        return SecretKey.from_hex(self.emergency).public_hex if self.emergency else None

    def new_emergency_key(self, member: SecretKey, now: int) -> None:
        """Create E and the member's attestation for it (kept private until activation)."""
        emergency = SecretKey.generate()
        template = attestation_template(Attestation(emergency.public_hex, ATTESTATION_NOTE))
        self.emergency = emergency.secret.hex()
        self.attestation = sign(member, *template, created_at=now)

    def revoke(self, member: SecretKey, now: int) -> Event:
        """Sign the revocation of the current E and make a new E; returns the revocation."""
        old = self.emergency_pubkey
        if old is None:
            raise ChampionError("there is no emergency key to revoke")
        revocation = sign(
            member, *revocation_template(Revocation(old, REVOCATION_NOTE)), created_at=now
        )
        self.revocations.append(revocation)
        self.new_emergency_key(member, now)
        return revocation

    def package(self, member: str, relays: Sequence[str], now: int) -> Package:
        if self.emergency is None or self.attestation is None or self.request_markdown is None:
            raise ChampionError("no emergency request yet: pass --request FILE.md")
        return Package(
            member,
            self.emergency,
            self.attestation,
            self.request_markdown,
            self.interval,
            tuple(relays),
            tuple(self.revocations),
            now,
        )


def _shuffled(items: Iterable[str]) -> list[str]:
    """Item order says nothing about who was added first."""
    out = list(items)
    random.SystemRandom().shuffle(out)
    return out


def package_items(
    member: SecretKey,
    mine: MyChampions,
    champions: Iterable[str],
    relays: Sequence[str],
    now: int,
) -> list[Outgoing]:
    """The current package for each champion (gift-wrapped, one per champion)."""
    package = mine.package(member.public_hex, relays, now)
    return [
        Outgoing(
            nip59.wrap(member, champion, package_rumor(package, champion, now)),
            "package",
            champion,
            tuple(mine.champions.get(champion, {}).get("relays", [])),
        )
        for champion in _shuffled(champions)
    ]


def checkin_items(member: SecretKey, mine: MyChampions, now: int) -> list[Outgoing]:
    """An "I'm OK" for every champion; each wrap names one champion only."""
    if not mine.champions:
        raise ChampionError("you have no champions yet: `mas champion add NPUB --request FILE.md`")
    return [
        Outgoing(
            nip59.wrap(
                member, champion, checkin_rumor(member.public_hex, champion, mine.interval, now)
            ),
            "checkin",
            champion,
            tuple(mine.champions[champion].get("relays", [])),
        )
        for champion in _shuffled(mine.champions)
    ]


def release_item(member: SecretKey, champion: str, relays: Sequence[str], now: int) -> Outgoing:
    wrap = nip59.wrap(member, champion, release_rumor(member.public_hex, champion, now))
    return Outgoing(wrap, "release", champion, tuple(relays))


# ---- the champion's side -------------------------------------------------------------------


def _messages(opened: Iterable[nip59.Unwrapped]) -> list[Message]:
    out = []
    for item in opened:
        try:
            message = parse_message(item.rumor)
        except AidError:
            continue  # a damaged or forged package must not stop the watch
        if message is not None:
            out.append(message)
    return out


@dataclass
class Championing:
    """The champion's sealed record: the members they agreed to watch, the packages that
    wait for a yes, and whom they said yes or no to."""

    members: dict[str, Member] = field(default_factory=dict)
    pending: dict[str, Package] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    declined: dict[str, int] = field(default_factory=dict)  # member -> package time

    @classmethod
    def from_vault(cls, data: VaultRecord) -> Championing:
        members = {
            pubkey: Member(
                Package.from_dict(raw["package"]), int(raw["last_seen"]), int(raw["interval"])
            )
            for pubkey, raw in (data.get("championing") or {}).items()
        }
        pending = {k: Package.from_dict(v) for k, v in (data.get("pending") or {}).items()}
        consent = data.get("consent") or {}
        # Members recorded before consent existed were accepted by being kept.
        accepted = set(consent.get("accepted", ())) | set(members)
        return cls(members, pending, accepted, dict(consent.get("declined", {})))

    def to_vault(self, data: VaultRecord) -> None:
        data["championing"] = {
            pubkey: {
                "package": m.package.to_dict(),
                "last_seen": m.last_seen,
                "interval": m.interval,
            }
            for pubkey, m in self.members.items()
        }
        data["pending"] = {pubkey: p.to_dict() for pubkey, p in self.pending.items()}
        data["consent"] = {"accepted": sorted(self.accepted), "declined": self.declined}

    def apply(self, opened: Iterable[nip59.Unwrapped]) -> None:
        """Fold what arrived: accepted members' messages count, other packages wait."""
        kept, waiting = by_consent(_messages(opened), self.accepted, self.declined)
        self.members = fold(self.members, kept)
        for pubkey, package in waiting.items():
            current = self.pending.get(pubkey)
            if current is None or package.created_at >= current.created_at:
                self.pending[pubkey] = package

    def accept(self, member: str) -> Member:
        package = self.pending.pop(member, None)
        if package is None:
            raise ChampionError(
                "no hand-over from them is waiting: run `mas champion watch --once` to look"
            )
        self.accepted.add(member)
        self.declined.pop(member, None)
        self.members = fold(self.members, [package])
        return self.members[member]

    def decline(self, member: str) -> None:
        """Say no to a waiting package, or stop championing a member."""
        package = self.pending.pop(member, None)
        current = self.members.pop(member, None)
        if package is None and current is None:
            raise ChampionError("no hand-over from them, and you do not champion them")
        latest = max(p.created_at for p in (package, current and current.package) if p)
        self.accepted.discard(member)
        self.declined[member] = latest


def member_relays(members: Iterable[Member]) -> list[str]:
    """Where accepted members publish: a champion watches these besides their own relays."""
    return list(dict.fromkeys(url for m in members for url in m.package.relays))


async def refresh(
    vault: Vault, me: SecretKey, relays: Sequence[str], connect: Callable[[Sequence[str]], Pool]
) -> Championing:
    """Read our gift wraps from our relays and the accepted members' relays (``connect``
    authenticates as ``me``: relays serve wraps only to their recipient) and record what
    they say in the vault. A pending hand-over's relays are never dialled: that is the
    stranger's lure."""
    known = Championing.from_vault(vault.load())
    targets = list(dict.fromkeys([*relays, *member_relays(known.members.values())]))
    async with connect(targets) as pool:
        opened = await inbox(pool, me)
    with vault.edit() as data:
        championing = Championing.from_vault(data)
        championing.apply(opened)
        championing.to_vault(data)
    return championing


@dataclass(frozen=True, slots=True)
class Activation:
    """What a champion publishes, in order: proof first, then the request (and, the first
    time, an announcement note)."""

    attestation: Event
    revocations: tuple[Event, ...]
    request: Event
    announcement: Event | None

    @property
    def events(self) -> list[Event]:
        note = [self.announcement] if self.announcement is not None else []
        return [self.attestation, *self.revocations, self.request, *note]


def emergency_address(package: Package) -> Address:
    """Where the request on the member's behalf lives: E's key and one ``d`` for everyone."""
    return Address(
        kinds.CLASSIFIED, package.emergency_key.public_hex, emergency_identifier(package)
    )


def sign_version(package: Package, request: AidRequest, now: int, current: Event | None) -> Event:
    """A new version of the request, signed by E, newer than the one relays hold (even
    within the same second), so it replaces that one everywhere."""
    when = max(now, current.created_at + 1) if current is not None else now
    return sign(package.emergency_key, *request_event_template(request), created_at=when)


async def published_request(pool: Pool, package: Package) -> RequestRecord | None:
    """The version of the member's request that relays hold now; None before activation.
    Champions always edit this one, so two acting one after the other edit one request."""
    try:
        return await aid.fetch_request(pool, aid.RequestPointer(emergency_address(package)))
    except NotFoundError:
        return None


def activation(
    package: Package, facts: str, now: int, current: RequestRecord | None = None
) -> Activation:
    """Sign the member's request with E, naming the member as beneficiary. ``current`` is
    the version relays hold (another champion activated first): it is edited, facts
    appended, and no second announcement is made. The only relay hint is the member's
    own: the champion's relays would point at the champion."""
    emergency = package.emergency_key
    base = current.request if current is not None else None
    request = emergency_request(package, facts, now, base)
    request_event = sign_version(package, request, now, current.event if current else None)
    announcement = None
    if current is None:
        note = Announcement.of(request, emergency.public_hex, package.relays[:1])
        announcement = sign(emergency, *announcement_template(note), created_at=now)
    return Activation(package.attestation, package.revocations, request_event, announcement)
