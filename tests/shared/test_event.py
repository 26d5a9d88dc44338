"""The NIP-01 event: signing, strict parsing, canonical ids, and agreement with rust-nostr.

``nostr_sdk`` (rust-nostr, serde_json) is the independent implementation: our ids must be
its ids, our signed events must verify there and its signed events must verify here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import nostr_sdk
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldmutual.shared import event, keys
from shieldmutual.shared.errors import EventError, InvalidError
from shieldmutual.shared.event import Event

# BIP-340 test vectors 15-18 use this key; any valid key would do.
SECRET_HEX = "0340" * 16
SECRET = keys.SecretKey.from_hex(SECRET_HEX)
PUBKEY = SECRET.public_hex
WHEN = 1_700_000_000

C0 = [chr(i) for i in range(0x20)]
# NIP-01 names seven escapes; every other C0 control is \u00XX (lowercase hex) in the
# canonical form that JSON.stringify, serde_json and orjson all write.
NIP01_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def canonical_escape(text: str) -> str:
    """Independent reference for the canonical JSON string body (not orjson)."""
    out = []
    for ch in text:
        if ch in NIP01_ESCAPES:
            out.append(NIP01_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def sample(**overrides: Any) -> Event:
    args: dict[str, Any] = {
        "kind": 1,
        "content": "hello",
        "tags": [["t", "aid"], ["p", PUBKEY, "wss://relay.example"]],
        "created_at": WHEN,
    }
    args.update(overrides)
    return event.sign(SECRET, **args)


def good_dict() -> dict[str, Any]:
    return sample().to_dict()


# --- sign / verify ---------------------------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    ev = sample()
    assert ev.pubkey == PUBKEY
    assert ev.created_at == WHEN
    assert ev.kind == 1
    assert ev.content == "hello"
    assert ev.tags == [["t", "aid"], ["p", PUBKEY, "wss://relay.example"]]
    assert ev.id == event.compute_id(ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content)
    assert ev.id == sha256(event.serialize(PUBKEY, WHEN, 1, ev.tags, "hello")).hexdigest()
    assert keys.verify(bytes.fromhex(ev.pubkey), bytes.fromhex(ev.id), bytes.fromhex(ev.sig))
    ev.verify()
    assert ev.id_matches() and ev.signature_valid() and ev.is_valid()
    again = Event.from_json(ev.to_json())
    assert again == ev
    again.verify()
    assert Event.from_dict(ev.to_dict()) == ev
    assert Event.from_json(ev.to_json().decode()) == ev


def test_serialize_is_the_nip01_array() -> None:
    tags = [["e", "a" * 64], ["t", "x"]]
    expected = f'[0,"{PUBKEY}",{WHEN},7,[["e","{"a" * 64}"],["t","x"]],"+"]'.encode()
    assert event.serialize(PUBKEY, WHEN, 7, tags, "+") == expected


def test_sign_defaults() -> None:
    ev = event.sign(SECRET, 1)
    assert ev.content == "" and ev.tags == []
    assert abs(ev.created_at - time.time()) < 60
    ev.verify()


def test_sign_accepts_tuples_and_generators_of_tags() -> None:
    ev = sample(tags=(("t", "a"), ("d", "x")))
    assert ev.tags == [["t", "a"], ["d", "x"]]
    ev2 = sample(tags=(tag for tag in [("t", "a"), ("d", "x")]))
    assert ev2.tags == ev.tags and ev2.id == ev.id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": -1}, "event kind must be an integer from 0 to 65535"),
        ({"kind": 65536}, "event kind must be an integer from 0 to 65535"),
        ({"kind": True}, "event kind must be an integer from 0 to 65535"),
        ({"kind": 1.0}, "event kind must be an integer from 0 to 65535"),
        ({"created_at": -1}, "event created_at must be a non-negative integer"),
        ({"created_at": True}, "event created_at must be a non-negative integer"),
        ({"created_at": 1.5}, "event created_at must be a non-negative integer"),
        ({"created_at": "1"}, "event created_at must be a non-negative integer"),
        ({"created_at": 2**63}, "event created_at must be a non-negative integer"),
        ({"content": None}, "event content must be a string"),
        ({"content": 5}, "event content must be a string"),
        ({"content": b"x"}, "event content must be a string"),
        ({"tags": [[]]}, "each event tag must be a non-empty array of strings"),
        ({"tags": [["t", 1]]}, "each event tag must be a non-empty array of strings"),
        ({"tags": ["t"]}, "each event tag must be a non-empty array of strings"),
        ({"tags": ["pubkey"]}, "each event tag must be a non-empty array of strings"),
        ({"tags": "tt"}, "event tags must be an array"),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) else None,
)
def test_sign_refuses_what_from_dict_would_refuse(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError) as info:
        sample(**overrides)
    assert str(info.value) == message
    assert info.value.wire() == f"invalid: {message}"


# --- from_dict / from_json: precise errors -------------------------------------------------------

HEX_ERRORS = {
    "id": "event id must be 64 lowercase hex characters",
    "pubkey": "event pubkey must be 64 lowercase hex characters",
    "sig": "event sig must be 128 lowercase hex characters",
}
CREATED_AT_ERROR = "event created_at must be a non-negative integer"
KIND_ERROR = "event kind must be an integer from 0 to 65535"
CONTENT_ERROR = "event content must be a string"
TAGS_ERROR = "event tags must be an array"
TAG_ERROR = "each event tag must be a non-empty array of strings"


def _hex_cases() -> list[Any]:
    cases = []
    for field, message in HEX_ERRORS.items():
        size = 128 if field == "sig" else 64
        bad = [
            ("uppercase", "A" * size),
            ("mixed-case", "a" * (size - 1) + "F"),
            ("one-short", "a" * (size - 1)),
            ("one-long", "a" * (size + 1)),
            ("empty", ""),
            ("non-hex", "g" * size),
            ("0x-prefix", "0x" + "a" * (size - 2)),
            ("trailing-newline", "a" * size + "\n"),
            ("inner-space", "a" * (size // 2) + " " + "a" * (size // 2 - 1)),
            ("int", 1),
            ("null", None),
            ("list", ["a" * size]),
            ("bool", True),
        ]
        for name, value in bad:
            cases.append(pytest.param(field, value, message, id=f"{field}-{name}"))
    return cases


FIELD_CASES = [
    *_hex_cases(),
    *(
        pytest.param("created_at", value, CREATED_AT_ERROR, id=f"created_at-{name}")
        for name, value in [
            ("true", True),
            ("false", False),
            ("negative", -1),
            ("float", 1.0),
            ("float-frac", 1.5),
            ("string", "1700000000"),
            ("null", None),
            ("2^63", 2**63),
            ("u64-max", 2**64 - 1),
            ("list", [1]),
        ]
    ),
    *(
        pytest.param("kind", value, KIND_ERROR, id=f"kind-{name}")
        for name, value in [
            ("65536", 65536),
            ("huge", 2**40),
            ("negative", -1),
            ("true", True),
            ("false", False),
            ("float", 1.0),
            ("string", "1"),
            ("null", None),
        ]
    ),
    *(
        pytest.param("content", value, CONTENT_ERROR, id=f"content-{name}")
        for name, value in [
            ("null", None),
            ("int", 1),
            ("list", ["x"]),
            ("object", {"a": "b"}),
            ("bool", False),
        ]
    ),
    *(
        pytest.param("tags", value, message, id=f"tags-{name}")
        for name, value, message in [
            ("null", None, TAGS_ERROR),
            ("object", {"t": ["x"]}, TAGS_ERROR),
            ("string", "t", TAGS_ERROR),
            ("int", 0, TAGS_ERROR),
            ("empty-tag", [[]], TAG_ERROR),
            ("string-tag", ["t"], TAG_ERROR),
            ("null-tag", [None], TAG_ERROR),
            ("object-tag", [{"t": "x"}], TAG_ERROR),
            ("int-value", [["t", 1]], TAG_ERROR),
            ("null-value", [["t", None]], TAG_ERROR),
            ("bool-value", [["t", True]], TAG_ERROR),
            ("nested-list", [[["t"]]], TAG_ERROR),
            ("int-name", [[1, "x"]], TAG_ERROR),
            ("bad-after-good", [["t", "x"], ["p"], ["e", 5]], TAG_ERROR),
            ("empty-after-good", [["t", "x"], []], TAG_ERROR),
        ]
    ),
]


def _assert_event_error(info: pytest.ExceptionInfo[EventError], message: str) -> None:
    error = info.value
    assert type(error) is EventError
    assert isinstance(error, InvalidError) and isinstance(error, ValueError)
    assert str(error) == message
    assert error.wire() == f"invalid: {message}"
    assert error.wire().startswith("invalid:")


def _assert_both_reject(data: dict[str, Any], message: str) -> None:
    """``from_dict`` and ``from_json`` refuse ``data`` with the same ``message``."""
    with pytest.raises(EventError) as info:
        Event.from_dict(data)
    _assert_event_error(info, message)
    with pytest.raises(EventError) as info:
        Event.from_json(orjson.dumps(data))
    _assert_event_error(info, message)


@pytest.mark.parametrize(("field", "value", "message"), FIELD_CASES)
def test_from_dict_and_from_json_reject_wrong_field(field: str, value: Any, message: str) -> None:
    data = good_dict()
    data[field] = value
    _assert_both_reject(data, message)


def test_tuple_tags_are_not_json_arrays() -> None:
    data = good_dict()
    data["tags"] = [("t", "x")]
    with pytest.raises(EventError) as info:
        Event.from_dict(data)
    _assert_event_error(info, TAG_ERROR)
    data["tags"] = (["t", "x"],)
    with pytest.raises(EventError) as info:
        Event.from_dict(data)
    _assert_event_error(info, TAGS_ERROR)


@pytest.mark.parametrize("field", ["id", "pubkey", "created_at", "kind", "tags", "content", "sig"])
def test_missing_field(field: str) -> None:
    data = good_dict()
    del data[field]
    message = f"event is missing field '{field}'"
    _assert_both_reject(data, message)


@pytest.mark.parametrize(
    "text", ["[]", "null", "1", '"event"', "true", '[{"id": "x"}]'], ids=lambda t: t
)
def test_json_that_is_not_an_object(text: str) -> None:
    with pytest.raises(EventError) as info:
        Event.from_json(text)
    _assert_event_error(info, "event must be a JSON object")


@pytest.mark.parametrize("value", [None, [], "x", 1, ("a",)], ids=repr)
def test_from_dict_of_non_dict(value: Any) -> None:
    with pytest.raises(EventError) as info:
        Event.from_dict(value)
    _assert_event_error(info, "event must be a JSON object")


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"   ",
        b"{",
        b"not json",
        b'{"id": }',
        b"{'id': 'x'}",
        b'{"kind": NaN}',
        b"\xff\xfe{}",
        b'{"content": "\xc3"}',
        "{}x",
        '{"a":1}{"b":2}',
    ],
    ids=repr,
)
def test_not_json(text: str | bytes) -> None:
    with pytest.raises(EventError) as info:
        Event.from_json(text)
    error = info.value
    assert type(error) is EventError
    assert str(error).startswith("event is not valid JSON: ")
    assert error.wire().startswith("invalid: event is not valid JSON: ")


def test_from_json_of_wrong_python_type() -> None:
    with pytest.raises(EventError) as info:
        Event.from_json(12)  # type: ignore[arg-type]
    assert str(info.value).startswith("event is not valid JSON")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", 0),
        ("created_at", 2**63 - 1),
        ("kind", 0),
        ("kind", 65535),
        ("tags", []),
        ("tags", [[""]]),
        ("tags", [["t"], ["a", "b", "c", "d", "e"]]),
        ("content", ""),
    ],
)
def test_boundary_values_parse_and_sign(field: str, value: Any) -> None:
    overrides = {field: value}
    ev = sample(**overrides)
    assert getattr(ev, field) == value
    parsed = Event.from_json(ev.to_json())
    assert parsed == ev
    parsed.verify()


def test_json_negative_zero_is_zero() -> None:
    ev = sample(created_at=0)
    text = ev.to_json().replace(b'"created_at":0', b'"created_at":-0')
    assert Event.from_json(text) == ev


def test_unknown_fields_are_ignored() -> None:
    data = good_dict()
    data["extra"] = {"anything": [1, 2]}
    ev = Event.from_json(orjson.dumps(data))
    ev.verify()
    assert "extra" not in ev.to_dict()


def test_id_is_recomputed_not_taken_from_the_text() -> None:
    ev = sample(content="café ☕", tags=[["t", "é"]])
    data = ev.to_dict()
    # Pretty-printed, reordered, and with \u escapes where raw text was signed.
    text = (
        "{\n"
        f'  "sig": "{ev.sig}",\n  "content": "caf\\u00e9 \\u2615",\n'
        f'  "tags": [ [ "t", "\\u00e9" ] ],\n  "kind": {ev.kind},\n'
        f'  "created_at": {ev.created_at},\n  "pubkey": "{ev.pubkey}",\n  "id": "{data["id"]}"\n'
        "}\n"
    )
    parsed = Event.from_json(text)
    assert parsed == ev
    parsed.verify()


# --- bad id / bad signature -------------------------------------------------------------------

ID_ERROR = "event id does not match its content"
SIG_ERROR = "event signature is not valid"
OTHER = keys.SecretKey.from_hex("11" * 32)


def _flip_hex(value: str, index: int = 0) -> str:
    return value[:index] + ("1" if value[index] != "1" else "2") + value[index + 1 :]


TAMPER: list[Any] = [
    pytest.param(lambda d: d.update(content=d["content"] + "!"), ID_ERROR, id="content"),
    pytest.param(lambda d: d.update(kind=d["kind"] + 1), ID_ERROR, id="kind"),
    pytest.param(lambda d: d.update(created_at=d["created_at"] + 1), ID_ERROR, id="created_at"),
    pytest.param(lambda d: d["tags"].append(["t", "x"]), ID_ERROR, id="tag-added"),
    pytest.param(lambda d: d["tags"].reverse(), ID_ERROR, id="tags-reordered"),
    pytest.param(lambda d: d.update(id=_flip_hex(d["id"])), ID_ERROR, id="id"),
    pytest.param(lambda d: d.update(pubkey=OTHER.public_hex), ID_ERROR, id="pubkey"),
    pytest.param(lambda d: d.update(sig=_flip_hex(d["sig"], 5)), SIG_ERROR, id="sig-r"),
    pytest.param(lambda d: d.update(sig=_flip_hex(d["sig"], 100)), SIG_ERROR, id="sig-s"),
    pytest.param(lambda d: d.update(sig="0" * 128), SIG_ERROR, id="sig-zero"),
    pytest.param(lambda d: d.update(sig="f" * 128), SIG_ERROR, id="sig-ff"),
    pytest.param(
        lambda d: d.update(sig=OTHER.sign(bytes.fromhex(d["id"])).hex()), SIG_ERROR, id="sig-other"
    ),
    pytest.param(
        lambda d: d.update(sig=SECRET.sign(bytes(32)).hex()), SIG_ERROR, id="sig-other-msg"
    ),
]


@pytest.mark.parametrize(("tamper", "message"), TAMPER)
def test_tampered_event_fails_verify(
    tamper: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = good_dict()
    tamper(data)
    ev = Event.from_json(orjson.dumps(data))  # shape is still fine
    with pytest.raises(EventError) as info:
        ev.verify()
    _assert_event_error(info, message)
    assert ev.is_valid() is False
    assert ev.id_matches() is (message != ID_ERROR)


def test_pubkey_not_on_curve_fails_signature_not_raises() -> None:
    # BIP-340 vector 5's public key is not on the curve; the id is honest for it.
    bad = "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34"
    data = good_dict()
    data["pubkey"] = bad
    data["id"] = event.compute_id(bad, data["created_at"], 1, data["tags"], data["content"])
    ev = Event.from_dict(data)
    assert ev.id_matches() is True
    assert ev.signature_valid() is False
    with pytest.raises(EventError) as info:
        ev.verify()
    _assert_event_error(info, SIG_ERROR)


def test_id_re_signed_by_someone_else_is_caught() -> None:
    # A consistent event by OTHER, with SECRET's pubkey swapped in: the id no longer matches.
    theirs = event.sign(OTHER, 1, "hello", created_at=WHEN).to_dict()
    theirs["pubkey"] = PUBKEY
    with pytest.raises(EventError, match=ID_ERROR):
        Event.from_dict(theirs).verify()


# --- surrogates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "escape",
    ["\\ud800", "\\udfff", "\\udc00\\ud800", "\\ud800a", "a\\ud83d", "\\ud800\\u0041"],
)
@pytest.mark.parametrize("where", ["content", "tag"])
def test_json_with_lone_surrogate_is_rejected(escape: str, where: str) -> None:
    text = sample(content="CONTENT", tags=[["t", "TAG"]]).to_json().decode()
    marker = '"CONTENT"' if where == "content" else '"TAG"'
    text = text.replace(marker, f'"{escape}"')
    assert escape in text
    with pytest.raises(EventError) as info:
        Event.from_json(text)
    assert str(info.value).startswith("event is not valid JSON")
    assert info.value.wire().startswith("invalid:")
    with pytest.raises(EventError):
        Event.from_json(text.encode())


def test_raw_utf8_encoded_surrogate_bytes_are_rejected() -> None:
    text = sample(content="CONTENT").to_json().replace(b"CONTENT", b"\xed\xa0\x80")
    with pytest.raises(EventError) as info:
        Event.from_json(text)
    assert str(info.value).startswith("event is not valid JSON")


def test_escaped_surrogate_pair_is_one_astral_character() -> None:
    ev = sample(content="😀")
    text = ev.to_json().replace("😀".encode(), b"\\ud83d\\ude00")
    parsed = Event.from_json(text)
    assert parsed.content == "😀"
    assert parsed == ev
    parsed.verify()


@pytest.mark.parametrize(
    "overrides",
    [
        {"content": "a\ud800"},
        {"content": "\udfff"},
        {"content": "\udc00\ud800"},
        {"tags": [["t", "\ud800"]]},
        {"tags": [["\udfff"]]},
    ],
    ids=repr,
)
def test_sign_rejects_lone_surrogates(overrides: dict[str, Any]) -> None:
    with pytest.raises(EventError) as info:
        sample(**overrides)
    assert "not valid UTF-8" in str(info.value)
    assert info.value.wire().startswith("invalid:")


def test_verify_of_python_built_event_with_surrogate_raises_event_error() -> None:
    data = good_dict()
    data["content"] = "\ud800"
    ev = Event.from_dict(data)  # from_dict checks shape only
    with pytest.raises(EventError, match="not valid UTF-8"):
        ev.verify()


# --- hostile contents, checked against the reference escape and rust-nostr --------------------

HOSTILE = [
    pytest.param('"', id="quote"),
    pytest.param("\\", id="backslash"),
    *(pytest.param(ch, id=f"C0-{ord(ch):02x}") for ch in C0),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x80\x9f", id="C1"),
    pytest.param("\u2028", id="LINE-SEPARATOR"),
    pytest.param("\u2029", id="PARAGRAPH-SEPARATOR"),
    pytest.param("😀", id="emoji"),
    pytest.param("\U0010ffff\ufffe\uffff\ufeff", id="noncharacters-and-BOM"),
    pytest.param("/</script>", id="slash"),
    pytest.param("", id="empty"),
    pytest.param(
        'a"b\\c\x00d\ne\x1ff\x7fg\u2028h😀i\\u0000j\\"k\r\n\t\b\f\x0b\x1b[31m',
        id="mixed",
    ),
    pytest.param("".join(C0) + '"\\\x7f\u2028😀', id="all-C0-and-friends"),
]


def _sdk_id(ev: Event) -> str:
    return nostr_sdk.EventId.compute(
        nostr_sdk.PublicKey.parse(ev.pubkey),
        nostr_sdk.Timestamp.from_secs(ev.created_at),
        nostr_sdk.Kind(ev.kind),
        [nostr_sdk.Tag.parse(tag) for tag in ev.tags],
        ev.content,
    ).to_hex()


def _check_against_sdk(ev: Event) -> None:
    """Our signed event: same id in rust-nostr, and it verifies there."""
    assert _sdk_id(ev) == ev.id
    theirs = nostr_sdk.Event.from_json(ev.to_json().decode())
    assert theirs.id().to_hex() == ev.id
    assert theirs.verify_id() is True
    assert theirs.verify_signature() is True
    assert theirs.verify() is True
    assert theirs.content() == ev.content


def _sdk_sign(kind: int, content: str, tags: list[list[str]], created_at: int) -> str:
    builder = (
        nostr_sdk.EventBuilder(nostr_sdk.Kind(kind), content)
        .tags([nostr_sdk.Tag.parse(tag) for tag in tags])
        .custom_created_at(nostr_sdk.Timestamp.from_secs(created_at))
    )
    return builder.finalize(nostr_sdk.Keys.parse(SECRET_HEX)).as_json()


def _check_sdk_signed(kind: int, content: str, tags: list[list[str]], created_at: int) -> None:
    """rust-nostr's signed event: parses and verifies here with the same id."""
    ours = Event.from_json(_sdk_sign(kind, content, tags, created_at))
    ours.verify()
    assert (ours.pubkey, ours.created_at, ours.kind) == (PUBKEY, created_at, kind)
    assert ours.content == content
    assert ours.tags == tags
    assert event.compute_id(ours.pubkey, ours.created_at, ours.kind, ours.tags, ours.content) == (
        ours.id
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_content(text: str) -> None:
    tags = [["t", text], [text], ["p", PUBKEY, text]]
    ev = sample(content=text, tags=tags)
    expected_serial = (
        f'[0,"{PUBKEY}",{WHEN},1,'
        f'[["t","{canonical_escape(text)}"],["{canonical_escape(text)}"],'
        f'["p","{PUBKEY}","{canonical_escape(text)}"]],"{canonical_escape(text)}"]'
    ).encode()
    assert event.serialize(PUBKEY, WHEN, 1, tags, text) == expected_serial
    assert ev.id == sha256(expected_serial).hexdigest()
    parsed = Event.from_json(ev.to_json())
    assert parsed == ev
    assert parsed.content == text and parsed.tags == tags
    parsed.verify()
    _check_against_sdk(ev)
    _check_sdk_signed(1, text, tags, WHEN)


def test_c0_escapes_are_lowercase_u00xx_except_the_named_seven() -> None:
    for ch in C0:
        body = event.serialize(PUBKEY, 0, 1, [], ch)[len(f'[0,"{PUBKEY}",0,1,[],"') : -2]
        if ch in NIP01_ESCAPES:
            assert body == NIP01_ESCAPES[ch].encode()
        else:
            assert body == f"\\u{ord(ch):04x}".encode()


# --- the literal NIP-01 reading ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ["\x01", "a\x00b", "\x1f", "".join(C0), "tab\tand\x0bvt", "\x1b[0m escape"],
    ids=repr,
)
def test_event_hashed_by_literal_reading_still_verifies(content: str) -> None:
    tags = [["t", content], ["x", "plain"]]
    args = (PUBKEY, WHEN, 1, tags, content)
    literal_id = sha256(event.serialize_literal(*args)).digest()
    assert literal_id.hex() != event.compute_id(*args)  # the two readings really differ
    literal = event.serialize_literal(*args)
    # Raw control bytes, with only NIP-01's seven escapes applied.
    for ch in content:
        if ch not in NIP01_ESCAPES and ord(ch) < 0x20:
            assert ch.encode() in literal
    ev = Event(literal_id.hex(), PUBKEY, WHEN, 1, tags, content, SECRET.sign(literal_id).hex())
    parsed = Event.from_json(ev.to_json())  # on the wire the controls are \u00XX-escaped
    assert parsed == ev
    assert parsed.id_matches() is True
    parsed.verify()
    # ...but the literal reading is only a fallback: a bad signature still fails.
    forged = Event.from_dict(dict(parsed.to_dict(), sig=OTHER.sign(literal_id).hex()))
    with pytest.raises(EventError, match=SIG_ERROR):
        forged.verify()
    changed = Event.from_dict(dict(parsed.to_dict(), content=content + "\x01"))
    with pytest.raises(EventError, match=ID_ERROR):
        changed.verify()


@pytest.mark.parametrize("content", ['"', "\\", "\n\r\t\b\f", "\x7f\u2028😀", "plain"], ids=repr)
def test_literal_and_canonical_readings_agree_without_other_controls(content: str) -> None:
    args = (PUBKEY, WHEN, 1, [["t", content]], content)
    assert event.serialize_literal(*args) == event.serialize(*args)


# --- property tests ---------------------------------------------------------------------------

SPECIALS = [*C0, '"', "\\", "\x7f", "\u2028", "\u2029", "😀", "\U0001f3f3", "\ufe0f", "\u200d"]
chars = st.one_of(
    st.sampled_from(SPECIALS),
    st.characters(exclude_categories=("Cs",)),
)
texts = st.text(chars, max_size=40)
tag_lists = st.lists(st.lists(texts, min_size=1, max_size=4), max_size=5)
kinds = st.integers(0, 65535)
timestamps = st.integers(0, 2**63 - 1)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_text_strategy_reaches_every_special_character() -> None:
    # The alphabet really can produce every control char, quote, backslash and emoji.
    assert set(C0) <= set(SPECIALS)
    assert {'"', "\\", "😀"} <= set(SPECIALS)


@PROPERTY
@given(content=texts, tags=tag_lists, kind=kinds, created_at=timestamps)
def test_property_json_round_trip(
    content: str, tags: list[list[str]], kind: int, created_at: int
) -> None:
    ev = event.sign(SECRET, kind, content, tags, created_at)
    parsed = Event.from_json(ev.to_json())
    assert parsed == ev
    parsed.verify()
    assert Event.from_json(ev.to_json().decode()) == ev


@PROPERTY
@given(content=texts, tags=tag_lists, kind=kinds, created_at=timestamps)
def test_property_ids_agree_with_rust_nostr(
    content: str, tags: list[list[str]], kind: int, created_at: int
) -> None:
    ev = event.sign(SECRET, kind, content, tags, created_at)
    _check_against_sdk(ev)


@PROPERTY
@given(content=texts, tags=tag_lists, kind=kinds, created_at=st.integers(0, 2**40))
def test_property_rust_nostr_signed_events_verify_here(
    content: str, tags: list[list[str]], kind: int, created_at: int
) -> None:
    _check_sdk_signed(kind, content, tags, created_at)


@PROPERTY
@given(content=texts, tags=tag_lists)
def test_property_literal_reading_differs_only_with_other_controls(
    content: str, tags: list[list[str]]
) -> None:
    args = (PUBKEY, WHEN, 1, tags, content)
    same = event.serialize_literal(*args) == event.serialize(*args)
    others = {chr(i) for i in range(0x20)} - set(NIP01_ESCAPES)
    has_other = any(
        ch in others for text in [content, *(v for t in tags for v in t)] for ch in text
    )
    assert same is not has_other


# --- tag helpers ------------------------------------------------------------------------------


def test_tag_helpers() -> None:
    ev = sample(tags=[["e", "1"], ["d"], ["e", "2", "relay"], ["d", "first"], ["d", "second"]])
    assert ev.tag_values("e") == ["1", "2"]
    assert ev.tag_values("d") == ["first", "second"]
    assert ev.tag_values("x") == []
    assert ev.first_tag("d") == "first"
    assert ev.first_tag("x") is None
    assert ev.d_tag == "first"
    assert sample(tags=[["d"]]).d_tag == ""
    assert sample(tags=[]).d_tag == ""
