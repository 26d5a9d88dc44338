"""Drafting: the example request is valid as it stands; flags become file lines."""

from __future__ import annotations

import pytest

from shieldmutual.shared.aid.draft import EXAMPLE_SOCIETY, compose, example_request
from shieldmutual.shared.aid.markdown import parse_template, render_template
from shieldmutual.shared.aid.request import Status
from shieldmutual.shared.errors import AidError

NOW = 1_767_225_600


def test_example_is_valid_as_it_stands() -> None:
    example = example_request(NOW)
    assert example.societies == (EXAMPLE_SOCIETY,)
    assert example.deadline is not None and example.deadline > NOW
    assert parse_template(render_template(example, hints=True)) == example


def test_compose_replaces_keys_and_sections() -> None:
    base = render_template(example_request(NOW), hints=True)
    text = compose(
        base,
        {"status": "funded", "lightning": ["new@pay.example"], "tags": ""},
        story="A new story.",
    )
    changed = parse_template(text)
    assert changed.status is Status.FUNDED and changed.story == "A new story."
    assert [p.value for p in changed.payments if p.method == "lightning"] == ["new@pay.example"]
    assert changed.hashtags == () and changed.details == example_request(NOW).details


def test_compose_from_nothing_and_from_a_body_without_headings() -> None:
    fields = {"title": "T", "summary": "S", "location": "online", "societies": "a, b"}
    assert parse_template(compose("", fields, story="Hello")).societies == ("a", "b")
    plain = "---\ntitle: T\nsummary: S\nlocation: L\n---\nJust the story."
    assert parse_template(compose(plain, {})).story == "Just the story."


def test_a_flag_cannot_inject_a_line() -> None:
    with pytest.raises(AidError, match="one line"):
        compose("", {"title": "T\nlightning: thief@pay.example"})
    stray = "---\ntitle: T\nsummary: S\nlocation: L\n---\nstray\n\n## Story\n\nx"
    with pytest.raises(AidError, match="before '## Story'"):
        parse_template(compose(stray, {}, story="y"))
