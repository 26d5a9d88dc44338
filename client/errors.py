"""Errors the client adds to the shared tree, each with the `mas` exit code it maps to.

    ShieldError (shared/errors.py)
    ├── InvalidError
    │   ├── ConfigError        a config file or option value that makes no sense   exit 2
    │   │                      (shared/errors.py: the relay raises it too)
    │   └── TimeParseError     a --since/--until we cannot read                    exit 2
    ├── CryptoError
    │   └── PassphraseError    no passphrase available, or the two did not match  exit 4
    └── ClientError                                                              exit 1
        ├── IdentityError      no such identity, or the name is taken             exit 1
        ├── RelayError         relays unreachable, or fewer acks than asked        exit 3
        │   └── RelayDown      one relay's socket is gone (client/pool_ok.py; never
        │                      leaves the pool)
        ├── NotifyError        a --notify channel could not deliver (reported)     exit 1
        ├── NotFoundError      no relay holds what was asked for                   exit 1
        ├── ChampionError      a champion command cannot proceed                   exit 1
        └── MailError          the SMTP server refused or is unreachable          exit 1

The CLI's one error boundary (cli/main.py) turns any of these into ``error: <message>``.
"""

from __future__ import annotations

# Re-exported so client code imports every error it raises from this one module.
from shieldmutual.shared.errors import ConfigError as ConfigError
from shieldmutual.shared.errors import CryptoError, InvalidError, ShieldError


class ClientError(ShieldError):
    """A client-side failure that is not the user's input being malformed."""


class TimeParseError(InvalidError):
    pass


class PassphraseError(CryptoError):
    pass


class IdentityError(ClientError):
    pass


class RelayError(ClientError):
    """Not enough relays answered: unreachable, timed out, or too few acknowledgements."""


class NotifyError(ClientError):
    """An alarm or notice could not be delivered on one --notify channel."""


class NotFoundError(ClientError):
    """No relay holds a valid version of what was asked for."""


class ChampionError(ClientError):
    """A champion command that cannot proceed (unknown champion, no package...)."""


class MailError(ClientError):
    """The SMTP server refused or could not be reached; ``temporary`` means try again later."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary
