"""What `mas whois` asks relays and whom the reader trusts (shared/aid/whois.py, pure)."""

from __future__ import annotations

from typing import Any

from shieldmutual.shared.aid.comments import Confirmation, RequestRef, confirmation_template
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.vouch import Vouch, vouch_template
from shieldmutual.shared.aid.whois import (
    requests_filter,
    requests_to_resolve,
    trusted_by,
    vouches_filter,
    whois_filters,
)
from shieldmutual.shared.event import Event, sign


def test_filters_ask_for_history_mentions_and_own_vouches(keys: Any) -> None:
    pk = keys.bob.public_hex
    history, about = (f.to_dict() for f in whois_filters(pk))
    assert history["authors"] == [pk] and 30402 in history["kinds"] and 1985 in history["kinds"]
    assert about == {"kinds": [1111, 1985, 30402], "#p": [pk]}
    mine = vouches_filter(keys.alice.public_hex).to_dict()
    assert mine == {"kinds": [1985], "authors": [keys.alice.public_hex], "#l": ["vouch"]}


def test_requests_filter_asks_each_address_by_kind_author_and_d(keys: Any) -> None:
    address = Address(30402, keys.dave.public_hex, "rent")
    (only,) = requests_filter([address])
    assert only.to_dict() == {"kinds": [30402], "authors": [keys.dave.public_hex], "#d": ["rent"]}


def test_trusted_by_counts_only_valid_vouches_by_your_identities(keys: Any) -> None:
    mine = {keys.alice.public_hex}
    good = sign(keys.alice, *vouch_template(Vouch(keys.dave.public_hex)))
    theirs = sign(keys.carol, *vouch_template(Vouch(keys.bob.public_hex)))
    forged_data = {
        **sign(keys.alice, *vouch_template(Vouch(keys.carol.public_hex))).to_dict(),
        "sig": "00" * 64,
    }
    forged = Event.from_dict(forged_data)
    why = trusted_by(mine, [good, theirs, forged])
    assert why == {
        keys.alice.public_hex: "your identity",
        keys.dave.public_hex: "you vouched for them",
    }


def test_requests_to_resolve_only_confirmations_by_someone_else(keys: Any) -> None:
    address = Address(30402, keys.dave.public_hex, "x")
    ref = RequestRef(address)
    helper = keys.bob.public_hex
    template = confirmation_template(Confirmation(ref, helper=helper), helper_consents=True)
    by_author = sign(keys.dave, *template)
    by_member = sign(keys.carol, *template)
    assert requests_to_resolve(helper, [by_author]) == []
    assert requests_to_resolve(helper, [by_member, by_member]) == [address]
    assert requests_to_resolve(keys.carol.public_hex, [by_member]) == []
