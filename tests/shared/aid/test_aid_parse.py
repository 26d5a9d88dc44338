"""The one aid dispatcher (issue 16 point 6): every reader of mixed traffic goes through it."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from shieldmutual.shared.aid import champion, comments, parse, vouch
from shieldmutual.shared.aid.comments import Confirmation, Pledge
from shieldmutual.shared.aid.offer import Offer
from shieldmutual.shared.aid.parse import parse_aid_event, read_aid_event, read_as
from shieldmutual.shared.aid.request import AidRequest, parse_request
from shieldmutual.shared.event import Rumor

DOC = Path(__file__).resolve().parents[3] / "docs" / "PROTOCOL.md"
EXAMPLES = [
    Rumor.from_dict(orjson.loads(block))
    for block in re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    if '"kind"' in block
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: str(e.kind))
def test_read_as_narrows_to_the_dispatched_type_and_nothing_else(event: Rumor) -> None:
    found = parse_aid_event(event)
    assert read_aid_event(event) == found
    assert read_as(event, type(found)) == found
    other = Confirmation if not isinstance(found, Confirmation) else Pledge
    assert read_as(event, other) is None


def test_anything_else_reads_as_none() -> None:
    note = Rumor.from_dict(
        {"pubkey": "ab" * 32, "created_at": 1, "kind": 1, "tags": [], "content": "hi"}
    )
    assert read_aid_event(note) is None
    assert read_as(note, AidRequest) is None
    # Two of our labels on one comment: ambiguous, so nobody counts it as either.
    both = [["L", "mas"], ["l", "pledge", "mas"], ["l", "vouch", "mas"]]
    comment = Rumor.from_dict({**note.to_dict(), "id": "", "kind": 1111, "tags": both})
    assert read_aid_event(comment) is None


def test_every_label_has_one_parser_beside_its_module() -> None:
    tables = (comments.PARSERS, vouch.PARSERS, champion.PARSERS)
    labels = [label for table in tables for label in table]
    assert len(labels) == len(set(labels))
    assert set(labels) == {
        comments.PLEDGE, comments.RECEIVED, comments.UPDATE,
        vouch.VOUCH, vouch.EMERGENCY_KEY, vouch.REVOKED,
        champion.PACKAGE, champion.CHECKIN, champion.RELEASE,
    }  # fmt: skip


def test_a_listing_is_an_offer_or_a_request_with_the_callers_request_reader() -> None:
    listings = [e for e in EXAMPLES if e.kind == 30402]
    read = [parse.parse_listing(e) for e in listings]
    assert {type(x) for x in read} == {AidRequest, Offer}
    seen: list[Rumor] = []

    def reader(event: Rumor) -> AidRequest:
        seen.append(event)
        return parse_request(event)

    for event in listings:
        parse.parse_listing(event, reader)
    assert seen == [e for e, x in zip(listings, read, strict=True) if isinstance(x, AidRequest)]
