"""Drafting a request: the example file, and changing fields of a request file.

``mas request new`` takes a file, flags or answers to prompts, and ``mas request
update`` takes the current request plus flags. Rather than a second parser for flags,
every path goes through the one request-file format (:mod:`markdown`): flags and
answers are written into the file's front matter and sections with :func:`compose`,
and the result is read by :func:`markdown.parse_template` with all its checks. So a
flag value is validated exactly like the same line in a file, with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shieldmutual.shared.aid.helping import CallFlood, Payment, SignWave
from shieldmutual.shared.aid.markdown import FENCE
from shieldmutual.shared.aid.request import DETAILS, STORY, AidRequest, split_sections
from shieldmutual.shared.errors import AidError

EXAMPLE_SOCIETY = "example"


def example_request(now: int) -> AidRequest:
    """A complete, valid request in ``mas-example``, dated a few weeks after ``now``."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return AidRequest(
        title="Rent after the raid",
        summary="Sam lost two weeks of work after the raid on the social centre.",
        story=(
            "The social centre was raided on Tuesday. Sam was held for two days and lost"
            " two weeks of shifts.\n\nReplace this story with yours: what happened, and"
            " what the help will change."
        ),
        details="Rent of 400 GBP is due at the end of the month.",
        location="Leeds, UK",
        amount=Decimal(400),
        currency="GBP",
        deadline=int((day + timedelta(days=21, hours=23, minutes=59)).timestamp()),
        language="en",
        geohash="gcwcv",
        societies=(EXAMPLE_SOCIETY,),
        hashtags=("rent",),
        payments=(
            Payment("lightning", "sam@pay.example"),
            Payment("other", "Cash at the Friday food share"),
        ),
        actions=(
            CallFlood("+44 113 496 0000", "Leeds Housing Office", "Please pause Sam's eviction."),
            SignWave("Leeds Town Hall steps", day + timedelta(days=7, hours=17)),
        ),
        # Marketplace apps (Amethyst, Shopstr) list only listings with a picture.
        images=("https://images.example/rent-after-the-raid.jpg",),
    )


def _check_value(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise AidError(f"{key}: must be one line")
    return value.strip()


def compose(
    base: str,
    fields: Mapping[str, str | Sequence[str]],
    *,
    story: str | None = None,
    details: str | None = None,
) -> str:
    """``base`` (a request file) with ``fields`` replacing its front matter keys.

    A field given as a list replaces every line of that (repeatable) key; an empty list
    or empty string removes the key. ``story`` and ``details`` replace those sections.
    """
    lines = base.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != FENCE:
        lines = [FENCE, FENCE, "", *lines]
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == FENCE)
    except StopIteration:
        raise AidError("the front matter block has no closing '---'") from None
    front = [line for line in lines[1:end] if line.split(":", 1)[0].strip() not in fields]
    for key, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            if item.strip():
                front.append(f"{key}: {_check_value(key, item)}")
    preamble, sections = split_sections("\n".join(lines[end + 1 :]))
    if preamble and STORY not in sections and story is None:
        sections[STORY], preamble = preamble, ""  # a body without headings is the story
    if story is not None:
        sections[STORY] = story.strip()
    if details is not None:
        sections[DETAILS] = details.strip()
    order = [STORY, DETAILS, *(name for name in sections if name not in (STORY, DETAILS))]
    # Stray text before the story is kept, so parse_template reports it rather than lose it.
    body = [preamble] if preamble else []
    body += [f"## {name}\n\n{sections[name]}" for name in order if sections.get(name)]
    return "\n".join([FENCE, *front, FENCE, "", "\n\n".join(body)]).rstrip() + "\n"
