"""Is a request's ``location`` coarse enough to publish? A small, documented heuristic.

A request is public for good: relays keep copies. ``location`` should name a town, a
district or "online"; a street address or a full postcode tells anyone where the person
asking lives (and where to find them). People paste their address out of habit, so the
client *warns* (it never refuses: only the person knows what is safe) when the text has:

* a full postcode: UK (``LS1 4AB``), Canada (``K1A 0B1``), the Netherlands
  (``1012 AB``), Poland (``00-950``), Portugal (``1000-001``), Sweden (``114 55``), or a
  standalone group of four or five digits (US ZIP and ZIP+4, and the numeric postcodes of
  Germany, France, Spain, Italy, Belgium, Austria, Switzerland, Denmark, Norway...);
* a house number beside a street word in the same comma-separated part: ``12 High
  Street``, ``Hauptstraße 5``, ``10 rue de la Paix``, ``Via Roma 1``, ``ul. Długa 5``,
  ``Kungsgatan 7`` (English, German, French, Spanish, Portuguese, Italian, Dutch,
  Scandinavian and Polish street words, as words or as the end of a compound), or a
  flat/apartment number.

Outward codes alone (``LS1``), district numbers (``Wien 3``) and towns pass. False
alarms are cheap (a warning); misses are possible, which is why it is only a warning.
"""

from __future__ import annotations

import re

_POSTCODES = (
    ("a UK postcode", r"\b(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b"),
    ("a Canadian postcode", r"\b[ABCEGHJ-NPRSTVXY]\d[A-Z] ?\d[A-Z]\d\b"),
    ("a Dutch postcode", r"\b[1-9]\d{3} ?[A-Z]{2}\b"),
    ("a Polish or Portuguese postcode", r"\b\d{2}-\d{3}\b|\b\d{4}-\d{3}\b"),
    ("a Swedish postcode", r"\b\d{3} \d{2}\b"),
    ("a postcode or ZIP code", r"(?<![\d.,-])\b\d{4,5}(?:-\d{4})?\b(?![\d.,])"),
)
_POSTCODE_RES = tuple((what, re.compile(rx, re.IGNORECASE)) for what, rx in _POSTCODES)

# Whole words that name a street (or a flat) in the languages above; abbreviations with
# their dot stripped.
_STREET_WORDS = frozenset({
    "street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "drive", "dr", "close",
    "court", "ct", "place", "pl", "crescent", "cres", "terrace", "boulevard", "blvd", "square",
    "sq", "gardens", "mews", "row", "wynd", "flat", "apt", "apartment", "unit", "suite",
    "strasse", "straße", "str", "gasse", "platz", "allee", "rue", "chemin", "allée", "impasse",
    "quai", "cours", "calle", "avenida", "avda", "plaza", "paseo", "carrer", "rua", "travessa",
    "praça", "via", "viale", "piazza", "corso", "vicolo", "straat", "laan", "plein", "gracht",
    "kade", "gata", "gatan", "vägen", "gade", "vej", "veien", "ul", "ulica", "aleja", "al",
})  # fmt: skip
# Compound endings: Hauptstraße, Bahnhofstr, Kungsgatan, Dorpsstraat, Storgata, Nørregade.
_STREET_ENDINGS = (
    "straße", "strasse", "str", "gasse", "platz", "allee", "weg", "straat", "laan", "gracht",
    "plein", "gatan", "gata", "vägen", "gade", "vej", "veien", "gate", "street", "road",
)  # fmt: skip
_HOUSE_NUMBER = re.compile(r"^\d{1,4}[a-z]?(?:[-/]\d{1,4}[a-z]?)?$", re.IGNORECASE)
_WORD = re.compile(r"[^\s,;]+")


def _is_street_word(word: str) -> bool:
    word = word.strip(".:()").lower()
    if word in _STREET_WORDS:
        return True
    return len(word) > 5 and word.endswith(_STREET_ENDINGS)


def too_precise(location: str) -> list[str]:
    """Why ``location`` looks like an address rather than a town or district ([] if not)."""
    # The most specific postcode pattern that matches is enough (1012 AB is also 4 digits).
    codes = (f"{what} ({m.group(0)})" for what, rx in _POSTCODE_RES if (m := rx.search(location)))
    found = [code] if (code := next(codes, None)) else []
    for part in location.split(","):
        words = _WORD.findall(part)
        numbers = [w for w in words if _HOUSE_NUMBER.match(w.strip("."))]
        streets = [w for w in words if _is_street_word(w)]
        if numbers and streets:
            found.append(f"a street address ({part.strip()})")
    return found


def location_warning(location: str) -> str | None:
    """One line for people, or None when ``location`` looks coarse enough."""
    reasons = too_precise(location)
    if not reasons:
        return None
    return (
        f"the location looks like {'; '.join(reasons)}: a request is public for good, so "
        "name a town or district instead"
    )
