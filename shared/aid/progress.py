"""How a request stands: asked vs confirmed received vs pledged, time left, and who it
speaks for, in the words every view uses (CLI tables, feed lines, JSON and exports).

Three figures are kept apart because they mean different things:

* *asked*: the request's own amount and currency (absent when any help is welcome);
* *received*: what a recipient confirmed (comments labelled ``received``): the only
  figure that is money in hand;
* *pledged*: what helpers promised (public pledges; only the recipient's own view adds
  the private ones it unwrapped). A pledge is a promise, not money.

Amounts in different currencies are listed side by side and never added or converted
(PROTOCOL §2: no exchange rate is neutral or stable); a percentage is given only for the
asked currency, rounded down so that 99.6% never reads as "100%, funded".

The champion wording (:func:`champion_notice`, :func:`champion_mark`) lives here too, so
``request show``, ``request list``, ``feed`` and every export say the same thing about a
request published with a revoked or unattested emergency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from shieldmutual.shared.aid.comments import Progress
from shieldmutual.shared.aid.common import format_amount
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.utcdates import utc_day
from shieldmutual.shared.aid.vouch import ChampionCheck, ChampionStatus

MINUTE, HOUR, DAY = 60, 3600, 86400


class State(StrEnum):
    """The request's state as a reader needs it: the author's status, plus the deadline."""

    OPEN = "open"
    EXPIRED = "expired"  # still open, but its deadline has passed
    FUNDED = "funded"
    CLOSED = "closed"


STATE_SENTENCE = {
    State.OPEN: "Open: help is still needed.",
    State.EXPIRED: "The deadline has passed; the request is still open.",
    State.FUNDED: "Funded: the person asking says they have what they needed.",
    State.CLOSED: "Closed: help is no longer needed.",
}


@dataclass(frozen=True, slots=True)
class Standing:
    """One request's figures at one moment (see the module docstring)."""

    state: State
    asked: Decimal | None = None
    currency: str | None = None
    received: Mapping[str, Decimal] = field(default_factory=dict)
    pledged: Mapping[str, Decimal] = field(default_factory=dict)
    confirmations: int = 0
    pledges: int = 0
    private_pledges: int = 0
    percent_received: int | None = None
    percent_pledged: int | None = None
    deadline: int | None = None
    seconds_left: int | None = None


def percent(part: Decimal, whole: Decimal) -> int:
    """``part`` of ``whole`` in whole percent, rounded down (may exceed 100)."""
    return int((part * 100 / whole).to_integral_value(rounding=ROUND_FLOOR))


def standing(request: AidRequest, progress: Progress, now: int) -> Standing:
    """The figures of ``request`` from its tallied thread, at unix time ``now``."""
    asked, currency = request.amount, request.currency

    def share(totals: Mapping[str, Decimal]) -> int | None:
        if asked is None or currency is None:
            return None
        return percent(totals.get(currency, Decimal(0)), asked)

    left = None if request.deadline is None else max(0, request.deadline - now)
    state = {Status.FUNDED: State.FUNDED, Status.CLOSED: State.CLOSED}.get(request.status)
    if state is None:
        state = State.EXPIRED if left == 0 else State.OPEN
    return Standing(
        state=state,
        asked=asked,
        currency=currency,
        received=dict(progress.received),
        pledged=dict(progress.pledged),
        confirmations=progress.confirmations,
        pledges=progress.pledges,
        private_pledges=progress.private_pledges,
        percent_received=share(progress.received),
        percent_pledged=share(progress.pledged),
        deadline=request.deadline,
        seconds_left=left,
    )


def money(totals: Mapping[str, Decimal]) -> str:
    """``"120 EUR, 300 USD"``: each currency on its own, never summed; "none yet"."""
    return ", ".join(f"{format_amount(v)} {c}" for c, v in sorted(totals.items())) or "none yet"


def counted(count: int, noun: str) -> str:
    """``"1 pledge"``, ``"3 pledges"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def time_left(seconds: int | None) -> str:
    """``"3 days left"``, ``"5 hours left"``, ``"deadline passed"``; "" without a deadline."""
    if seconds is None:
        return ""
    if seconds <= 0:
        return "deadline passed"
    for unit, name in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute")):
        if seconds >= unit:
            return f"{counted(seconds // unit, name)} left"
    return "less than a minute left"


def share_text(
    totals: Mapping[str, Decimal], share: int | None, s: Standing, *, short: bool = False
) -> str:
    """The asked currency first, with its share of the asked amount (``short``: just the
    percentage, for a table cell); the other currencies after it, never added."""
    if share is None or s.asked is None or s.currency is None:
        return money(totals)
    asked = f"{format_amount(totals.get(s.currency, Decimal(0)))} {s.currency}"
    others = {c: v for c, v in totals.items() if c != s.currency}
    of = "" if short else f" of {format_amount(s.asked)} {s.currency}"
    return f"{asked} ({share}%{of})" + (f", {money(others)}" if others else "")


def received_text(s: Standing) -> str:
    """``"120 USD (24% of 500 USD)"``: confirmed by a recipient."""
    return share_text(s.received, s.percent_received, s)


def pledged_text(s: Standing) -> str:
    """``"300 USD (60% of 500 USD)"``, plus ``"incl. N private"`` in the recipient's view."""
    text = share_text(s.pledged, s.percent_pledged, s)
    if s.private_pledges:
        text += f" (incl. {s.private_pledges} private)"
    return text


def deadline_text(s: Standing) -> str:
    """``"3 days left (2026-12-03)"``, ``"deadline passed (2026-11-01)"``, or ""."""
    if s.deadline is None:
        return ""
    return f"{time_left(s.seconds_left)} ({utc_day(s.deadline)})"


def summary_lines(s: Standing) -> list[str]:
    """The figures as sentences, for exports and `request show` (without list markers)."""
    lines = [STATE_SENTENCE[s.state]]
    if s.asked is not None:
        lines.append(f"Asked: {format_amount(s.asked)} {s.currency}")
    lines.append(
        f"Confirmed received: {received_text(s)} in {counted(s.confirmations, 'confirmation')}"
    )
    lines.append(
        f"Pledged: {pledged_text(s)} in {counted(s.pledges, 'pledge')} (a promise, not money)"
    )
    if s.deadline is not None:
        lines.append(f"Deadline: {deadline_text(s)}")
    return lines


def short_summary(s: Standing) -> str:
    """One line for a piped feed: ``"funded; received 500 USD (100%); pledged …"``."""
    parts = [s.state.value, f"received {received_text(s)}", f"pledged {pledged_text(s)}"]
    if s.deadline is not None and s.state in (State.OPEN, State.EXPIRED):
        parts.append(time_left(s.seconds_left))
    return "; ".join(parts)


def standing_dict(s: Standing) -> dict[str, Any]:
    """Stable JSON keys for scripts; amounts are strings so ``12.50`` stays exact."""

    def totals(values: Mapping[str, Decimal]) -> dict[str, str]:
        return {currency: format_amount(v) for currency, v in sorted(values.items())}

    asked = None if s.asked is None else {"amount": format_amount(s.asked), "currency": s.currency}
    return {
        "state": s.state.value,
        "asked": asked,
        "received": totals(s.received),
        "pledged": totals(s.pledged),
        "confirmations": s.confirmations,
        "pledges": s.pledges,
        "private_pledges": s.private_pledges,
        "percent_received": s.percent_received,
        "percent_pledged": s.percent_pledged,
        "deadline": s.deadline,
        "seconds_left": s.seconds_left,
        "time_left": time_left(s.seconds_left) or None,
    }


# ---- who the request speaks for ------------------------------------------------------------


def champion_notice(check: ChampionCheck, who: str) -> str | None:
    """The sentence about a request published with an emergency key (``who`` names the
    member as the caller shows people); None for an ordinary request."""
    if check.status is ChampionStatus.NONE or check.member is None:
        return None
    if check.status is ChampionStatus.VERIFIED:
        return f"This was published by a champion for {who} (attestation verified)."
    if check.status is ChampionStatus.REVOKED:
        return (
            f"Warning: {who} has revoked the emergency key that published this; "
            "it does not speak for them."
        )
    return f"Warning: claims to be for {who}, but no attestation from them was found (unverified)."


def champion_mark(check: ChampionCheck) -> str:
    """A table cell's word for a request that must not be trusted as it stands, or ""."""
    return {ChampionStatus.REVOKED: "REVOKED KEY", ChampionStatus.UNVERIFIED: "UNVERIFIED"}.get(
        check.status, ""
    )


def champion_dict(check: ChampionCheck, notice: str | None) -> dict[str, Any]:
    """JSON: the status (none/verified/revoked/unverified), the member, the sentence."""
    return {"status": str(check.status), "member": check.member, "notice": notice}
