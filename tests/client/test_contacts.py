"""The address book: sealed with the home key, one petname per person, damage reported."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shieldmutual.client.config import Paths
from shieldmutual.client.contacts import CONTACTS_FILE, PURPOSE, Contacts
from shieldmutual.client.errors import ConfigError, IdentityError
from shieldmutual.client.vault import Home
from shieldmutual.shared.errors import InvalidError


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))


def test_petnames_round_trip_sealed(home: Home, keys: SimpleNamespace) -> None:
    rosa, bob = keys.alice.public_hex, keys.bob.public_hex
    book = Contacts.load(home)
    book.add("rosa", rosa)
    book.add("bob.k", bob)
    book.add("rosa", rosa)  # the same again changes nothing
    book.save()
    again = Contacts.load(home)
    assert again.names == {"bob.k": bob, "rosa": rosa}
    assert again.petname(rosa) == "rosa" and again.by_pubkey() == {rosa: "rosa", bob: "bob.k"}
    raw = (home.paths.state_dir / CONTACTS_FILE).read_bytes()
    assert raw.startswith(b"MAS1") and b"rosa" not in raw and rosa.encode() not in raw
    again.remove("rosa")
    again.save()
    assert Contacts.load(home).names == {"bob.k": bob}


def test_one_petname_per_person_and_per_name(home: Home, keys: SimpleNamespace) -> None:
    book = Contacts.load(home)
    book.add("rosa", keys.alice.public_hex)
    with pytest.raises(IdentityError, match="already names someone else"):
        book.add("rosa", keys.bob.public_hex)
    with pytest.raises(IdentityError, match="already in your contacts as 'rosa'"):
        book.add("rosie", keys.alice.public_hex)
    with pytest.raises(IdentityError, match="no contact"):
        book.remove("nobody")
    for bad in ("~rosa", "", "two words", "a" * 65, "-dash"):
        with pytest.raises(InvalidError):
            book.add(bad, keys.carol.public_hex)


def test_a_damaged_book_is_an_error_not_an_empty_one(home: Home) -> None:
    path = home.paths.state_dir / CONTACTS_FILE
    home.write(path, PURPOSE, {"contacts": {"rosa": "not a key"}})
    with pytest.raises(ConfigError, match="address book is damaged"):
        Contacts.load(home)
    home.write(path, PURPOSE, {"contacts": {"~x": "0" * 64}})
    with pytest.raises(ConfigError, match="address book is damaged"):
        Contacts.load(home)
