"""docs/PROTOCOL.md stays true: every event example parses, and so does the example file."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from shieldmutual.shared.aid.markdown import parse_template
from shieldmutual.shared.aid.parse import parse_aid_event
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.errors import AidError

DOC = Path(__file__).resolve().parents[3] / "docs" / "PROTOCOL.md"
TEXT = DOC.read_text(encoding="utf-8")
EVENTS = [
    orjson.loads(block)
    for block in re.findall(r"```json\n(.*?)\n```", TEXT, re.DOTALL)
    if '"kind"' in block
]


def test_every_event_kind_has_an_example() -> None:
    kinds = sorted({e["kind"] for e in EVENTS})
    assert kinds == [1, 14, 16, 1111, 1985, 30023, 30402, 34550]
    assert len(EVENTS) >= 14


@pytest.mark.parametrize("example", EVENTS, ids=lambda e: str(e["kind"]))
def test_event_examples_parse(example: dict) -> None:
    event = SimpleNamespace(id="00" * 32, **example)
    parse_aid_event(event)


def test_the_example_file_parses() -> None:
    block = re.search(r"```markdown\n(---\n.*?)```", TEXT, re.DOTALL)
    assert block is not None
    request = parse_template(block.group(1))
    assert isinstance(request, AidRequest) and request.title == "Rent after the raid"


def test_dispatch_refuses_other_events() -> None:
    with pytest.raises(AidError, match="not a mutual aid event"):
        parse_aid_event(SimpleNamespace(id="00" * 32, kind=7, tags=[], content="+"))
    with pytest.raises(AidError, match="not a mutual aid event"):
        parse_aid_event(SimpleNamespace(id="00" * 32, kind=1985, tags=[["L", "x"]], content=""))
