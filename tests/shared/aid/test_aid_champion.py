"""The champion messages, the check-in schedule and the emergency request, all pure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from shieldmutual.shared import kinds, nip17, nip59
from shieldmutual.shared.aid import champion
from shieldmutual.shared.aid.behalf import emergency_request
from shieldmutual.shared.aid.champion import (
    CheckIn,
    Health,
    Member,
    Package,
    Release,
    by_consent,
    checkin_rumor,
    fold,
    package_rumor,
    parse_message,
    release_rumor,
    watch,
)
from shieldmutual.shared.aid.comments import Pledge, RequestRef, pledge_template
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.parse import parse_aid_event
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.keys import SecretKey

People = Any
T0 = 1_800_000_000


@pytest.fixture
def package(people: People, request_obj: AidRequest) -> Package:
    emergency = people.emergency
    attestation = people.sign(
        people.alice, attestation_template(Attestation(emergency.public_hex, "speaks for me"))
    )
    return Package(
        people.alice.public_hex,
        emergency.secret.hex(),
        attestation,
        render_template(request_obj),
        12 * 3600,
        ("wss://relay.example.org",),
        (),
        T0,
    )


def _deliver(people: People, rumor: nip59.Rumor) -> Any:
    """Wrap as the member and unwrap as the champion (bob), like the relays in between."""
    opened = nip59.unwrap(people.bob, nip59.wrap(people.alice, people.bob.public_hex, rumor))
    return parse_message(opened.rumor)


def test_package_round_trip_names_only_its_champion(people: People, package: Package) -> None:
    rumor = package_rumor(package, people.bob.public_hex, now=T0)
    assert rumor.tag_values("p") == [people.bob.public_hex]  # no other champion listed
    assert people.emergency.secret.hex() not in rumor.content  # DM apps show only the sentence
    received = _deliver(people, rumor)
    assert received == package
    assert received.emergency_key.public_hex == people.emergency.public_hex
    assert Package.from_dict(received.to_dict()) == package


def test_package_is_checked_on_arrival(people: People, package: Package) -> None:
    with pytest.raises(AidError, match="another key"):
        package_rumor(replace(package, emergency_secret=people.carol.secret.hex()), "ab" * 32)
    by_bob = people.sign(people.bob, attestation_template(Attestation(people.emergency.public_hex)))
    with pytest.raises(AidError, match="not signed by the member"):
        package_rumor(replace(package, attestation=by_bob), "ab" * 32)
    with pytest.raises(AidError):
        package_rumor(replace(package, request_markdown="no front matter"), "ab" * 32)
    with pytest.raises(AidError, match="interval"):
        package_rumor(replace(package, interval=0), "ab" * 32)
    # Someone else cannot hand over alice's package: the seal's signer is the member.
    forged = nip59.make_rumor(
        people.carol.public_hex, 14, "x", package_rumor(package, "ab" * 32).tags
    )
    opened = nip59.unwrap(people.bob, nip59.wrap(people.carol, people.bob.public_hex, forged))
    with pytest.raises(AidError, match="not signed by the member"):
        parse_message(opened.rumor)


def test_package_carries_revocations(people: People, package: Package) -> None:
    old = SecretKey.generate()
    revocation = people.sign(people.alice, revocation_template(Revocation(old.public_hex)))
    with_revocation = replace(package, revocations=(revocation,))
    assert _deliver(people, package_rumor(with_revocation, people.bob.public_hex, T0)) == (
        with_revocation
    )
    by_carol = people.sign(people.carol, revocation_template(Revocation(old.public_hex)))
    with pytest.raises(AidError, match="revocation"):
        package_rumor(replace(package, revocations=(by_carol,)), "ab" * 32)


def test_checkin_and_release_messages(people: People) -> None:
    alice, bob = people.alice.public_hex, people.bob.public_hex
    checkin = _deliver(people, checkin_rumor(alice, bob, 3600, now=T0 + 5))
    assert checkin == CheckIn(alice, T0 + 5, 3600)
    assert _deliver(people, release_rumor(alice, bob, now=T0 + 9)) == Release(alice, T0 + 9)
    plain = nip59.make_rumor(alice, 14, "just a chat", [["p", bob]])
    assert _deliver(people, plain) is None
    # The protocol's one dispatcher knows them too.
    assert parse_aid_event(checkin_rumor(alice, bob, 60, now=T0)) == CheckIn(alice, T0, 60)
    with pytest.raises(AidError, match="interval"):
        checkin_rumor(alice, bob, 0)


def test_a_request_too_big_for_a_gift_wrap_is_refused(
    people: People, package: Package, request_obj: AidRequest
) -> None:
    long_text = ("word " * 6000).strip()  # each section is valid on its own
    huge = render_template(replace(request_obj, story=long_text, details=long_text))
    with pytest.raises(AidError, match="too long"):
        package_rumor(replace(package, request_markdown=huge), people.bob.public_hex)


def test_fold_adds_refreshes_rotates_and_releases(people: People, package: Package) -> None:
    alice = people.alice.public_hex
    stranger = CheckIn(people.carol.public_hex, T0 + 1, 60)
    state = fold({}, [CheckIn(alice, T0 + 100, 3600), package, stranger])
    assert list(state) == [alice]  # the stranger's check-in counts for nothing
    assert (state[alice].last_seen, state[alice].interval) == (T0 + 100, 3600)
    stale = fold(state, [CheckIn(alice, T0 + 50, 60)])
    assert stale[alice].last_seen == T0 + 100  # an older check-in arriving late changes nothing
    rotated = replace(package, created_at=T0 + 200, interval=7200)
    state = fold(state, [rotated])
    assert state[alice].package == rotated and state[alice].interval == 7200
    assert fold(state, [Release(alice, T0 + 150)]) == state  # older than the new package
    assert fold(state, [Release(alice, T0 + 300)]) == {}
    # Re-applying everything from the relays gives the same answer (idempotent).
    everything = [package, CheckIn(alice, T0 + 100, 3600), rotated, Release(alice, T0 + 300)]
    assert fold({}, everything) == fold(fold({}, everything), everything) == {}


def test_schedule(package: Package) -> None:
    member = Member(package, T0, 4000)
    assert champion.grace(4000) == 1000
    assert watch(member, T0 + 4000).health is Health.OK
    assert watch(member, T0 + 4001).health is Health.DUE
    assert watch(member, T0 + 5000).health is Health.DUE
    late = watch(member, T0 + 5001)
    assert late.health is Health.OVERDUE and (late.due_at, late.overdue_at) == (
        T0 + 4000,
        T0 + 5000,
    )
    assert late.to_dict(T0 + 5001)["silent_for"] == 5001 and late.to_dict(0)["overdue"] is True
    assert champion.format_duration(12 * 3600) == "12h"
    assert champion.format_duration(90061) == "1d 1h"
    assert champion.format_duration(0) == "0s"


def test_emergency_request(people: People, package: Package) -> None:
    request = emergency_request(package, "Held at the central station since Monday.", now=T0)
    assert request.beneficiary == people.alice.public_hex
    assert request.published_at == T0 and request.identifier
    assert "Held at the central station since Monday." in request.details
    assert "Added by a champion on" in request.details
    assert request.title == package.request.title
    plain = emergency_request(package, now=T0 + 60)
    assert plain.details == package.request.details
    assert plain.identifier == request.identifier == "rent-raid"  # the file's own id
    # Without one, d comes from E: a second champion activating edits the same request.
    no_id = replace(
        package, request_markdown=render_template(replace(package.request, identifier=""))
    )
    first, second = emergency_request(no_id, now=T0), emergency_request(no_id, now=T0 + 9)
    assert first.identifier == second.identifier and len(first.identifier) == 16
    other_key = replace(no_id, emergency_secret="05" * 32)
    assert emergency_request(other_key, now=T0).identifier != first.identifier


# ---- sizes: a relay must not tell the kinds of private message apart --------------------


def test_every_private_message_kind_makes_a_wrap_of_the_same_size(
    people: People, package: Package
) -> None:
    """Finding: wrap sizes separated hand-overs, check-ins, DMs and private pledges."""
    alice, bob = people.alice, people.bob.public_hex
    ref = RequestRef(Address(kinds.CLASSIFIED, bob, "rent"))
    pledge = Pledge(ref, Decimal(50), "GBP", None, "here you go", True)
    rumors = {
        "package": package_rumor(package, bob, T0),
        "checkin": checkin_rumor(alice.public_hex, bob, 3600, T0),
        "release": release_rumor(alice.public_hex, bob, T0),
        "dm": nip17.dm_rumor(alice.public_hex, [bob], "ok?"),
        "long dm": nip17.dm_rumor(alice.public_hex, [bob], "word " * 800),
        "pledge": nip59.make_rumor(alice.public_hex, *pledge_template(pledge)),
    }
    sizes = {name: len(nip59.wrap(alice, bob, r).to_json()) for name, r in rumors.items()}
    assert len(set(sizes.values())) == 1, sizes
    for name, rumor in rumors.items():  # and each still opens to what was said
        assert nip59.unwrap(people.bob, nip59.wrap(alice, bob, rumor)).rumor == rumor, name


def test_only_accepted_members_count_and_strangers_packages_wait(
    people: People, package: Package
) -> None:
    """Finding: an unsolicited package from a stranger was accepted at once."""
    alice = people.alice.public_hex
    checkin = CheckIn(alice, T0 + 60, 3600)
    kept, pending = by_consent([package, checkin], accepted=set(), declined={})
    assert kept == [] and pending == {alice: package}
    kept, pending = by_consent([package, checkin], accepted={alice}, declined={})
    assert kept == [package, checkin] and pending == {}
    # Declined: that package stays out; a newer one (a rotation) asks again.
    assert by_consent([package], set(), {alice: package.created_at}) == ([], {})
    newer = replace(package, created_at=T0 + 99)
    assert by_consent([package, newer], set(), {alice: package.created_at})[1] == {alice: newer}


def test_the_largest_champion_message_still_fits_the_largest_size_bucket(
    people: People, package: Package
) -> None:
    """A hand-over just under the limit is still one of the bucket sizes (and under the
    common 64 KiB event limit), not a size of its own."""
    bob = people.bob.public_hex
    base = len(package_rumor(package, bob, T0).to_json())
    big = replace(package, request_markdown=package.request_markdown + "x" * (28_000 - base - 50))
    rumor = package_rumor(big, bob, T0)
    assert 27_000 < len(rumor.to_json()) <= champion.MAX_RUMOR
    sealed = nip59.seal(people.alice, bob, rumor)
    assert len(nip59.pad_seal(sealed).encode()) == nip59.SEAL_BUCKETS[-1]
    assert len(nip59.gift_wrap(sealed, bob).to_json()) < 65_536
    too_big = replace(package, request_markdown=package.request_markdown + "x" * 28_000)
    with pytest.raises(AidError, match="too long"):
        package_rumor(too_big, bob, T0)
