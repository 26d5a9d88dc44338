"""Filter validation messages and the pure matcher, including property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldmutual.shared.errors import FilterError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import MAX_FILTER_INT, Filter, matches_any, search_terms
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.messages import ClientReq, ParseError, parse_client_message

KEY = SecretKey(bytes.fromhex("11" * 32))
OTHER = SecretKey(bytes.fromhex("22" * 32))
HEX_A = "a" * 64


def note(**kw: object) -> Event:
    args = {"kind": 1, "content": "hello world", "tags": [], "created_at": 1000}
    args.update(kw)
    return sign(KEY, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "filter must be a JSON object"),
        ({"ids": "abc"}, "filter 'ids' must be an array"),
        ({"ids": ["ab"]}, "filter 'ids' values must be 64 lowercase hex characters"),
        ({"authors": ["A" * 64]}, "filter 'authors' values must be 64 lowercase hex characters"),
        ({"authors": [1]}, "filter 'authors' must contain only strings"),
        ({"kinds": ["1"]}, "filter 'kinds' must be integers from 0 to 65535"),
        ({"kinds": [70000]}, "filter 'kinds' must be integers from 0 to 65535"),
        ({"kinds": [True]}, "filter 'kinds' must be integers from 0 to 65535"),
        ({"since": "yesterday"}, "filter 'since' must be an integer from 0 to 2^63-1"),
        ({"until": -1}, "filter 'until' must be an integer from 0 to 2^63-1"),
        ({"limit": 1.5}, "filter 'limit' must be an integer from 0 to 2^63-1"),
        ({"limit": True}, "filter 'limit' must be an integer from 0 to 2^63-1"),
        # issue 10 #1: these reached SQLite, which raised OverflowError, and got no reply.
        ({"since": 2**63}, "filter 'since' must be an integer from 0 to 2^63-1"),
        ({"until": 2**64 - 1}, "filter 'until' must be an integer from 0 to 2^63-1"),
        ({"limit": 2**63}, "filter 'limit' must be an integer from 0 to 2^63-1"),
        ({"search": 5}, "filter 'search' must be a string"),
        ({"#e": ["not-hex"]}, "filter '#e' values must be 64 lowercase hex characters"),
        ({"#p": ["B" * 64]}, "filter '#p' values must be 64 lowercase hex characters"),
        ({"#t": "mas-x"}, "filter '#t' must be an array"),
        ({"#tt": ["x"]}, "unknown filter field '#tt'"),
        ({"#é": ["x"]}, "unknown filter field '#é'"),
        ({"#1": ["x"]}, "unknown filter field '#1'"),
        ({"#": ["x"]}, "unknown filter field '#'"),
        ({"author": [HEX_A]}, "unknown filter field 'author'"),
    ],
)
def test_invalid_filters_have_specific_messages(data: object, message: str) -> None:
    with pytest.raises(FilterError) as info:
        Filter.from_dict(data)
    assert str(info.value) == message
    assert info.value.wire() == "invalid: " + message


def test_numbers_up_to_the_64_bit_bound_are_accepted() -> None:
    parsed = Filter.from_dict({"since": 0, "until": MAX_FILTER_INT, "limit": MAX_FILTER_INT})
    assert (parsed.since, parsed.until, parsed.limit) == (0, 2**63 - 1, 2**63 - 1)


@pytest.mark.parametrize("verb", ["REQ", "COUNT"])
@pytest.mark.parametrize("field", ["since", "until", "limit"])
def test_out_of_range_numbers_refuse_the_message_with_its_subscription(
    verb: str, field: str
) -> None:
    """issue 10 #1: the relay can answer CLOSED "invalid: ..." because the error keeps
    the subscription id; before, the value reached SQLite and nothing answered."""
    with pytest.raises(ParseError) as info:
        parse_client_message(f'["{verb}", "s1", {{"kinds": [1]}}, {{"{field}": {2**64 - 1}}}]')
    assert info.value.subscription_id == "s1"
    assert info.value.wire() == f"invalid: filter '{field}' must be an integer from 0 to 2^63-1"
    message = parse_client_message(f'["REQ", "s1", {{"{field}": {MAX_FILTER_INT}}}]')
    assert isinstance(message, ClientReq)


def test_round_trip_to_dict() -> None:
    data = {
        "ids": [HEX_A],
        "authors": [KEY.public_hex],
        "kinds": [1, 30402],
        "#t": ["mas-a", "mutualaid"],
        "#e": [HEX_A],
        "since": 5,
        "until": 10,
        "limit": 3,
        "search": "rent",
    }
    parsed = Filter.from_dict(data)
    assert parsed.to_dict() == {k: sorted(v) if isinstance(v, list) else v for k, v in data.items()}
    assert Filter.from_dict(parsed.to_dict()) == parsed


def test_matching_each_field() -> None:
    event = note(tags=[["t", "mas-bail"], ["e", HEX_A]])
    assert Filter().matches(event)
    assert Filter(ids=frozenset({event.id})).matches(event)
    assert not Filter(ids=frozenset({HEX_A})).matches(event)
    assert Filter(authors=frozenset({KEY.public_hex})).matches(event)
    assert not Filter(authors=frozenset({OTHER.public_hex})).matches(event)
    assert Filter(kinds=frozenset({1, 7})).matches(event)
    assert not Filter(kinds=frozenset({7})).matches(event)
    assert Filter(tags={"t": frozenset({"mas-bail", "x"})}).matches(event)
    assert not Filter(tags={"t": frozenset({"mas-rent"})}).matches(event)
    assert Filter(tags={"t": frozenset({"mas-bail"}), "e": frozenset({HEX_A})}).matches(event)
    assert not Filter(tags={"t": frozenset({"mas-bail"}), "p": frozenset({HEX_A})}).matches(event)


def test_since_and_until_are_inclusive() -> None:
    event = note(created_at=1000)
    assert Filter(since=1000, until=1000).matches(event)
    assert not Filter(since=1001).matches(event)
    assert not Filter(until=999).matches(event)


def test_limit_does_not_affect_matching_and_empty_lists_match_nothing() -> None:
    event = note()
    assert Filter(limit=0).matches(event)
    assert Filter(limit=0).is_empty_result()
    assert Filter(ids=frozenset()).is_empty_result()
    assert Filter(tags={"t": frozenset()}).is_empty_result()
    assert Filter(since=5, until=4).is_empty_result()
    assert not Filter(kinds=frozenset({1})).is_empty_result()
    assert not Filter(ids=frozenset()).matches(event)


def test_tag_match_uses_only_the_first_value() -> None:
    event = note(tags=[["t"], ["p", HEX_A, "wss://relay"], ["x", "a", "b"]])
    assert Filter(tags={"p": frozenset({HEX_A})}).matches(event)
    assert not Filter(tags={"x": frozenset({"b"})}).matches(event)
    assert not Filter(tags={"t": frozenset({""})}).matches(event)


def test_search_reads_words_of_content_title_and_summary() -> None:
    event = note(
        kind=30402,
        content="Bail fund for Sam, arrested Tuesday.",
        tags=[["d", "x"], ["title", "Help Sam"], ["summary", "Legal costs"]],
    )
    assert Filter(search="bail sam").matches(event)
    assert Filter(search="LEGAL").matches(event)
    assert Filter(search="help language:en").matches(event)
    assert not Filter(search="bail rent").matches(event)
    assert not Filter(search="arr").matches(event)
    assert search_terms("Bail-fund, now! nsfw:false") == ("bail", "fund", "now")


def test_search_never_matches_a_gift_wrap() -> None:
    """A wrap's content is ciphertext; the store keeps wraps out of its search index."""
    wrap = note(kind=1059, content="rent help", tags=[["p", OTHER.public_hex]])
    assert Filter(search="rent").matches(note(content="rent help"))
    assert not Filter(search="rent").matches(wrap)
    assert Filter(search="lang:en").matches(wrap)  # no words: no constraint at all


def test_matches_any_is_the_union() -> None:
    event = note(kind=7)
    assert matches_any([Filter(kinds=frozenset({1})), Filter(kinds=frozenset({7}))], event)
    assert not matches_any([Filter(kinds=frozenset({1}))], event)
    assert not matches_any([], event)


HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
VALUES = st.sampled_from(["mas-a", "mas-b", "mutualaid", "x"])
FIXED = [note(kind=k, created_at=t, tags=[["t", v]]) for k in (1, 7) for t in (5, 9) for v in "ab"]


@st.composite
def filters(draw: st.DrawFn) -> dict[str, object]:
    data: dict[str, object] = {}
    if draw(st.booleans()):
        data["kinds"] = draw(st.lists(st.sampled_from([0, 1, 7, 30402]), max_size=3))
    if draw(st.booleans()):
        data["#t"] = draw(st.lists(VALUES, max_size=3))
    if draw(st.booleans()):
        data["since"] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        data["until"] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        data["ids"] = draw(st.lists(HEX, max_size=2))
    return data


@settings(max_examples=300)
@given(filters())
def test_property_filter_json_round_trip_preserves_matching(data: dict[str, object]) -> None:
    parsed = Filter.from_dict(data)
    again = Filter.from_dict(parsed.to_dict())
    assert again == parsed
    for event in FIXED:
        assert again.matches(event) == parsed.matches(event)


@settings(max_examples=300)
@given(filters())
def test_property_matcher_agrees_with_a_literal_reading(data: dict[str, object]) -> None:
    """Each condition, checked independently of the implementation, must agree."""
    parsed = Filter.from_dict(data)
    for event in FIXED:
        expected = (
            ("kinds" not in data or event.kind in data["kinds"])  # type: ignore[operator]
            and ("#t" not in data or any(event.tags[0][1] == v for v in data["#t"]))  # type: ignore[attr-defined]
            and ("since" not in data or event.created_at >= data["since"])  # type: ignore[operator]
            and ("until" not in data or event.created_at <= data["until"])  # type: ignore[operator]
            and ("ids" not in data or event.id in data["ids"])  # type: ignore[operator]
        )
        assert parsed.matches(event) == expected
        if parsed.is_empty_result() and parsed.limit != 0:
            assert not parsed.matches(event)
