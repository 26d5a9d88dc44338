"""One exception tree for all of Shield Mutual.

Every error carries the NIP-01 machine-readable prefix a relay would send back, so the
relay turns any of them into ``OK false "<prefix>: <message>"`` or ``CLOSED`` without a
lookup table, and the CLI prints ``str(error)`` as its one-line message.

    ShieldError                      base of everything we raise on purpose
    ├── InvalidError      invalid:   malformed input (wire JSON, events, filters, bech32)
    │   ├── EventError               an event that does not parse, hash or verify
    │   ├── FilterError              a REQ/COUNT filter that breaks NIP-01 rules
    │   ├── MessageError             a client<->relay message of the wrong shape
    │   ├── EncodingError            NIP-19 / hex / bech32 input that does not decode
    │   └── AidError                 a mutual aid event or template that breaks docs/PROTOCOL.md
    ├── CryptoError       error:     decryption or MAC failure (NIP-44, NIP-49 passphrase)
    ├── BlockedError      blocked:   refused by policy for who sent it or what it is
    ├── RateLimitedError  rate-limited: too much, too fast
    ├── RestrictedError   restricted: allowed only to someone else (e.g. not the author)
    ├── AuthRequiredError auth-required: NIP-42 authentication needed first
    ├── PowError          pow:       not enough NIP-13 proof of work
    └── StoreError        error:     storage failed; nothing was acknowledged
"""

from __future__ import annotations


class ShieldError(Exception):
    """Base of every error Shield Mutual raises deliberately."""

    prefix = "error"

    def wire(self) -> str:
        """The message as a relay puts it on the wire: ``"<prefix>: <message>"``."""
        return f"{self.prefix}: {self}"


class InvalidError(ShieldError, ValueError):
    prefix = "invalid"


class EventError(InvalidError):
    pass


class FilterError(InvalidError):
    pass


class MessageError(InvalidError):
    pass


class EncodingError(InvalidError):
    pass


class AidError(InvalidError):
    pass


class CryptoError(ShieldError):
    prefix = "error"


class BlockedError(ShieldError):
    prefix = "blocked"


class RateLimitedError(ShieldError):
    prefix = "rate-limited"


class RestrictedError(ShieldError):
    prefix = "restricted"


class AuthRequiredError(ShieldError):
    prefix = "auth-required"


class PowError(ShieldError):
    prefix = "pow"


class StoreError(ShieldError):
    prefix = "error"
