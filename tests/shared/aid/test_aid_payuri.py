"""Payment URIs (shared/aid/payuri.py): standard ``lightning:`` / ``bitcoin:`` URIs, the
case rules for QR codes, and no way for a payment value to smuggle URI parameters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shieldmutual.shared import bech32
from shieldmutual.shared.aid.draft import example_request
from shieldmutual.shared.aid.export import render_html
from shieldmutual.shared.aid.helping import Payment, how_to_help
from shieldmutual.shared.aid.markdown import render_markdown
from shieldmutual.shared.aid.payuri import bitcoin_uri, lightning_uri, payment_uri
from shieldmutual.shared.errors import AidError

# BIP-173 / BIP-350 test vectors and well-known legacy addresses.
P2WPKH = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
P2WSH_TESTNET = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
P2PKH = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
LNURL = bech32.encode("lnurl", b"https://pay.example/lnurlp/sam")
INVOICE = bech32.encode("lnbc2500u", bytes(range(90)))
OFFER = "lno1qcp4256ypqpq86q2pucnq42ngssx2an9wfujqerp0y2pqun4wd68jtn00fkxzcnn9ehhyec6qgqsz"


def test_lightning_address_is_a_lowercase_lightning_uri() -> None:
    found = lightning_uri("Sam@Pay.Example")
    assert found.uri == found.qr_text == "lightning:sam@pay.example"


@pytest.mark.parametrize("code", [LNURL, INVOICE, OFFER])
def test_bech32_lightning_codes_link_lowercase_and_scan_uppercase(code: str) -> None:
    for given in (code, code.upper()):
        found = lightning_uri(given)
        assert found.uri == f"lightning:{code.lower()}"
        # BIP-173 / LUD-01: uppercase fits QR's alphanumeric mode (a smaller code).
        assert found.qr_text == f"LIGHTNING:{code.upper()}"


@pytest.mark.parametrize(
    ("address", "uri", "qr"),
    [
        (P2WPKH, f"bitcoin:{P2WPKH.lower()}", f"BITCOIN:{P2WPKH}"),
        (P2WSH_TESTNET, f"bitcoin:{P2WSH_TESTNET}", f"BITCOIN:{P2WSH_TESTNET.upper()}"),
        (TAPROOT, f"bitcoin:{TAPROOT}", f"BITCOIN:{TAPROOT.upper()}"),
        # base58 is case-sensitive: never uppercased.
        (P2PKH, f"bitcoin:{P2PKH}", f"bitcoin:{P2PKH}"),
        (P2SH, f"bitcoin:{P2SH}", f"bitcoin:{P2SH}"),
    ],
)
def test_bitcoin_addresses_are_bare_bip21_uris(address: str, uri: str, qr: str) -> None:
    found = bitcoin_uri(address)
    assert (found.uri, found.qr_text) == (uri, qr)
    assert "?" not in found.uri  # no amount, label or message is ever added


SMUGGLED_LIGHTNING = [
    "sam@pay.example?amount=100000",
    "sam@pay.example&amount=1",
    "sam@pay.example#x",
    "sam@pay.example%3Famount%3D1",
    "sam @pay.example",
    "sam@pay.example bitcoin:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    "lightning:sam@pay.example",
    "sam@evil.example@pay.example",
    f"{LNURL}?amount=1",
    f"{INVOICE}&x=1",
    f"{OFFER}+ lno1qqqq",
    f"{INVOICE[:-1]}{'q' if INVOICE[-1] != 'q' else 'p'}",  # a typo: the checksum fails
    "LnUrL1dp68gurn8ghj7",  # mixed case is not bech32
    "not an address",
]


@pytest.mark.parametrize("value", SMUGGLED_LIGHTNING)
def test_lightning_values_that_could_smuggle_parameters_are_refused(value: str) -> None:
    with pytest.raises(AidError, match="lightning payment"):
        lightning_uri(value)
    with pytest.raises(AidError, match="lightning payment"):
        Payment("lightning", value)  # refused when the request is written, too


SMUGGLED_BITCOIN = [
    f"{P2PKH}?amount=21",
    f"{TAPROOT}&amount=21",
    f"{P2WPKH.lower()[:-1]}5",  # BIP-173's own invalid-checksum example
    # BIP-350's invalid vectors: version 1 under a bech32 checksum, 0 under bech32m
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    bech32.encode("bc", bytes(1)),  # version 0 with no program
    "bc1qsamexampleaddressxxxxxxxxxxxxxxxxxxxx",
    "0x52908400098527886E0F7030069857D2E4169EE7",
    P2PKH + " ",
]


@pytest.mark.parametrize("value", SMUGGLED_BITCOIN)
def test_bitcoin_values_that_are_not_addresses_have_no_uri(value: str) -> None:
    with pytest.raises(AidError, match="bitcoin address"):
        bitcoin_uri(value)
    assert payment_uri("onchain", value) is None  # kept as words, never a link


def test_other_methods_have_no_uri() -> None:
    assert payment_uri("other", "Cash at the Friday food share") is None
    assert payment_uri("paypal", "sam@pay.example") is None
    assert Payment("paypal", "sam@pay.example").uri() is None


def test_how_to_help_links_each_payment_to_its_uri() -> None:
    text = how_to_help(
        (
            Payment("lightning", "sam@pay.example"),
            Payment("onchain", TAPROOT),
            Payment("onchain", "bc1qsamexampleaddressxxxxxxxxxxxxxxxxxxxx"),
            Payment("other", "Cash at the Friday food share"),
        ),
        (),
    )
    assert "- Lightning: [sam@pay.example](lightning:sam@pay.example)" in text
    assert f"- On-chain: [{TAPROOT}](bitcoin:{TAPROOT})" in text
    assert "- On-chain: bc1qsamexampleaddressxxxxxxxxxxxxxxxxxxxx\n" in text
    assert "- Other: Cash at the Friday food share" in text


def test_exports_link_only_the_requests_own_payment_uris() -> None:
    """A story's lightning: link to another wallet is dropped like javascript:; the
    request's own URIs (from its tags) are links in Markdown and HTML, with a QR code."""
    request = replace(
        example_request(1767225600),
        story="Pay [here](lightning:thief@evil.example) or [me](lightning:sam@pay.example).",
    )
    markdown = render_markdown(request)
    assert "thief" not in markdown and "Pay here or me (<lightning:sam@pay.example>)." in markdown
    page = render_html(request)
    assert 'href="lightning:thief' not in page
    assert page.count('href="lightning:sam@pay.example"') == 3  # story, How to help, QR
    assert page.count("<svg") == 1
