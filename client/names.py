"""How a person is named on screen: your petname, else their profile name, else an npub.

A petname (client/contacts.py, or the name of one of your own identities) is yours, so
it is shown plain. A profile name is whatever the key's holder put in their kind 0, so
a stranger can call themselves "rosa" the day after you added Rosa as a contact. It is
therefore always shown as ``~rosa (npub1…abcd)``: a ``~`` no petname can start with,
and the key's npub beside it. Nothing a stranger writes can make their name look like
one of yours, and the npub tells two ``~rosa`` apart.

Profiles are fetched in batched REQs (never one query per person, which would cost a
round trip each and tell the relays, one by one, whom you are looking at) and are not
cached on disk. Whose profiles are asked for is the caller's choice, and the feed and
`request list` ask for every author the relays' uniform query returned, not the rows
shown (PROTOCOL §16.9); a petnamed person is never left out of a query.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shieldmutual.client.cli.fmt import short_npub
from shieldmutual.shared import kinds
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.profile import Profile, latest_profiles
from shieldmutual.shared.untrusted import one_line

if TYPE_CHECKING:  # a type only: listing contacts must not load websockets
    from shieldmutual.client.pool import Pool

MAX_SHOWN = 32  # characters of a profile name shown; the npub beside it says who it is


class Source(StrEnum):
    PETNAME = "petname"
    PROFILE = "profile"
    NPUB = "npub"


@dataclass(frozen=True, slots=True)
class Names:
    """What this reader knows to call people: their petnames and fetched profiles."""

    petnames: Mapping[str, str] = field(default_factory=dict)  # pubkey -> petname
    profiles: Mapping[str, Profile] = field(default_factory=dict)  # pubkey -> profile

    def source(self, pubkey: str) -> Source:
        if pubkey in self.petnames:
            return Source.PETNAME
        profile = self.profiles.get(pubkey)
        return Source.PROFILE if profile is not None and profile.name else Source.NPUB

    def show(self, pubkey: str) -> str:
        """The one line to show for ``pubkey`` (a stranger's part still to be escaped by
        the caller's text door: render.untrusted)."""
        source = self.source(pubkey)
        if source is Source.PETNAME:
            return self.petnames[pubkey]
        if source is Source.PROFILE:
            name = one_line(self.profiles[pubkey].name or "")
            if len(name) > MAX_SHOWN:
                name = name[: MAX_SHOWN - 1] + "…"
            return f"~{name} ({short_npub(pubkey)})"
        return short_npub(pubkey)

    def fields(self, pubkey: str, prefix: str = "") -> dict[str, Any]:
        """``petname`` and ``name`` (the profile's) for JSON, next to the pubkey."""
        profile = self.profiles.get(pubkey)
        return {
            f"{prefix}petname": self.petnames.get(pubkey),
            f"{prefix}name": profile.name if profile is not None else None,
        }

    def with_profiles(self, profiles: Mapping[str, Profile]) -> Names:
        return Names(self.petnames, {**self.profiles, **profiles})


NO_NAMES = Names()  # for views shown before (or without) anyone's names


def petnames(contacts: Mapping[str, str], identities: Iterable[tuple[str, str]]) -> dict[str, str]:
    """pubkey -> petname from the address book (pubkey -> name) and your identities
    ((name, pubkey) pairs); an identity's own name wins for your own keys."""
    return {**contacts, **{pubkey: name for name, pubkey in identities}}


PROFILES_AT_ONCE = 250  # authors in one profile REQ: under a relay's message size and cap


def profiles_filter(pubkeys: Collection[str]) -> Filter:
    return Filter(kinds=frozenset({kinds.METADATA}), authors=frozenset(pubkeys))


async def fetch_profiles(pool: Pool, pubkeys: Collection[str]) -> dict[str, Profile]:
    """The newest profile of each of ``pubkeys``, in sorted batches of
    :data:`PROFILES_AT_ONCE` (one REQ each; verified by the pool)."""
    wanted = sorted(set(pubkeys))
    events = []
    for start in range(0, len(wanted), PROFILES_AT_ONCE):
        chunk = wanted[start : start + PROFILES_AT_ONCE]
        events += await pool.fetch([profiles_filter(chunk)])
    return latest_profiles(events)


async def lookup(pool: Pool, names: Names, pubkeys: Iterable[str]) -> Names:
    """``names`` plus the profiles of all those ``pubkeys``, petnamed ones included: leaving
    out the people one knows would name them to the relay by their absence. (A petname
    still wins on screen.)"""
    return names.with_profiles(await fetch_profiles(pool, set(pubkeys)))
