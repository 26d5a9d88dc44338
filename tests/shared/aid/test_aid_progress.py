"""How a request stands (shared/aid/progress.py): figures, percentages, time left, wording."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    Progress,
    RequestRef,
    confirmation_template,
    pledge_template,
)
from shieldmutual.shared.aid.progress import (
    DAY,
    HOUR,
    State,
    champion_mark,
    champion_notice,
    percent,
    short_summary,
    standing,
    standing_dict,
    summary_lines,
    time_left,
)
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.thread import tally
from shieldmutual.shared.aid.vouch import ChampionCheck, ChampionStatus

People = Any  # the conftest's People fixture
NOW = 1_700_000_000


def progress(**totals: Any) -> Progress:
    return Progress(
        pledges=totals.get("pledges", 0),
        pledged=totals.get("pledged", {}),
        confirmations=totals.get("confirmations", 0),
        received=totals.get("received", {}),
        private_pledges=totals.get("private", 0),
    )


def test_percent_rounds_down_so_nearly_funded_never_reads_as_funded() -> None:
    assert percent(Decimal("399.99"), Decimal("400")) == 99
    assert percent(Decimal("1"), Decimal("3")) == 33
    assert percent(Decimal("2"), Decimal("3")) == 66
    assert percent(Decimal("0.01"), Decimal("400")) == 0
    assert percent(Decimal("500"), Decimal("400")) == 125


def test_received_and_pledged_are_separate_shares_of_the_asked_amount(
    request_obj: AidRequest,
) -> None:
    p = progress(
        pledges=3,
        pledged={"GBP": Decimal("300")},
        confirmations=1,
        received={"GBP": Decimal("100")},
    )
    s = standing(request_obj, p, NOW)
    assert (s.asked, s.currency) == (Decimal("400"), "GBP")
    assert (s.percent_received, s.percent_pledged) == (25, 75)
    lines = summary_lines(s)
    assert "Asked: 400 GBP" in lines
    assert "Confirmed received: 100 GBP (25% of 400 GBP) in 1 confirmation" in lines
    assert any(
        line.startswith("Pledged: 300 GBP (75% of 400 GBP) in 3 pledges") and "not money" in line
        for line in lines
    )


def test_other_currencies_are_listed_never_added_or_converted(request_obj: AidRequest) -> None:
    p = progress(
        pledges=2,
        pledged={"GBP": Decimal("100"), "EUR": Decimal("1000")},
        confirmations=1,
        received={"USD": Decimal("50")},
    )
    s = standing(request_obj, p, NOW)
    # 1000 EUR is not counted toward the 400 GBP asked, in any rate.
    assert s.percent_pledged == 25
    assert s.percent_received == 0
    data = standing_dict(s)
    assert data["pledged"] == {"EUR": "1000", "GBP": "100"}
    assert data["received"] == {"USD": "50"}
    assert "pledged 100 GBP (25% of 400 GBP), 1000 EUR" in short_summary(s)
    assert "received 0 GBP (0% of 400 GBP), 50 USD" in short_summary(s)


def test_no_amount_asked_gives_figures_but_no_percentage(request_obj: AidRequest) -> None:
    request = replace(request_obj, amount=None, currency=None)
    s = standing(request, progress(pledges=1, pledged={"GBP": Decimal("5")}), NOW)
    assert s.percent_received is None and s.percent_pledged is None
    assert standing_dict(s)["asked"] is None
    assert not any(line.startswith("Asked") for line in summary_lines(s))
    assert "%" not in short_summary(s)
    assert "received none yet" in short_summary(s)


def test_time_left_words() -> None:
    assert time_left(None) == ""
    assert time_left(0) == "deadline passed"
    assert time_left(30) == "less than a minute left"
    assert time_left(60) == "1 minute left"
    assert time_left(5 * HOUR + 59 * 60) == "5 hours left"
    assert time_left(DAY) == "1 day left"
    assert time_left(3 * DAY + 23 * HOUR) == "3 days left"


def test_deadline_in_the_future_and_passed(request_obj: AidRequest) -> None:
    soon = standing(replace(request_obj, deadline=NOW + 3 * DAY + 5), progress(), NOW)
    assert soon.state is State.OPEN and soon.seconds_left == 3 * DAY + 5
    assert "3 days left" in short_summary(soon)
    assert any(line.startswith("Deadline: 3 days left (") for line in summary_lines(soon))
    passed = standing(replace(request_obj, deadline=NOW - 10), progress(), NOW)
    assert passed.state is State.EXPIRED and passed.seconds_left == 0
    assert standing_dict(passed)["time_left"] == "deadline passed"
    assert "The deadline has passed; the request is still open." in summary_lines(passed)


@pytest.mark.parametrize(
    ("status", "state", "sentence"),
    [
        (Status.FUNDED, State.FUNDED, "Funded: the person asking says they have what they needed."),
        (Status.CLOSED, State.CLOSED, "Closed: help is no longer needed."),
        (Status.OPEN, State.OPEN, "Open: help is still needed."),
    ],
)
def test_funded_and_closed_say_so_plainly_even_past_the_deadline(
    request_obj: AidRequest, status: Status, state: State, sentence: str
) -> None:
    deadline = NOW - DAY if status is not Status.OPEN else NOW + DAY
    s = standing(replace(request_obj, status=status, deadline=deadline), progress(), NOW)
    assert s.state is state
    assert summary_lines(s)[0] == sentence
    assert short_summary(s).startswith(state.value)
    if state is not State.OPEN:
        assert "left" not in short_summary(s) and "passed" not in short_summary(s)


def test_private_pledges_count_only_when_the_caller_passes_them(
    people: People, ref: RequestRef, request_obj: AidRequest
) -> None:
    alice, bob = people.alice, people.bob
    public = people.sign(bob, pledge_template(Pledge(ref, Decimal("50"), "GBP")))
    rumor = people.sign(bob, pledge_template(Pledge(ref, Decimal("70"), "GBP", private=True)))
    got = Confirmation(ref, Decimal("20"), "GBP")
    confirmation = people.sign(alice, confirmation_template(got))
    recipients = {alice.public_hex}
    everyone = standing(request_obj, tally(ref.address, recipients, [public, confirmation]), NOW)
    assert (everyone.pledges, everyone.private_pledges) == (1, 0)
    assert "private" not in short_summary(everyone)
    mine = tally(ref.address, recipients, [public, confirmation, rumor])
    s = standing(request_obj, mine, NOW)
    assert (s.pledges, s.private_pledges, s.pledged) == (2, 1, {"GBP": Decimal("120")})
    assert "pledged 120 GBP (30% of 400 GBP) (incl. 1 private)" in short_summary(s)
    assert standing_dict(s)["private_pledges"] == 1


def test_champion_wording_for_each_status() -> None:
    member = "ab" * 32
    assert champion_notice(ChampionCheck(ChampionStatus.NONE), "Ann") is None
    assert champion_mark(ChampionCheck(ChampionStatus.NONE)) == ""
    verified = ChampionCheck(ChampionStatus.VERIFIED, member)
    assert champion_notice(verified, "Ann") == (
        "This was published by a champion for Ann (attestation verified)."
    )
    assert champion_mark(verified) == ""
    revoked = ChampionCheck(ChampionStatus.REVOKED, member)
    assert "Ann has revoked the emergency key" in str(champion_notice(revoked, "Ann"))
    assert champion_mark(revoked) == "REVOKED KEY"
    unverified = ChampionCheck(ChampionStatus.UNVERIFIED, member)
    assert "unverified" in str(champion_notice(unverified, "Ann"))
    assert champion_mark(unverified) == "UNVERIFIED"
