"""NIP-19: the spec's examples, BIP-173 vectors, error messages, round trips, rust-nostr interop."""

from __future__ import annotations

import nostr_sdk
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldmutual.shared import bech32, nip19
from shieldmutual.shared.errors import EncodingError
from shieldmutual.shared.nip19 import AddressPointer, EventPointer, Profile

NPUB = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
NPUB_HEX = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
NSEC = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
NSEC_HEX = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
NPROFILE = (
    "nprofile1qqsrhuxx8l9ex335q7he0f09aej04zpazpl0ne2cgukyawd24mayt8gpp4mhxue69uhhytnc9e3k7mgpz4mhxue69"
    "uhkg6nzv9ejuumpv34kytnrdaksjlyr9p"
)
FIATJAF = "3bf0c63fcb93463407af97a5e5ee64fa883d107ef9e558472c4eb9aaaefa459d"
ID = "b9f5441e45ca39179320e0031cfb18e34078673dcc3d3e3a3b3a981760aa5696"

hex32 = st.binary(min_size=32, max_size=32).map(bytes.hex)
relay_lists = st.lists(
    st.text(min_size=1, max_size=60).filter(lambda s: len(s.encode()) <= 255), max_size=4
).map(tuple)


# --- the spec's examples ---------------------------------------------------------------


def test_spec_npub_example_both_ways():
    assert nip19.npub_decode(NPUB) == NPUB_HEX
    assert nip19.npub_encode(NPUB_HEX) == NPUB
    assert nip19.npub_encode(FIATJAF) == (
        "npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6"
    )


def test_spec_nsec_example_both_ways():
    assert nip19.nsec_decode(NSEC) == NSEC_HEX
    assert nip19.nsec_encode(bytes.fromhex(NSEC_HEX)) == NSEC


def test_spec_nprofile_example_both_ways():
    profile = nip19.nprofile_decode(NPROFILE)
    assert profile == Profile(FIATJAF, ("wss://r.x.com", "wss://djbas.sadkb.com"))
    assert nip19.nprofile_encode(profile.pubkey, profile.relays) == NPROFILE
    assert len(NPROFILE) > 90  # over BIP-173's cap, as NIP-19 allows


def test_generic_decode_names_the_prefix():
    assert nip19.decode(NPUB) == ("npub", NPUB_HEX)
    assert nip19.decode(NSEC) == ("nsec", NSEC_HEX)
    assert nip19.decode(nip19.note_encode(ID)) == ("note", ID)
    assert nip19.decode(NPROFILE)[0] == "nprofile"
    assert nip19.decode(nip19.nevent_encode(ID)) == ("nevent", EventPointer(ID))
    naddr = nip19.naddr_encode("post", FIATJAF, 30023)
    assert nip19.decode(naddr) == ("naddr", AddressPointer("post", FIATJAF, 30023))


@pytest.mark.parametrize(
    "text", [f"nostr:{NPUB}", f"NOSTR:{NPUB}", f"  nostr:{NPUB}\n", NPUB.upper()]
)
def test_uri_prefix_whitespace_and_upper_case_are_accepted(text):
    assert nip19.decode(text) == ("npub", NPUB_HEX)
    assert nip19.npub_decode(text) == NPUB_HEX


# --- BIP-173 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hrp", "data"),
    [
        ("A12UEL5L", "a", ""),
        ("a12uel5l", "a", ""),
        (
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio",
            "",
        ),
        (
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "abcdef",
            "00443214c74254b635cf84653a56d7c675be77df",
        ),
        (
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "split",
            "c5f38b70305f519bf66d85fb6cf03058f3dde463ecd7918f2dc743918f2d",
        ),
        ("?1ezyfcl", "?", ""),
    ],
)
def test_bip173_valid_vectors(text, hrp, data):
    assert bech32.decode(text) == (hrp, bytes.fromhex(data))
    assert bech32.encode(hrp, bytes.fromhex(data)) == text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "\x201nwldj5",
        "\x7f1axkwrx",
        "\x801eym55h",
        "pzry9x0s0muk",
        "1pzry9x0s0muk",
        "x1b4n0q5v",
        "li1dgmt3",
        "de1lg7wt\xff",
        "A1G7SGD8",
        "10a06t8",
        "1qzzfhee",
        "a12UEL5L",
        "A12uEL5L",
    ],
)
def test_bip173_invalid_vectors(text):
    with pytest.raises(EncodingError):
        bech32.decode(text)


def test_bip173_length_cap_is_lifted_as_nip19_says():
    text = (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio"
        "1569pvx"
    )
    hrp, data = bech32.decode(text)
    assert (len(text), hrp[:4], data) == (91, "an84", b"")


def test_length_limit_is_5000():
    long = bech32.encode("x", bytes(3000))
    assert len(long) <= bech32.MAX_LENGTH
    assert bech32.decode(long) == ("x", bytes(3000))
    with pytest.raises(EncodingError, match="over 5000"):
        bech32.encode("x", bytes(3200))
    with pytest.raises(EncodingError, match="longer than 5000"):
        bech32.decode("x1" + "q" * 5000)


# --- errors ------------------------------------------------------------------------------


def test_bad_checksum():
    broken = NPUB[:-1] + ("q" if NPUB[-1] != "q" else "p")
    with pytest.raises(EncodingError, match="checksum"):
        nip19.npub_decode(broken)
    with pytest.raises(EncodingError, match="checksum"):
        nip19.decode(NPROFILE[:20] + NPROFILE[21:])


def test_wrong_prefix_says_what_was_expected():
    with pytest.raises(EncodingError, match="expected npub, got nsec"):
        nip19.npub_decode(NSEC)
    with pytest.raises(EncodingError, match="expected nevent, got nprofile"):
        nip19.nevent_decode(NPROFILE)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_bare_entities_must_hold_32_bytes(size):
    text = bech32.encode("note", bytes(size))
    with pytest.raises(EncodingError, match=f"note data must be 32 bytes, got {size}"):
        nip19.note_decode(text)
    with pytest.raises(EncodingError, match="must be 32 bytes"):
        nip19.decode(text)


@pytest.mark.parametrize("value", ["abc", "zz" * 32, "00" * 31, b"\x00" * 33])
def test_encoders_reject_values_that_are_not_32_bytes(value):
    with pytest.raises(EncodingError):
        nip19.npub_encode(value)


def bech32_of_words(hrp: str, words: list[int]) -> str:
    """Any 5-bit words, padding included, under a valid checksum: BIP-173's reference
    algorithm written out here, so the decoder meets strings our encoder would not make."""
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + words + [0] * 6:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(generators):
            check ^= generator if (top >> i) & 1 else 0
    check ^= 1
    checksum = [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join("qpzry9x8gf2tvdw0s3jn54khce6mua7l"[w] for w in words + checksum)


def test_invalid_characters_and_padding():
    with pytest.raises(EncodingError, match="invalid character 'b'"):
        bech32.decode("npub1b" + NPUB[6:])
    # 32 bytes need 52 words, with 4 spare bits that must be zero.
    words = [0] * 52
    assert bech32_of_words("npub", words) == nip19.npub_encode(bytes(32))
    assert bech32.decode(bech32_of_words("npub", words)) == ("npub", bytes(32))
    with pytest.raises(EncodingError, match="padding"):
        bech32.decode(bech32_of_words("npub", [*words[:-1], 1]))
    with pytest.raises(EncodingError, match="padding"):
        bech32.decode(bech32_of_words("npub", [*words, 0, 0]))  # a whole spare word


def test_unknown_prefix():
    with pytest.raises(EncodingError, match="unsupported NIP-19 prefix 'nrelay'"):
        nip19.decode(bech32.encode("nrelay", b"\x00\x03abc"))


# --- TLV rules ---------------------------------------------------------------------------


def _raw(prefix: str, *items: tuple[int, bytes]) -> str:
    return bech32.encode(prefix, b"".join(bytes((t, len(v))) + v for t, v in items))


def test_unknown_tlv_types_are_ignored():
    text = _raw(
        "nprofile", (9, b"future"), (0, bytes.fromhex(FIATJAF)), (1, b"wss://a"), (200, b"")
    )
    assert nip19.nprofile_decode(text) == Profile(FIATJAF, ("wss://a",))
    # Types that nprofile does not define (author, kind) are ignored there too.
    text = _raw("nprofile", (0, bytes.fromhex(FIATJAF)), (2, b"short"), (3, b"x"))
    assert nip19.nprofile_decode(text) == Profile(FIATJAF)


def test_missing_required_tlv():
    with pytest.raises(EncodingError, match="nprofile is missing its pubkey"):
        nip19.nprofile_decode(_raw("nprofile", (1, b"wss://a")))
    with pytest.raises(EncodingError, match="nevent is missing its event id"):
        nip19.nevent_decode(_raw("nevent", (2, bytes.fromhex(FIATJAF))))
    pk, kind = (2, bytes.fromhex(FIATJAF)), (3, (30023).to_bytes(4, "big"))
    with pytest.raises(EncodingError, match="naddr is missing its identifier"):
        nip19.naddr_decode(_raw("naddr", pk, kind))
    with pytest.raises(EncodingError, match="naddr is missing its author"):
        nip19.naddr_decode(_raw("naddr", (0, b"d"), kind))
    with pytest.raises(EncodingError, match="naddr is missing its kind"):
        nip19.naddr_decode(_raw("naddr", (0, b"d"), pk))


def test_known_tlv_with_wrong_length_or_truncated():
    with pytest.raises(EncodingError, match="nevent author must be 32 bytes, got 31"):
        nip19.nevent_decode(_raw("nevent", (0, bytes.fromhex(ID)), (2, bytes(31))))
    with pytest.raises(EncodingError, match="nevent kind must be 4 bytes, got 2"):
        nip19.nevent_decode(_raw("nevent", (0, bytes.fromhex(ID)), (3, b"\x00\x01")))
    with pytest.raises(EncodingError, match="truncated"):
        nip19.nevent_decode(bech32.encode("nevent", b"\x00\x20" + bytes(31)))
    with pytest.raises(EncodingError, match="truncated"):
        nip19.nevent_decode(bech32.encode("nevent", b"\x00\x20" + bytes(32) + b"\x01"))
    with pytest.raises(EncodingError, match="not valid UTF-8"):
        nip19.nprofile_decode(_raw("nprofile", (0, bytes.fromhex(FIATJAF)), (1, b"\xff")))


def test_first_of_duplicate_single_valued_tlvs_wins():
    text = _raw("nevent", (0, bytes.fromhex(ID)), (0, bytes(32)), (3, b"\x00\x00\x00\x07"))
    assert nip19.nevent_decode(text) == EventPointer(ID, kind=7)


def test_encoder_limits():
    with pytest.raises(EncodingError, match="over 255"):
        nip19.nprofile_encode(FIATJAF, ["wss://" + "a" * 250])
    with pytest.raises(EncodingError, match="not one string"):
        nip19.nprofile_encode(FIATJAF, "wss://a")
    with pytest.raises(EncodingError, match="kind"):
        nip19.naddr_encode("d", FIATJAF, 2**32)
    with pytest.raises(EncodingError, match="kind"):
        nip19.nevent_encode(ID, kind=-1)
    with pytest.raises(EncodingError, match="identifier is not valid UTF-8"):
        nip19.naddr_encode("\ud800", FIATJAF, 30023)
    with pytest.raises(EncodingError, match="relay must be a string"):
        nip19.nprofile_encode(FIATJAF, [b"wss://a"])


def test_naddr_for_replaceable_event_has_empty_identifier():
    text = nip19.naddr_encode("", FIATJAF, 10002, ["wss://relay.example"])
    assert nip19.naddr_decode(text) == AddressPointer("", FIATJAF, 10002, ("wss://relay.example",))


# --- round trips ---------------------------------------------------------------------------


@given(st.sampled_from(["npub", "nsec", "note"]), hex32)
def test_bare_round_trip(prefix, value):
    encode = getattr(nip19, f"{prefix}_encode")
    decode = getattr(nip19, f"{prefix}_decode")
    text = encode(value)
    assert text.startswith(prefix + "1")
    assert decode(text) == value
    assert nip19.decode("nostr:" + text) == (prefix, value)


@given(hex32, relay_lists)
def test_nprofile_round_trip(pubkey, relays):
    assert nip19.nprofile_decode(nip19.nprofile_encode(pubkey, relays)) == Profile(pubkey, relays)


@given(hex32, relay_lists, st.none() | hex32, st.none() | st.integers(0, 2**32 - 1))
def test_nevent_round_trip(event_id, relays, author, kind):
    text = nip19.nevent_encode(event_id, relays, author, kind)
    assert nip19.nevent_decode(text) == EventPointer(event_id, relays, author, kind)


@given(
    st.text(max_size=80).filter(lambda s: len(s.encode()) <= 255),
    hex32,
    st.integers(0, 2**32 - 1),
    relay_lists,
)
def test_naddr_round_trip(identifier, pubkey, kind, relays):
    text = nip19.naddr_encode(identifier, pubkey, kind, relays)
    assert nip19.naddr_decode(text) == AddressPointer(identifier, pubkey, kind, relays)


@given(st.binary(max_size=300), st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1))
def test_bech32_round_trip(data, hrp):
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)


# --- interop with rust-nostr ---------------------------------------------------------------

RELAYS = ("wss://relay.example.com", "wss://nos.lol")


def test_interop_bare_entities():
    assert nostr_sdk.PublicKey.parse(nip19.npub_encode(FIATJAF)).to_hex() == FIATJAF
    assert nip19.npub_decode(nostr_sdk.PublicKey.parse(NPUB_HEX).to_bech32()) == NPUB_HEX
    assert nostr_sdk.SecretKey.parse(nip19.nsec_encode(NSEC_HEX)).to_hex() == NSEC_HEX
    assert nip19.nsec_decode(nostr_sdk.SecretKey.parse(NSEC_HEX).to_bech32()) == NSEC_HEX
    assert nostr_sdk.EventId.parse(nip19.note_encode(ID)).to_hex() == ID
    assert nip19.note_decode(nostr_sdk.EventId.parse(ID).to_bech32()) == ID


def test_interop_nprofile():
    theirs = nostr_sdk.Nip19Profile.from_bech32(nip19.nprofile_encode(FIATJAF, RELAYS))
    assert theirs.public_key().to_hex() == FIATJAF
    assert tuple(str(r) for r in theirs.relays()) == RELAYS
    made = nostr_sdk.Nip19Profile(
        nostr_sdk.PublicKey.parse(FIATJAF), [nostr_sdk.RelayUrl.parse(r) for r in RELAYS]
    )
    assert nip19.decode(made.to_nostr_uri()) == ("nprofile", Profile(FIATJAF, RELAYS))


def test_interop_nevent():
    theirs = nostr_sdk.Nip19Event.from_bech32(nip19.nevent_encode(ID, RELAYS, FIATJAF, 1))
    assert theirs.event_id().to_hex() == ID
    assert theirs.author().to_hex() == FIATJAF
    assert theirs.kind().as_u16() == 1
    assert tuple(str(r) for r in theirs.relays()) == RELAYS
    made = nostr_sdk.Nip19Event(
        nostr_sdk.EventId.parse(ID),
        nostr_sdk.PublicKey.parse(FIATJAF),
        nostr_sdk.Kind(1),
        [nostr_sdk.RelayUrl.parse(r) for r in RELAYS],
    )
    assert nip19.nevent_decode(made.to_bech32()) == EventPointer(ID, RELAYS, FIATJAF, 1)


def test_interop_naddr():
    theirs = nostr_sdk.Nip19Coordinate.from_bech32(
        nip19.naddr_encode("my-post", FIATJAF, 30023, RELAYS)
    )
    coordinate = theirs.coordinate()
    assert (coordinate.identifier(), coordinate.public_key().to_hex()) == ("my-post", FIATJAF)
    assert coordinate.kind().as_u16() == 30023
    assert tuple(str(r) for r in theirs.relays()) == RELAYS
    made = nostr_sdk.Nip19Coordinate(
        nostr_sdk.Coordinate(nostr_sdk.Kind(30023), nostr_sdk.PublicKey.parse(FIATJAF), "my-post"),
        [nostr_sdk.RelayUrl.parse(r) for r in RELAYS],
    )
    assert nip19.naddr_decode(made.to_bech32()) == AddressPointer("my-post", FIATJAF, 30023, RELAYS)


KEY = "ab" * 32
EVENT_ID = "cd" * 32


def test_keys_and_ids_from_any_form() -> None:
    assert nip19.pubkey_hex(KEY.upper()) == KEY
    assert nip19.pubkey_hex(nip19.npub_encode(KEY)) == KEY
    assert nip19.pubkey_hex("nostr:" + nip19.nprofile_encode(KEY, ["wss://r"])) == KEY
    assert nip19.event_id_hex(nip19.note_encode(EVENT_ID)) == EVENT_ID
    assert nip19.event_id_hex(nip19.nevent_encode(EVENT_ID, [], KEY, 1)) == EVENT_ID
    for bad in ["", "ab", nip19.note_encode(EVENT_ID)]:
        with pytest.raises(EncodingError):
            nip19.pubkey_hex(bad)
    with pytest.raises(EncodingError):
        nip19.event_id_hex(nip19.npub_encode(KEY))
