"""One exception tree for all of Shield Mutual.

Every error carries the NIP-01 machine-readable prefix a relay would send back, so the
relay turns any of them into ``OK false "<prefix>: <message>"`` or ``CLOSED`` without a
lookup table, and the CLI prints ``str(error)`` as its one-line message.

    ShieldError                      base of everything we raise on purpose
    ├── InvalidError      invalid:   malformed input (wire JSON, events, filters, bech32)
    │   ├── EventError               an event that does not parse, hash or verify
    │   ├── FilterError              a REQ/COUNT filter that breaks NIP-01 rules
    │   ├── MessageError             a client<->relay message of the wrong shape
    │   │   ├── ParseError           ... with the ids readable before the fault (messages.py)
    │   │   └── NegentropyError      a NIP-77 message we cannot read (negentropy.py)
    │   ├── EncodingError            NIP-19 / hex / bech32 input that does not decode
    │   ├── AidError                 a mutual aid event or template that breaks docs/PROTOCOL.md
    │   └── ConfigError              a relay or client setting (file, flag) that makes no sense
    ├── CryptoError       error:     decryption or MAC failure (NIP-44, NIP-49 passphrase)
    ├── BlockedError      blocked:   refused for what it asks (a query with too many results)
    ├── NegError          error:     a relay refused a reconciliation (NEG-ERR) (negclient.py)
    ├── StoreError        error:     storage failed; nothing was acknowledged
    └── ClientError                  the client's own failures (client/errors.py's tree:
                                     RelayError, NotFoundError, ChampionError, MailError...)

Only what code raises is here. The relay's refusals of an event or a request (rate
limits, ``restricted:``, ``auth-required:``, ``pow:``, most ``blocked:``) are not
exceptions but strings its rules return, built by shared/nip01prefix.py's per-prefix
builders: a rule runs for every event, and returning a string costs less than raising.
Two relay modules keep a private exception that never leaves them: relay/web.py's
``WebError`` (an HTTP status) and relay/mirror.py's ``PeerGone`` (a peer hung up).
"""

from __future__ import annotations

from typing import ClassVar

from shieldmutual.shared.nip01prefix import Prefix


class ShieldError(Exception):
    """Base of every error Shield Mutual raises deliberately."""

    prefix: ClassVar[Prefix] = "error"

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


class ConfigError(InvalidError):
    """One class for the relay's TOML and flags and the client's config and options:
    both are a person's input, refused before anything runs (mas exits 2)."""


class CryptoError(ShieldError):
    prefix = "error"


class BlockedError(ShieldError):
    prefix = "blocked"


class StoreError(ShieldError):
    prefix = "error"
