"""Naming people: petname, else ~profile name (npub…), else short npub; profiles in one REQ."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from shieldmutual.client.cli.champion_watch import alarm_lines
from shieldmutual.client.cli.championrender import watch_table
from shieldmutual.client.cli.fmt import short_npub
from shieldmutual.client.names import (
    Names,
    Source,
    fetch_profiles,
    lookup,
    petnames,
)
from shieldmutual.client.pool import Pool
from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.event import sign
from shieldmutual.shared.profile import parse_profile


def _profile(key: Any, name: str, at: int = 1_700_000_000) -> Any:
    return sign(key, kinds.METADATA, json.dumps({"name": name}), created_at=at)


def test_a_strangers_profile_name_never_looks_like_a_petname(keys: SimpleNamespace) -> None:
    rosa, impostor = keys.alice.public_hex, keys.bob.public_hex
    names = Names({rosa: "rosa"}, {impostor: parse_profile(_profile(keys.bob, "rosa"))})
    assert names.show(rosa) == "rosa" and names.source(rosa) is Source.PETNAME
    shown = names.show(impostor)
    assert shown == f"~rosa ({short_npub(impostor)})" and names.source(impostor) is Source.PROFILE
    assert shown != names.show(rosa) and not shown.startswith("rosa")
    # Even a profile name copying the whole petname form keeps the ~ and the real npub.
    mimic = parse_profile(_profile(keys.bob, f"rosa ({short_npub(rosa)})"))
    assert Names({rosa: "rosa"}, {impostor: mimic}).show(impostor).startswith("~rosa (")
    assert (
        Names({rosa: "rosa"}, {impostor: mimic})
        .show(impostor)
        .endswith(f"({short_npub(impostor)})")
    )


def test_a_petname_wins_over_the_profile_and_an_unknown_is_a_short_npub(
    keys: SimpleNamespace,
) -> None:
    rosa, nobody = keys.alice.public_hex, keys.carol.public_hex
    names = Names({rosa: "rosa"}, {rosa: parse_profile(_profile(keys.alice, "Rosa Luxe"))})
    assert names.show(rosa) == "rosa"
    assert names.fields(rosa, "from_") == {"from_petname": "rosa", "from_name": "Rosa Luxe"}
    assert names.show(nobody) == short_npub(nobody) and names.source(nobody) is Source.NPUB
    assert names.fields(nobody) == {"petname": None, "name": None}


def test_long_and_multiline_profile_names_stay_on_one_short_line(keys: SimpleNamespace) -> None:
    long = parse_profile(_profile(keys.bob, "a" * 60))
    shown = Names(profiles={keys.bob.public_hex: long}).show(keys.bob.public_hex)
    assert shown.startswith("~" + "a" * 31 + "…") and "\n" not in shown


def test_identity_names_are_petnames_for_your_own_keys(keys: SimpleNamespace) -> None:
    me, rosa = keys.alice.public_hex, keys.bob.public_hex
    found = petnames({rosa: "rosa", me: "old"}, [("work", me)])
    assert found == {rosa: "rosa", me: "work"}


async def test_profiles_come_in_one_req_and_forged_ones_are_dropped(
    fake_relay: Any, keys: SimpleNamespace
) -> None:
    bob = _profile(keys.bob, "Bob")
    forged = {**_profile(keys.carol, "Carol").to_dict(), "content": json.dumps({"name": "x"})}
    async with fake_relay(stored=[bob.to_dict(), forged]) as relay, Pool([relay.url]) as pool:
        everyone = [keys.alice.public_hex, keys.bob.public_hex, keys.carol.public_hex]
        names = await lookup(pool, Names({keys.alice.public_hex: "me"}), everyone)
        assert len(relay.reqs) == 1
        (filter_,) = relay.reqs[0][2:]
        # The petnamed are asked for too: left out, they would be named by their absence.
        assert filter_ == {"kinds": [0], "authors": sorted(everyone)}
        assert names.show(keys.alice.public_hex) == "me"  # the petname still wins
        assert names.show(keys.bob.public_hex).startswith("~Bob (")
        assert names.source(keys.carol.public_hex) is Source.NPUB
        assert await fetch_profiles(pool, []) == {}
        assert len(relay.reqs) == 1  # nobody to look up: no query at all


def test_champion_watch_names_members_by_petname(keys: SimpleNamespace) -> None:
    """The table and the alarm say who, by petname; the alarm keeps the npub for the
    `mas champion activate` it suggests."""
    pubkey = keys.alice.public_hex
    member = SimpleNamespace(pubkey=pubkey, last_seen=1_000, interval=3_600)
    console = Console(width=200, record=True)
    console.print(watch_table([member], 2_000, Names({pubkey: "sisterjo"})))
    assert "sisterjo" in console.export_text()
    (alarm,) = alarm_lines([member], 10**6, Names({pubkey: "sisterjo"}))
    assert alarm.startswith("ALARM: sisterjo ") and alarm.endswith(nip19.npub_encode(pubkey))
    (plain,) = alarm_lines([member], 10**6)
    assert plain.startswith(f"ALARM: {nip19.npub_encode(pubkey)} ")
