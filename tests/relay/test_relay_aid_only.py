"""Aid-only relays (``[policy] aid_only = true``): the project's own events pass, built by
the real ``shared/aid`` builders and signed, and what is not mutual aid traffic is refused.

Each accepted event names the clause of relay/policy.py's rule that lets it through:
(a) a society or ``mutualaid`` tag, (b) a support kind, (c) an ``a``/``A`` tag naming a
request or offer, (d) a kind 1985 label of the MAS person vocabulary. The unit tests call
the rule; one test sends everything through a real aid-only relay.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from shieldmutual.relay import policy
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    Update,
    confirmation_template,
    pledge_template,
    update_template,
)
from shieldmutual.shared.aid.common import NAMESPACE, Address, label_tags
from shieldmutual.shared.aid.report import Report, report_template
from shieldmutual.shared.aid.request import AidRequest, new_identifier, request_event_template
from shieldmutual.shared.aid.vouch import (
    EMERGENCY_KEY,
    Attestation,
    Revocation,
    Vouch,
    attestation_template,
    revocation_template,
    vouch_template,
)
from shieldmutual.shared.event import Event, EventTemplate, sign
from shieldmutual.shared.keys import SecretKey

ASKER, HELPER, STRANGER = (SecretKey(bytes([i]) * 32) for i in (7, 8, 9))
EMERGENCY = SecretKey(bytes([10]) * 32)
REACTION = 7  # NIP-25


def _signed(key: SecretKey, template: EventTemplate) -> Event:
    return sign(key, *template)


# An ordinary request, as `mas request new` publishes it: society tags (clause a).
REQUEST = _signed(
    ASKER,
    request_event_template(
        AidRequest(
            title="Rent after the raid",
            summary="Two weeks of work lost.",
            story="The social centre was raided.",
            location="Leeds",
            societies=("leeds-care",),
            identifier=new_identifier(),
        )
    ),
)
REF = RequestRef.of(REQUEST)
PLEDGE = _signed(HELPER, pledge_template(Pledge(REF, Decimal(50), "GBP")))


def _reaction(target: Event) -> Event:
    """NIP-25 as ordinary apps write it for an addressable event: no society tag."""
    tags = [["e", target.id], ["a", str(Address.of(target))], ["p", target.pubkey], ["k", "30402"]]
    return sign(STRANGER, REACTION, "+", tags)


def _repost(target: Event) -> Event:
    """NIP-18 generic repost of the request by an ordinary app: no society tag."""
    tags = [["e", target.id, ""], ["a", str(Address.of(target))], ["p", target.pubkey]]
    return sign(STRANGER, kinds.GENERIC_REPOST, target.to_json().decode(), [*tags, ["k", "30402"]])


ACCEPTED: dict[str, Callable[[], Event]] = {
    "request (a)": lambda: REQUEST,
    "pledge (c)": lambda: PLEDGE,
    "confirmation (c)": lambda: _signed(
        ASKER,
        confirmation_template(
            Confirmation(REF, Decimal(50), "GBP", HELPER.public_hex, PLEDGE.id),
            helper_consents=True,
        ),
    ),
    "confirmation without a pledge (c)": lambda: _signed(
        ASKER, confirmation_template(Confirmation(REF, Decimal(10), "GBP"))
    ),
    "update (c)": lambda: _signed(ASKER, update_template(Update(REF, "The notice is paused."))),
    "report (a, c)": lambda: _signed(
        ASKER,
        report_template(
            Report("Where it went", "Rent for January.", REF.address, identifier="r-report")
        ),
    ),
    "reaction by an ordinary app (c)": lambda: _reaction(REQUEST),
    "repost by an ordinary app (c)": lambda: _repost(REQUEST),
    # The documented residual: the address is checked for shape, not looked up.
    "note naming a made-up request (c, residual)": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "buy now", [["a", f"{kinds.CLASSIFIED}:{'0' * 64}:none"]]
    ),
    "vouch (d)": lambda: _signed(HELPER, vouch_template(Vouch(ASKER.public_hex, "I know her"))),
    "champion attestation (d)": lambda: _signed(
        ASKER, attestation_template(Attestation(EMERGENCY.public_hex))
    ),
    "emergency key revocation (d)": lambda: _signed(
        ASKER, revocation_template(Revocation(EMERGENCY.public_hex))
    ),
    "vouch withdrawn: deletion (b)": lambda: sign(HELPER, kinds.DELETION, "", [["k", "1985"]]),
    "DM relay list (b)": lambda: sign(HELPER, kinds.DM_RELAY_LIST, "", [["relay", "wss://x.y"]]),
}

_ASKER_HEX = ASKER.public_hex
_REPORT_ADDRESS = f"{kinds.LONG_FORM}:{_ASKER_HEX}:r-report"
REFUSED: dict[str, Callable[[], Event]] = {
    "bare note": lambda: sign(STRANGER, kinds.TEXT_NOTE, "buy now"),
    "note naming a long-form address, not a request": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "buy now", [["a", _REPORT_ADDRESS]]
    ),
    "note with a malformed request address": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "x", [["a", f"{kinds.CLASSIFIED}:{_ASKER_HEX[:40]}:d"]]
    ),
    "note with an upper-case request address": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "x", [["a", f"{kinds.CLASSIFIED}:{_ASKER_HEX.upper()}:d"]]
    ),
    "note with a kind that only ends in 30402": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "x", [["a", f"1{kinds.CLASSIFIED}:{_ASKER_HEX}:d"]]
    ),
    "request address in a tag that is not a/A": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "x", [["q", str(REF.address)]]
    ),
    "note self-labelled as a vouch": lambda: sign(
        STRANGER, kinds.TEXT_NOTE, "buy now", label_tags("vouch")
    ),
    "label outside the MAS vocabulary": lambda: sign(
        STRANGER, kinds.LABEL, "", [*label_tags("spam"), ["p", _ASKER_HEX]]
    ),
    "MAS word in another namespace": lambda: sign(
        STRANGER, kinds.LABEL, "", [*label_tags(EMERGENCY_KEY, "other"), ["p", _ASKER_HEX]]
    ),
    "MAS mark without its L tag (NIP-32)": lambda: sign(
        STRANGER, kinds.LABEL, "", [["l", EMERGENCY_KEY, NAMESPACE], ["p", _ASKER_HEX]]
    ),
    # Apps write followed hashtags and communities into the follow list: with one for
    # mutual aid or a request, the whole follow graph would be stored here.
    "follow list following #mutualaid": lambda: sign(
        STRANGER, kinds.CONTACTS, "", [["p", _ASKER_HEX], ["t", "mutualaid"]]
    ),
    "follow list naming a request": lambda: sign(
        STRANGER, kinds.CONTACTS, "", [["p", _ASKER_HEX], ["a", str(REF.address)]]
    ),
    # NIP-51 lists of followed communities and interests hold society tags by design.
    "interests list with a society tag": lambda: sign(
        STRANGER, kinds.INTERESTS_LIST, "", [["t", "mas-leeds-care"], ["t", "mutualaid"]]
    ),
    "interest set with a society tag": lambda: sign(
        STRANGER, kinds.INTEREST_SETS, "", [["d", "aid"], ["t", "mas-leeds-care"]]
    ),
    "communities list naming a society": lambda: sign(
        STRANGER,
        kinds.COMMUNITIES_LIST,
        "",
        [["a", f"34550:{_ASKER_HEX}:leeds-care"], ["t", "mutualaid"]],
    ),
}


@pytest.mark.parametrize("make", ACCEPTED.values(), ids=list(ACCEPTED))
def test_aid_traffic_passes(make: Callable[[], Event]) -> None:
    assert policy.is_aid_traffic(make())


@pytest.mark.parametrize("make", REFUSED.values(), ids=list(REFUSED))
def test_other_traffic_is_refused(make: Callable[[], Event]) -> None:
    assert not policy.is_aid_traffic(make())


async def test_an_aid_only_relay_takes_the_project_traffic_and_refuses_the_rest(
    start_relay, connect
) -> None:
    relay = await start_relay(policy={"aid_only": True})
    client = await connect(relay.url)
    for name, make in ACCEPTED.items():
        ok = await client.publish(make())
        assert ok[2] is True, (name, ok)
    for name, make in REFUSED.items():
        ok = await client.publish(make())
        assert ok[2] is False and ok[3].startswith("blocked: "), (name, ok)
