"""Mutual aid societies (MAS): the ``mas-<slug>`` tag and the optional NIP-72 definition.

A MAS *is* its tag. Anything tagged ``["t", "mas-<slug>"]`` belongs to it, and following
it is a local ``#t`` filter in the follower's client, so no membership list exists
anywhere. A kind 34550 definition only describes the society (name, description,
language, relays) for people and for NIP-72 community apps; anyone may publish one and
clients treat it as a description, never as authority. It deliberately has no
moderator ``p`` tags: a list of people attached to a society is a membership list.

A *syndicate* is a society whose definition also lists member societies with NIP-72
``a`` tags ``34550:<pubkey>:<slug>``; following a syndicate may expand locally to
following its members' tags too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Address,
    Origin,
    Tags,
    check_language,
    check_line,
    check_relay,
    check_text,
    first,
    label_tags,
    labels,
    normalize_text,
    one,
    require_kind,
    values,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

MAS_PREFIX = "mas-"
MAX_SLUG = 48
LANGUAGE_NAMESPACE = "ISO-639-1"
# Lowercase letters, digits and inner hyphens; no leading or trailing hyphen, so the
# tag never reads "mas--x" and a slug never ends in punctuation when written inline.
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?\Z").match


def validate_slug(slug: object) -> str:
    """Return ``slug`` if valid: 1-48 of ``a-z 0-9 -``, not starting or ending with ``-``."""
    if not isinstance(slug, str) or not _SLUG(slug):
        raise AidError(
            f"society slug must be 1-{MAX_SLUG} lowercase letters, digits and inner hyphens,"
            f" got {slug!r}"
        )
    return slug


def mas_tag(slug: str) -> str:
    """The ``t`` value of a society: ``mas_tag("leeds") == "mas-leeds"``."""
    return MAS_PREFIX + validate_slug(slug)


def slug_from_tag(value: str) -> str | None:
    """The slug of a ``mas-<slug>`` tag value, or ``None`` for any other hashtag."""
    if not value.startswith(MAS_PREFIX):
        return None
    slug = value[len(MAS_PREFIX) :]
    return slug if _SLUG(slug) else None


def society_slugs(tags: Tags) -> tuple[str, ...]:
    """Slugs of every ``mas-<slug>`` ``t`` tag, in order, without repeats."""
    found = (slug_from_tag(v) for v in values(tags, "t"))
    return tuple(dict.fromkeys(s for s in found if s is not None))


def society_tags(slugs: tuple[str, ...]) -> Tags:
    """``t`` tags for each society plus ``mutualaid``, the marker every aid event carries."""
    return [*(["t", mas_tag(s)] for s in dict.fromkeys(slugs)), ["t", MUTUAL_AID]]


def language_tags(language: str) -> Tags:
    return label_tags(check_language(language), LANGUAGE_NAMESPACE)


def language_of(tags: Tags) -> str | None:
    found = labels(tags, LANGUAGE_NAMESPACE)
    return check_language(found[0]) if found else None


@dataclass(frozen=True, slots=True)
class Society:
    """A society definition; with ``members`` it is a syndicate."""

    slug: str
    name: str
    description: str = ""
    language: str | None = None
    relays: tuple[str, ...] = ()
    members: tuple[Address, ...] = ()
    origin: Origin | None = None

    def __post_init__(self) -> None:
        validate_slug(self.slug)
        check_line(self.name, "society name", 100)
        check_text(self.description, "society description", 2000)
        if self.language is not None:
            check_language(self.language)
        for relay in self.relays:
            check_relay(relay)
        for member in self.members:
            if member.kind != kinds.COMMUNITY:
                raise AidError(f"syndicate member {member} is not a society (kind 34550)")
            validate_slug(member.identifier)

    @property
    def tag(self) -> str:
        return mas_tag(self.slug)

    @property
    def is_syndicate(self) -> bool:
        return bool(self.members)

    def follow_tags(self) -> tuple[str, ...]:
        """The ``#t`` values a local follow filter uses: own tag, then member societies'."""
        return tuple(dict.fromkeys([self.tag, *(mas_tag(m.identifier) for m in self.members)]))

    def address(self, pubkey: str) -> Address:
        return Address(kinds.COMMUNITY, pubkey, self.slug)


def society_event_template(society: Society) -> EventTemplate:
    """Kind 34550 (NIP-72): ``d`` = slug, name, description, ``t``, language, relays, members."""
    tags: Tags = [
        ["d", society.slug],
        ["name", society.name],
        ["description", society.description],
        *society_tags((society.slug,)),
    ]
    if society.language:
        tags += language_tags(society.language)
    tags += [["relay", relay] for relay in society.relays]
    tags += [["a", str(member)] for member in society.members]
    return EventTemplate(kinds.COMMUNITY, "", tags)


def parse_society(event: Rumor) -> Society:
    """A kind 34550 definition back into a :class:`Society`, checking our rules."""
    require_kind(event, kinds.COMMUNITY, "society definition")
    slug = validate_slug(one(event.tags, "d", "society definition"))
    if mas_tag(slug) not in values(event.tags, "t"):
        raise AidError(f"society definition {slug!r} lacks its tag ['t', 'mas-{slug}']")
    # NIP-72: the d tag may double as the name when no name tag is given.
    name = first(event.tags, "name") or slug
    description = normalize_text(first(event.tags, "description") or "")
    members = []
    for coordinate in values(event.tags, "a"):
        address = Address.parse(coordinate)
        if address.kind == kinds.COMMUNITY:
            members.append(address)
    return Society(
        slug=slug,
        name=name.strip(),
        description=description,
        language=language_of(event.tags),
        relays=tuple(dict.fromkeys(values(event.tags, "relay"))),
        members=tuple(dict.fromkeys(members)),
        origin=Origin.of(event),
    )
