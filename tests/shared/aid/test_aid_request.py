"""Aid requests: event and Markdown-template round trips, NIP-99 tags, and validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldmutual.shared.aid.common import GEOHASH_ALPHABET, coarse_geohash
from shieldmutual.shared.aid.helping import CallFlood, OtherAction, Payment, SignWave
from shieldmutual.shared.aid.markdown import parse_template, render_template
from shieldmutual.shared.aid.request import (
    AidRequest,
    Status,
    new_identifier,
    parse_request,
    request_event_template,
)
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("11" * 32))
NOW = 1_700_000_000

# One-line text as people type it: any character except controls and line breaks.
_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
line = st.text(_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool)
bar_free = line.filter(lambda s: "|" not in s)
slug = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hashtag = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda t: t != "mutualaid")
HEADINGS = {"## Story", "## Details", "## How to help", "## Progress"}
story = (
    st.lists(st.one_of(line, st.just(""), st.just("## Background")), min_size=1, max_size=6)
    .map(lambda lines: "\n".join(lines).strip())
    .filter(lambda s: s and not any(x.rstrip() in HEADINGS for x in s.split("\n")))
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5.5))])
moment = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=zones)
payment = st.one_of(
    st.builds(
        Payment, st.just("lightning"), st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.org", fullmatch=True)
    ),
    st.builds(Payment, st.just("onchain"), st.from_regex(r"bc1[a-z0-9]{20,40}", fullmatch=True)),
    st.builds(Payment, st.just("other"), line),
    st.builds(Payment, st.just("paypal"), line),
)
action = st.one_of(
    st.builds(
        CallFlood, st.from_regex(r"\+?[0-9]{3,12}", fullmatch=True), bar_free, line | st.just("")
    ),
    st.builds(SignWave, line, moment),
    st.builds(OtherAction, st.just("march"), st.lists(bar_free, max_size=2).map(tuple)),
)
stamp = st.integers(0, 4_000_000_000)
money = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(
        st.decimals(Decimal("0.01"), Decimal("1e9"), places=2),
        st.sampled_from(["USD", "EUR", "btc", "sats"]),
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> AidRequest:
    amount, currency = draw(money)
    return AidRequest(
        title=draw(line),
        summary=draw(line),
        story=draw(story),
        location=draw(line),
        details=draw(story | st.just("")),
        amount=amount,
        currency=currency,
        deadline=draw(st.none() | stamp),
        language=draw(st.none() | st.sampled_from(["en", "es", "uk"])),
        geohash=draw(st.none() | st.text(GEOHASH_ALPHABET, min_size=1, max_size=5)),
        status=draw(st.sampled_from(Status)),
        societies=tuple(draw(st.lists(slug, unique=True, max_size=3))),
        hashtags=tuple(draw(st.lists(hashtag, unique=True, max_size=3))),
        payments=tuple(draw(st.lists(payment, max_size=3))),
        actions=tuple(draw(st.lists(action, max_size=3))),
        images=tuple(draw(st.lists(st.just("https://example.org/a.png"), max_size=1))),
        identifier=draw(st.from_regex(r"[a-z0-9]{1,16}", fullmatch=True)),
        published_at=draw(stamp),
        expiration=draw(st.none() | stamp),
        beneficiary=draw(st.none() | st.just("ab" * 32)),
    )


def sample() -> AidRequest:
    return AidRequest(
        title="Bail for Sam",
        summary="Sam was arrested at the vigil; bail is 500 USD.",
        story="Sam was arrested on Friday.\n\n### Who is Sam\n\nA neighbour and a nurse.",
        location="Leeds, UK",
        details="Court hearing on Monday at 10:00.",
        amount=Decimal("500"),
        currency="USD",
        deadline=1_700_600_000,
        language="en",
        geohash="gcwcv",
        societies=("leeds-care", "north"),
        hashtags=("bail",),
        payments=(Payment("lightning", "sam@example.org"), Payment("other", "Cash on Friday")),
        actions=(
            CallFlood("+44 113 000 0000", "Leeds Magistrates", "Please release Sam | today"),
            SignWave(
                "Leeds Town Hall", datetime(2025, 5, 30, 17, tzinfo=timezone(timedelta(hours=1)))
            ),
        ),
        identifier="sam-bail",
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(requests())
def test_event_round_trip(request: AidRequest) -> None:
    event = sign(KEY, *request_event_template(request), created_at=NOW)
    parsed = parse_request(event)
    assert parsed.origin is not None and parsed.origin.id == event.id
    assert replace(parsed, origin=None) == request


@SETTINGS
@given(requests())
def test_template_round_trip(request: AidRequest) -> None:
    assert parse_template(render_template(request)) == request
    assert parse_template(render_template(request, hints=True)) == request


def test_first_publication_gets_published_at_now() -> None:
    request = replace(sample(), published_at=None)
    template = request_event_template(request, now=NOW)
    assert ["published_at", str(NOW)] in template.tags
    # An edit keeps the first publication time.
    edited = replace(request, published_at=NOW - 5, status=Status.FUNDED)
    assert ["published_at", str(NOW - 5)] in request_event_template(edited, now=NOW).tags


def test_nip99_tags_present() -> None:
    tags = request_event_template(sample(), now=NOW).tags
    names = [t[0] for t in tags]
    for required in ("d", "title", "summary", "published_at", "location", "price", "status"):
        assert required in names, required
    assert ["price", "500", "USD"] in tags
    assert ["status", "active"] in tags
    assert ["l", "open", "mas.status"] in tags and ["L", "mas.status"] in tags
    assert ["l", "en", "ISO-639-1"] in tags and ["L", "ISO-639-1"] in tags
    assert ["t", "mas-leeds-care"] in tags and ["t", "mas-north"] in tags
    assert ["t", "mutualaid"] in tags and ["t", "bail"] in tags
    assert ["payment", "lightning", "sam@example.org"] in tags
    assert [
        "action",
        "call",
        "+44 113 000 0000",
        "Leeds Magistrates",
        "Please release Sam | today",
    ] in tags
    assert ["action", "signwave", "Leeds Town Hall", "2025-05-30T17:00:00+01:00"] in tags
    # No amount: no price tag rather than a misleading "0".
    bare = replace(sample(), amount=None, currency=None)
    assert "price" not in [t[0] for t in request_event_template(bare, now=NOW).tags]


def test_status_maps_to_nip99_vocabulary() -> None:
    for status, nip99 in (
        (Status.OPEN, "active"),
        (Status.FUNDED, "sold"),
        (Status.CLOSED, "sold"),
    ):
        tags = request_event_template(replace(sample(), status=status), now=NOW).tags
        assert ["status", nip99] in tags


def test_geohash_is_capped_and_every_prefix_is_tagged() -> None:
    tags = request_event_template(sample(), now=NOW).tags
    assert [t[1] for t in tags if t[0] == "g"] == ["gcwcv", "gcwc", "gcw", "gc", "g"]
    with pytest.raises(AidError, match="too precise"):
        replace(sample(), geohash="gcwcvf7")
    with pytest.raises(AidError, match="alphabet"):
        replace(sample(), geohash="gcwai")  # 'a' and 'i' are not geohash characters
    assert coarse_geohash(" GCWCVF7Z ") == "gcwcv"
    assert coarse_geohash("gcwcvf7z", 3) == "gcw"
    event = sign(KEY, *request_event_template(replace(sample(), geohash=None), now=NOW))
    precise = replace(event, tags=[*event.tags, ["g", "gcwcvf7"]])
    with pytest.raises(AidError, match="too precise"):
        parse_request(precise)


def test_content_has_fixed_sections() -> None:
    content = request_event_template(sample(), now=NOW).content
    assert content.index("## Story") < content.index("## Details") < content.index("## How to help")
    assert "- Lightning: [sam@example.org](lightning:sam@example.org)" in content
    assert "Sign wave at Leeds Town Hall, 2025-05-30 17:00 UTC+01:00" in content
    assert "How to help" in content and "money never pools" in content


def test_how_to_help_text_is_never_read_back() -> None:
    """Payment details come from tags only, so an edited text cannot redirect money."""
    event = sign(KEY, *request_event_template(sample(), now=NOW))
    forged = event.content.replace("sam@example.org", "thief@example.org")
    parsed = parse_request(replace(event, content=forged))
    assert parsed.payments[0].value == "sam@example.org"


def test_foreign_content_without_headings_becomes_the_story() -> None:
    event = sign(KEY, *request_event_template(sample(), now=NOW))
    parsed = parse_request(replace(event, content="Plain text\r\nfrom another app"))
    assert parsed.story == "Plain text\nfrom another app" and parsed.details == ""


def test_new_identifier_is_random_hex() -> None:
    first, second = new_identifier(), new_identifier()
    assert first != second and len(first) == 16 and int(first, 16) >= 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "title must not be empty"),
        ({"title": "two\nlines"}, "one line"),
        ({"summary": " padded"}, "spaces"),
        ({"story": "## Story\nagain"}, "fixed heading"),
        ({"details": "x\n## How to help\ny"}, "fixed heading"),
        ({"amount": Decimal("5"), "currency": None}, "go together"),
        ({"amount": Decimal("-5")}, "positive"),
        ({"amount": Decimal("NaN")}, "positive"),
        ({"currency": "US"}, "currency"),
        ({"language": "eng"}, "ISO-639-1"),
        ({"societies": ("Leeds",)}, "slug"),
        ({"societies": ("a", "a")}, "repeat"),
        ({"hashtags": ("mas-x",)}, "hashtag"),
        ({"hashtags": ("mutualaid",)}, "automatically"),
        ({"images": ("ftp://x",)}, "http"),
        ({"beneficiary": "AB" * 32}, "hex"),
        ({"status": "open"}, "status"),
        ({"deadline": -1}, "deadline"),
    ],
)
def test_invalid_requests_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(AidError, match=message):
        replace(sample(), **change)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Payment("lightning", "not an address"), "lightning address"),
        (lambda: Payment("onchain", "bc1 short"), "bitcoin address"),
        (lambda: Payment("Bank Transfer", "x"), "lowercase word"),
        (lambda: CallFlood("call me", "x"), "phone number"),
        (lambda: CallFlood("+1 555", "a|b"), "'|'"),
        (lambda: SignWave("Town hall", datetime(2025, 5, 30, 17)), "offset"),
    ],
)
def test_invalid_ways_to_help_are_refused(make: object, message: str) -> None:
    with pytest.raises(AidError, match=message):
        make()  # type: ignore[operator]


def _event_with(tags_change: object) -> object:
    event = sign(KEY, *request_event_template(sample(), now=NOW))
    return replace(event, tags=tags_change(event.tags))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("tags_change", "message"),
    [
        (lambda t: [x for x in t if x != ["t", "mutualaid"]], "not an aid request"),
        (lambda t: [x for x in t if x[0] != "title"], "'title' is missing"),
        (lambda t: [x for x in t if x[0] != "location"], "'location' is missing"),
        (lambda t: [x for x in t if x[0] != "published_at"], "'published_at' is missing"),
        (lambda t: [*t, ["d", "other"]], "'d' is repeated"),
        (
            lambda t: [["price", "1e3", "USD"] if x[0] == "price" else x for x in t],
            "plain positive",
        ),
        (lambda t: [["price", "5"] if x[0] == "price" else x for x in t], "price must be"),
        (
            lambda t: [
                ["l", "lost", "mas.status"] if x[1:] == ["open", "mas.status"] else x for x in t
            ],
            "status",
        ),
        (lambda t: [x for x in t if x[0] not in ("L", "l", "status")], "no status"),
        (lambda t: [*t, ["g", "u"]], "prefixes"),
        (lambda t: [*t, ["payment", "lightning"]], "payment must be"),
        (lambda t: [*t, ["action", "signwave", "here", "tomorrow"]], "ISO 8601"),
        (
            lambda t: [
                *t,
                ["p", "ab" * 32, "", "beneficiary"],
                ["p", "cd" * 32, "", "beneficiary"],
            ],
            "more than one",
        ),
    ],
)
def test_invalid_request_events_are_refused(tags_change: object, message: str) -> None:
    with pytest.raises(AidError, match=message):
        parse_request(_event_with(tags_change))  # type: ignore[arg-type]


def test_aid_error_is_an_invalid_error_with_the_wire_prefix() -> None:
    with pytest.raises(InvalidError) as caught:
        parse_request(sign(KEY, 30402, "", [["d", "x"]]))
    assert caught.value.wire().startswith("invalid: ")


def test_nip99_status_fallback_and_unknown_actions_kept() -> None:
    event = _event_with(
        lambda t: [x for x in t if x[0] not in ("L", "l")] + [["action", "march", "Square"]]
    )
    parsed = parse_request(event)  # type: ignore[arg-type]
    assert parsed.status is Status.OPEN and parsed.language is None
    assert parsed.actions[-1] == OtherAction("march", ("Square",))
