"""Payment details as standard URIs: ``lightning:`` and BIP-21 ``bitcoin:``, for links and QR.

A wallet opens these with one tap or one scan, so a request's ``payment`` tags become
URIs wherever people pay: ``mas request show`` (and ``--qr``), exports and ``--json``.

* ``lightning:`` takes a LUD-16 lightning address (``sam@pay.example``), a LUD-01 LNURL
  (``lnurl1...``), a BOLT11 invoice (``lnbc...``) or a BOLT12 offer (``lno1...``);
* ``bitcoin:`` (BIP-21) takes a segwit address (BIP-173 bech32 for version 0, BIP-350
  bech32m for later versions, checksums verified) or a legacy base58 address (its
  characters and shape are checked; the wallet checks its checksum);
* any other method (``other``, ``paypal``...) has no URI: it is words, shown as words.

The value must be the code alone: every character is checked against the code's own
alphabet, so nothing (``?``, ``&``, ``=``, ``#``, ``%``, spaces, a second scheme) can add
query parameters such as an ``amount=`` the person never asked for.

No amount, label or message is ever added. A request's amount is what the person needs
from everyone together, not what one helper should pay, so a pre-filled amount would be
invented; a label would put the request's words into every payer's wallet history.

Case: links use lowercase. In a QR code the bech32 codes (LNURL, invoices, offers,
segwit addresses) and their scheme are written in uppercase, as BIP-173 and LUD-01
recommend: uppercase letters and digits fit QR's alphanumeric mode, a smaller code that
scans more easily. Lightning addresses and base58 addresses keep their case (``@`` is not
alphanumeric, and base58 is case-sensitive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shieldmutual.shared import bech32
from shieldmutual.shared.errors import AidError, EncodingError

LIGHTNING, BITCOIN = "lightning", "bitcoin"
SCHEMES = (f"{LIGHTNING}:", f"{BITCOIN}:")

# LUD-16: the name is a-z0-9-_. (and + for tags); the domain is a host name.
_ADDRESS = re.compile(
    r"[a-z0-9._+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,63}\Z"
).match
# BOLT11: ln + network (bc, tb, tbs, bcrt) + an optional amount with its multiplier.
_BOLT11_HRP = re.compile(r"ln(?:bc|tb|tbs|bcrt)(?:[0-9]+[munp]?)?\Z").match
# BOLT12 offers are bech32 characters without a checksum (and '+' splits we refuse).
_BOLT12 = re.compile(r"lno1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{8,4000}\Z").match
_SEGWIT_HRPS = ("bc", "tb", "bcrt")
_BASE58 = re.compile(r"[123mn][1-9A-HJ-NP-Za-km-z]{25,34}\Z").match


@dataclass(frozen=True, slots=True)
class PaymentUri:
    """One way to pay as a URI: ``uri`` for links, ``qr_text`` for the QR code."""

    uri: str
    qr_text: str


def _one_case(value: str, what: str) -> str:
    """bech32 codes are all-lowercase or all-uppercase, never mixed (BIP-173)."""
    if value != value.lower() and value != value.upper():
        raise AidError(f"{what} mixes upper and lower case: {value!r}")
    return value.lower()


def _bech32(value: str, what: str) -> tuple[str, list[int]]:
    try:
        return bech32.words(value)
    except EncodingError as exc:
        raise AidError(f"{what} is not valid ({exc}): {value!r}") from None


def _upper(scheme: str, code: str) -> PaymentUri:
    return PaymentUri(f"{scheme}:{code}", f"{scheme}:{code}".upper())


def lightning_uri(value: str) -> PaymentUri:
    """``lightning:`` for a lightning address, LNURL, BOLT11 invoice or BOLT12 offer."""
    what = "lightning payment"
    kinds = "a lightning address (name@domain), LNURL, BOLT11 invoice or BOLT12 offer"
    if not isinstance(value, str) or not value or len(value) > 4000:
        raise AidError(f"{what} must be {kinds}")
    low = value.lower()
    if "@" in value:
        if not _ADDRESS(low):
            raise AidError(f"{what} is not a lightning address (name@domain): {value!r}")
        return PaymentUri(f"{LIGHTNING}:{low}", f"{LIGHTNING}:{low}")
    if not low.startswith("ln"):
        raise AidError(f"{what} must be {kinds}, got {value!r}")
    code = _one_case(value, what)
    if code.startswith("lno1"):
        if not _BOLT12(code):
            raise AidError(f"{what} is not a BOLT12 offer: {value!r}")
        return _upper(LIGHTNING, code)
    hrp, _ = _bech32(code, what)
    if hrp != "lnurl" and not _BOLT11_HRP(hrp):
        raise AidError(f"{what} must be {kinds}, got {value!r}")
    return _upper(LIGHTNING, code)


def bitcoin_uri(address: str) -> PaymentUri:
    """BIP-21 ``bitcoin:<address>`` for a segwit or legacy address; nothing else added."""
    what = "bitcoin address"
    if not isinstance(address, str) or not address:
        raise AidError(f"{what} must be text")
    if _BASE58(address):
        return PaymentUri(f"{BITCOIN}:{address}", f"{BITCOIN}:{address}")
    code = _one_case(address, what)
    hrp, words = _segwit(code, what)
    program = (len(words) - 1) * 5 // 8
    if hrp not in _SEGWIT_HRPS:
        raise AidError(f"{what} must be a segwit (bc1...) or legacy (1..., 3...) address")
    if words[0] > 16 or not 2 <= program <= 40:
        raise AidError(f"{what} has no valid witness program: {address!r}")
    if words[0] == 0 and program not in (20, 32):
        raise AidError(f"{what} (segwit v0) must hold 20 or 32 bytes: {address!r}")
    return _upper(BITCOIN, code)


def _segwit(code: str, what: str) -> tuple[str, list[int]]:
    """(hrp, words): version 0 must carry a bech32 checksum, later versions bech32m."""
    problem = "not bech32"
    for bech32m in (False, True):
        try:
            hrp, words = bech32.words(code, bech32m=bech32m)
        except EncodingError as exc:
            problem = str(exc)
            continue
        if words and (words[0] == 0) != bech32m:
            return hrp, words
        problem = "the checksum does not match the witness version"
    raise AidError(f"{what} is not valid ({problem}): {code!r}")


def payment_uri(method: str, value: str) -> PaymentUri | None:
    """The URI of a ``payment`` tag, or None: other methods, and on-chain values that
    are not bitcoin addresses (another chain, words), are shown as text only."""
    if method == LIGHTNING:
        return lightning_uri(value)
    if method == "onchain":
        try:
            return bitcoin_uri(value)
        except AidError:
            return None
    return None
