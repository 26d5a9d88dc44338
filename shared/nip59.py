"""NIP-59 gift wraps: a rumor (unsigned event) sealed (kind 13) and wrapped (kind 1059).

Why three layers: the *rumor* carries the message but no signature, so a leaked rumor
proves nothing about its author (deniability). The *seal* is signed by the real author
and encrypted to the recipient, so only the recipient learns who wrote it. The *wrap*
is signed by a one-time key and names only the recipient, so relays and onlookers see
"someone sent something to R" and nothing else. Seal and wrap timestamps are moved up
to two days into the past at random, so the time of sending does not leak either.

Every wrap is one of a few fixed sizes: the seal's JSON is padded with trailing JSON
whitespace up to a size bucket before it is encrypted into the wrap, so a relay cannot
tell a check-in from a hand-over, a DM or a private pledge by its length. NIP-44 pads
too, but only to powers of two and their eighths, which still separates small kinds.
Whitespace after a JSON value is part of JSON (RFC 8259), so every client that parses
the seal reads it unchanged; the rumor, its id and the seal's signature are untouched.

Unwrapping checks every layer: the wrap's and seal's signatures, the kinds, and that
the rumor's ``pubkey`` equals the seal's signer (otherwise anyone could seal a rumor
that claims another author). Pure: no I/O; randomness comes from :mod:`secrets`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from shieldmutual.shared import kinds, nip44
from shieldmutual.shared.errors import CryptoError, EventError
from shieldmutual.shared.event import Event, Rumor, check_tags, compute_id, sign
from shieldmutual.shared.keys import SecretKey

# NIP-59: "created_at SHOULD be tweaked ... up to two days in the past".
MAX_TWEAK = 2 * 24 * 60 * 60
# Seal JSON sizes in bytes. Each is a fixed point of NIP-44's padding, so a seal padded
# to it gives exactly one wrap length: about 11 KB, 28 KB and 55 KB of wrap JSON, the
# last still under the common 64 KiB event limit. The smallest holds every check-in, DM,
# pledge and a hand-over with a request file of a few KB, so these all look alike.
SEAL_BUCKETS = (8192, 20480, 40960)


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """What a recipient learns from a gift wrap: who sealed it, and what they said."""

    sender: str
    rumor: Rumor
    wrap_id: str
    seal: Event


def make_rumor(
    author: str,
    kind: int,
    content: str,
    tags: Iterable[Sequence[str]] = (),
    created_at: int | None = None,
) -> Rumor:
    """An unsigned event by ``author`` (hex pubkey), stamped with the real time."""
    tag_list = [list(tag) for tag in tags]
    check_tags(tag_list)
    when = int(time.time()) if created_at is None else created_at
    event_id = compute_id(author, when, kind, tag_list, content)
    return Rumor(event_id, author, when, kind, tag_list, content)


def random_past(now: int | None = None) -> int:
    """A timestamp uniformly within the two days before ``now``."""
    base = int(time.time()) if now is None else now
    return base - secrets.randbelow(MAX_TWEAK + 1)


def _encrypt(secret: SecretKey, recipient: str, plaintext: str) -> str:
    key = nip44.get_conversation_key(secret.secret, bytes.fromhex(recipient))
    return nip44.encrypt(plaintext, key)


def _decrypt(secret: SecretKey, sender: str, payload: str) -> str:
    key = nip44.get_conversation_key(secret.secret, bytes.fromhex(sender))
    return nip44.decrypt(payload, key)


def seal(author: SecretKey, recipient: str, rumor: Rumor, now: int | None = None) -> Event:
    """Kind 13 by the real author, no tags, the rumor NIP-44-encrypted to ``recipient``."""
    if rumor.pubkey != author.public_hex:
        raise EventError("a seal must be signed by the rumor's author")
    content = _encrypt(author, recipient, rumor.to_json().decode())
    return sign(author, kinds.SEAL, content, [], random_past(now))


def pad_seal(sealed: Event) -> str:
    """The seal's JSON followed by spaces up to the smallest bucket that holds it (a seal
    larger than every bucket stays as it is: rare, and refused by most relays anyway)."""
    text = sealed.to_json().decode()
    size = len(text.encode())
    target = next((bucket for bucket in SEAL_BUCKETS if bucket >= size), size)
    return text + " " * (target - size)


def gift_wrap(
    sealed: Event,
    recipient: str,
    extra_tags: Iterable[Sequence[str]] = (),
    now: int | None = None,
) -> Event:
    """Kind 1059 by a fresh one-time key, naming only ``recipient`` in its ``p`` tag, its
    size one of :data:`SEAL_BUCKETS`' (``extra_tags`` add to it: same tags, same size)."""
    one_time = SecretKey.generate()
    content = _encrypt(one_time, recipient, pad_seal(sealed))
    tags = [["p", recipient], *(list(t) for t in extra_tags)]
    return sign(one_time, kinds.GIFT_WRAP, content, tags, random_past(now))


def wrap(
    author: SecretKey,
    recipient: str,
    rumor: Rumor,
    extra_tags: Iterable[Sequence[str]] = (),
    now: int | None = None,
) -> Event:
    """Seal then gift-wrap ``rumor`` for ``recipient``: the usual one-call form."""
    return gift_wrap(seal(author, recipient, rumor, now), recipient, extra_tags, now)


def unwrap(recipient: SecretKey, wrapped: Event) -> Unwrapped:
    """Open a gift wrap addressed to ``recipient``; raise unless every layer checks out.

    Raises :class:`CryptoError` when it is not for us or was tampered with, and
    :class:`EventError` when a layer is malformed or the rumor claims another author.
    """
    if wrapped.kind != kinds.GIFT_WRAP:
        raise EventError(f"a gift wrap is kind {kinds.GIFT_WRAP}, not {wrapped.kind}")
    wrapped.verify()
    seal_text = _decrypt(recipient, wrapped.pubkey, wrapped.content)
    sealed = Event.from_json(seal_text)
    if sealed.kind != kinds.SEAL:
        raise EventError(f"a seal is kind {kinds.SEAL}, not {sealed.kind}")
    sealed.verify()
    try:
        rumor_data = orjson.loads(_decrypt(recipient, sealed.pubkey, sealed.content))
    except orjson.JSONDecodeError as exc:
        raise EventError(f"rumor is not valid JSON: {exc}") from None
    rumor = Rumor.from_dict(rumor_data)
    if rumor.pubkey != sealed.pubkey:
        raise EventError("rumor author differs from the seal's signer (impersonation)")
    return Unwrapped(sealed.pubkey, rumor, wrapped.id, sealed)


def try_unwrap(recipient: SecretKey, wrapped: Event) -> Unwrapped | None:
    """:func:`unwrap`, or None for a wrap that is not ours or does not check out."""
    try:
        return unwrap(recipient, wrapped)
    except (CryptoError, EventError):
        return None
