"""Acting on a member's behalf: what a hand-over must not carry, and how champions edit
the request they published with the member's emergency key E.

* A hand-over's request file must be the member's own. One copied from ``mas request
  template`` once went out as an emergency request carrying the example's rent story,
  payment addresses and phone number, for someone else: :func:`example_leftovers` names
  what is left of the example so the hand-over can be refused.
* After activation, champions keep the one request going: facts are *appended* to the
  Details section, dated, never replacing earlier ones (:func:`add_fact`). The client
  always edits the version relays hold now, so two champions acting one after the other
  edit one request.
* :func:`emergency_request` is the member's request as a champion publishes it, under
  one ``d`` every champion shares (:func:`emergency_identifier`).
* :func:`activation_notice` is what the member is told, privately, after an activation.

Pure: no I/O; times are parameters.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from shieldmutual.shared.aid.champion import Package
from shieldmutual.shared.aid.draft import example_request
from shieldmutual.shared.aid.helping import CallFlood
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.utcdates import utc_minute
from shieldmutual.shared.errors import AidError

FACT_PREFIX = "Added by a champion on"


def example_leftovers(request: AidRequest) -> list[str]:
    """What ``request`` still carries of the ``mas request template`` example ([] if none)."""
    example = example_request(0)
    # Not the title or details: "Rent after the raid" may well be someone's own words.
    found = [
        f"its {what}"
        for what in ("summary", "story")
        if getattr(request, what) == getattr(example, what)
    ]
    theirs = {p.value for p in example.payments}
    found += [f"its payment address {p.value!r}" for p in request.payments if p.value in theirs]
    numbers = {a.number for a in example.actions if isinstance(a, CallFlood)}
    found += [
        f"its phone number {a.number!r}"
        for a in request.actions
        if isinstance(a, CallFlood) and a.number in numbers
    ]
    return found


def check_not_example(request: AidRequest) -> AidRequest:
    """Refuse a request that still carries the template example's words or addresses."""
    leftovers = example_leftovers(request)
    if leftovers:
        raise AidError(
            f"this is the unedited example from `mas request template` ({', '.join(leftovers)})"
            ": write your own story and your own ways to be paid"
        )
    return request


def add_fact(request: AidRequest, facts: str, now: int) -> AidRequest:
    """``request`` with ``facts`` appended to its Details, dated ``now``; earlier text stays."""
    facts = facts.strip()
    if not facts:
        return request
    added = f"{FACT_PREFIX} {utc_minute(now)}:\n\n{facts}"
    details = f"{request.details}\n\n{added}" if request.details else added
    return replace(request, details=details)


def activation_notice(champion_npub: str, at: int, title: str, naddr: str, reason: str) -> str:
    """The private message a member gets after a champion activated their request."""
    text = (
        f"{champion_npub}, one of your champions, published your emergency request "
        f"{title!r} on {utc_minute(at)}, signed by your emergency key: {naddr}"
    )
    if reason.strip():
        text += f"\n\nTheir reason:\n\n{reason.strip()}"
    return text + (
        "\n\nIf you are safe and did not want this, remove this champion (`mas champion "
        "remove`): that revokes the key, and clients then show the request as not yours."
    )


def emergency_identifier(package: Package) -> str:
    """The request's ``d``: the file's own id, else one derived from E, so that every
    champion who activates edits the same request instead of publishing another one."""
    derived = hashlib.sha256(b"mas emergency request " + package.emergency_key.public_key)
    return package.request.identifier or derived.hexdigest()[:16]


def emergency_request(
    package: Package, facts: str = "", now: int = 0, current: AidRequest | None = None
) -> AidRequest:
    """The member's request as a champion publishes it: the member as beneficiary, the
    champion's facts appended to Details, dated ``now``. ``current`` is the version relays
    hold, if any: it is the base, so a second activation keeps the first one's facts."""
    request = add_fact(current if current is not None else package.request, facts, now)
    published = current.published_at if current is not None else None
    return replace(
        request,
        beneficiary=package.member,
        identifier=emergency_identifier(package),
        published_at=published or now,
    )
