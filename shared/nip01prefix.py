"""The machine-readable prefix of an ``OK`` or ``CLOSED`` message (NIP-01): written by
one builder per prefix, and read as relays really send it.

Writing: every refusal the relay sends is ``<prefix>: <reason>``; building it with
:func:`invalid`, :func:`blocked`, ... instead of by hand means a prefix cannot be
misspelt (a client would not recognise ``rate-limit:``) and each prefix's users can be
found by name. Refusals are strings rather than exceptions because the relay's rules
return them on the hot path, where raising costs more than returning.

Reading: NIP-01 says the message starts with ``prefix:``, but relays wrap it: strfry
sends every CLOSED as ``ERROR: auth-required: requested filter requires authentication``,
others vary case and spacing. A client that only compares the first word gives up where it
should authenticate, so the prefix is the first standard one among the message's
leading ``word:`` parts; a generic ``error:`` counts only when nothing more specific
follows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, get_args

# The prefixes NIP-01 (and NIP-42 for auth-required) define.
Prefix = Literal[
    "auth-required",
    "blocked",
    "duplicate",
    "error",
    "invalid",
    "mute",
    "pow",
    "rate-limited",
    "restricted",
]
STANDARD: frozenset[str] = frozenset(get_args(Prefix))


def _builder(prefix: Prefix) -> Callable[[str], str]:
    head = f"{prefix}: "

    def build(reason: str) -> str:
        return head + reason

    return build


auth_required = _builder("auth-required")
blocked = _builder("blocked")
duplicate = _builder("duplicate")
error = _builder("error")
invalid = _builder("invalid")
pow_ = _builder("pow")  # the trailing _ keeps the builtin pow() usable
rate_limited = _builder("rate-limited")
restricted = _builder("restricted")

# Refusals more than one layer sends (the EVENT path and the NIP-42 check).
BAD_ID = invalid("event id does not match its content")
BAD_SIGNATURE = invalid("event signature is not valid")

_GENERIC = "error"
_LEADING = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*:")
_MAX_PARTS = 3  # "ERROR: auth-required: ..." is two; a reason's own colons come later


def leading_words(message: str) -> list[str]:
    """The lower-cased ``word:`` parts the message starts with, at most a few."""
    words: list[str] = []
    pos = 0
    while len(words) < _MAX_PARTS and (match := _LEADING.match(message, pos)):
        words.append(match.group(1).lower())
        pos = match.end()
    return words


def message_prefix(message: str) -> str:
    """The machine-readable prefix of ``message``, lower case, or ``""`` when it has none.

    The first standard prefix other than ``error`` wins; then ``error``; then a relay's
    own one-word prefix (``count-failed:``), so callers can still name it.
    """
    words = leading_words(message)
    specific = [w for w in words if w in STANDARD and w != _GENERIC]
    if specific:
        return specific[0]
    if _GENERIC in words:
        return _GENERIC
    return words[0] if words else ""
