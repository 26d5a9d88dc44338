"""Interactive `mas request new` warns, as the answer is typed, when the location looks
like a street address or postcode, and asks again (Enter keeps the answer). Finding: a
street address went public without a word. Run in-process with --dry-run: nothing to
publish, so no relay is needed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shieldmutual.shared.aid.request import parse_request
from shieldmutual.shared.event import Event


def _answers(where: str, again: str | None) -> str:
    """Title, summary, where (and where again), language, geohash, societies, amount,
    deadline, lightning, other, call, sign wave, then the story and details blocks."""
    asked = ["Food for the week", "Two kids, no shifts this week.", where]
    asked += [again] if again is not None else []
    asked += ["en", "", "hull-aid", "", "", "", "", "", "", "We ran out of food.", ".", "", "."]
    return "\n".join(asked) + "\n"


@pytest.mark.parametrize(
    ("where", "again", "published"),
    [
        ("12 High Street, Hull HU1 2AB", "Hull", "Hull"),
        ("12 High Street, Hull HU1 2AB", "", "12 High Street, Hull HU1 2AB"),  # Enter keeps it
        ("Hull", None, "Hull"),  # a town: no warning, no second question
    ],
)
def test_interactive_new_warns_about_an_address_and_asks_again(
    person: Any, keys: Any, where: str, again: str | None, published: str
) -> None:
    sam = person("sam", keys.alice)
    done = sam("request", "new", "-i", "--dry-run", input=_answers(where, again))
    assert done.code == 0, done.stderr
    warned = " ".join(done.stderr.split())
    assert ("street address (12 High Street)" in warned) == (again is not None)
    assert ("UK postcode (HU1 2AB)" in warned) == (again is not None)
    assert warned.count("warning: the location") == (again is not None)  # once, not twice
    request = parse_request(Event.from_dict(orjson.loads(done.lines[0])))
    assert request.location == published and request.societies == ("hull-aid",)
