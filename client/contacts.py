"""The local address book: petnames for the people you deal with, never published.

A petname is a name *you* gave someone (`mas contacts add rosa npub1...`), so unlike a
profile name (chosen by whoever holds the key, see client/names.py) it can be trusted
to mean that person. The book names correspondents, so a seized laptop must not show
it: it is sealed with the home key and padded like the other local files
(client/vault.py), ``contacts.sealed`` in the state folder, mode 0600::

    {"version": 1, "contacts": {"rosa": "<hex pubkey>"}}

Petnames follow the identity-name rule (letters, digits, ``.``, ``_``, ``-``), so one
can never look like the ``~name`` form in which strangers' profile names are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shieldmutual.client.errors import ConfigError, IdentityError
from shieldmutual.client.keystore import check_name
from shieldmutual.client.vault import Home
from shieldmutual.shared.aid.common import check_hex64
from shieldmutual.shared.errors import InvalidError

CONTACTS_FILE = "contacts.sealed"
PURPOSE = "contacts"


def check_petname(name: str) -> str:
    """The identity-name rule, as bad input (exit 2) rather than an identity error."""
    try:
        return check_name(name)
    except IdentityError:
        raise InvalidError(
            f"petname {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        ) from None


@dataclass
class Contacts:
    """Petname -> pubkey; call :meth:`save` after changing it."""

    home: Home
    path: Path
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Home) -> Contacts:
        path = home.paths.state_dir / CONTACTS_FILE
        raw = home.read(path, PURPOSE).get("contacts", {})
        try:
            names = {check_petname(k): check_hex64(v, "contact") for k, v in dict(raw).items()}
        except (InvalidError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: the address book is damaged: {exc}") from None
        return cls(home, path, names)

    def save(self) -> None:
        self.home.write(self.path, PURPOSE, {"contacts": dict(sorted(self.names.items()))})

    def add(self, name: str, pubkey: str) -> None:
        """Give ``pubkey`` the petname ``name``; one petname per person and per name."""
        check_petname(name)
        if name in self.names and self.names[name] != pubkey:
            raise IdentityError(f"{name!r} already names someone else: remove it first")
        other = self.petname(pubkey)
        if other is not None and other != name:
            raise IdentityError(f"this person is already in your contacts as {other!r}")
        self.names[name] = pubkey

    def remove(self, name: str) -> None:
        if self.names.pop(name, None) is None:
            raise IdentityError(f"no contact named {name!r}")

    def petname(self, pubkey: str) -> str | None:
        return next((name for name, key in self.names.items() if key == pubkey), None)

    def by_pubkey(self) -> dict[str, str]:
        return {key: name for name, key in self.names.items()}
