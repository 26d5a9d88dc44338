"""The location heuristic: street addresses and full postcodes warn; towns and districts
pass. Finding: `champion add` and `request new` published street addresses unremarked."""

from __future__ import annotations

import pytest

from shieldmutual.shared.aid.location import location_warning, too_precise

PRECISE = [
    ("LS1 4AB", "UK postcode"),
    ("Leeds LS6 2QT", "UK postcode"),
    ("K1A 0B1 Ottawa", "Canadian postcode"),
    ("1012 AB Amsterdam", "Dutch postcode"),
    ("00-950 Warszawa", "Polish or Portuguese postcode"),
    ("1000-001 Lisboa", "Polish or Portuguese postcode"),
    ("114 55 Stockholm", "Swedish postcode"),
    ("Springfield, IL 62704", "ZIP code"),
    ("Springfield, IL 62704-1234", "ZIP code"),
    ("Paris 75011", "postcode"),
    ("8001 Zürich", "postcode"),
    ("12 High Street, Leeds", "street address"),
    ("221B Baker St, London", "street address"),
    ("Flat 3, Leeds", "street address"),
    ("Hauptstraße 5, Berlin", "street address"),
    ("Bahnhofstr. 3", "street address"),
    ("10 rue de la Paix, Paris", "street address"),
    ("Calle Mayor 3, Madrid", "street address"),
    ("Rua Augusta 12, Lisboa", "street address"),
    ("Via Roma 1, Torino", "street address"),
    ("Dorpsstraat 12, Utrecht", "street address"),
    ("Kungsgatan 7, Göteborg", "street address"),
    ("ul. Długa 5, Gdańsk", "street address"),
    ("12-14 Station Road", "street address"),
]

COARSE = [
    "Leeds",
    "Leeds, UK",
    "Leeds LS6",  # an outward code is a district
    "online",
    "St Albans",
    "Earls Court, London",
    "Notting Hill",
    "Brooklyn, NY",
    "Wien 3",  # a district number
    "Route 66",
    "Kreuzberg, Berlin",
    "Rue, Somme",  # a town called Rue, with no number
]


@pytest.mark.parametrize(("location", "what"), PRECISE)
def test_addresses_and_postcodes_warn(location: str, what: str) -> None:
    (reason,) = too_precise(location)
    assert what in reason
    warning = location_warning(location)
    assert warning is not None and what in warning and "town or district" in warning


@pytest.mark.parametrize("location", COARSE)
def test_towns_and_districts_pass(location: str) -> None:
    assert too_precise(location) == []
    assert location_warning(location) is None


def test_a_postcode_and_a_street_give_two_reasons() -> None:
    reasons = too_precise("12 High Street, Leeds LS1 4AB")
    assert len(reasons) == 2 and "UK postcode (LS1 4AB)" in reasons[0]
    assert "street address (12 High Street)" in reasons[1]
