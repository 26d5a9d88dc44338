"""A request as a Markdown file (for ``mas request template`` / ``--from FILE``) and export.

The file is a front matter block of ``key: value`` lines between ``---`` fences, then
the fixed sections ``## Story`` and optionally ``## Details``. The parser is a tiny
strict one written here rather than YAML: YAML would add a dependency and its implicit
typing is wrong for this data (``language: no`` is the boolean false, ``amount: 1e3``
a float, dates turn into objects). Every line is either blank, a ``#`` comment, or
``key: value`` with a known key; anything else is an error naming its line.

:func:`render_markdown` is the export (blog, email, social media): title, summary, the
key facts, the same sections as the event, and optionally progress and a link. The text
comes from strangers, so exports pass it through
:func:`~shieldmutual.shared.aid.safemarkdown.safe_markdown`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TypedDict, Unpack

from shieldmutual.shared.aid.comments import Progress
from shieldmutual.shared.aid.common import format_amount, normalize_text, parse_amount
from shieldmutual.shared.aid.helping import (
    Action,
    CallFlood,
    OtherAction,
    Payment,
    SignWave,
    parse_action,
    when,
)
from shieldmutual.shared.aid.progress import standing, summary_lines
from shieldmutual.shared.aid.request import (
    DETAILS,
    HOW_TO_HELP,
    PROGRESS,
    STORY,
    AidRequest,
    Status,
    split_sections,
)
from shieldmutual.shared.aid.safemarkdown import safe_markdown
from shieldmutual.shared.aid.utcdates import utc_day
from shieldmutual.shared.errors import AidError

FENCE = "---"
PAGE_TEXT = "Read and share it on the web"
NOSTR_TEXT = "Follow, pledge or share on Nostr"
_SINGLE = (
    *("title", "summary", "location", "language", "geohash", "amount", "currency"),
    *("deadline", "status", "societies", "tags", "id", "published_at", "expiration"),
    "beneficiary",
)
_PAYMENT_KEYS = ("lightning", "onchain", "other", "payment")
_ACTION_KEYS = ("call", "signwave", "action")
_MULTI = (*_PAYMENT_KEYS, *_ACTION_KEYS, "image")
_HINTS = {
    "title": "one line, required",
    "summary": "one sentence, required",
    "location": "coarse, required: a town, a district, or 'online'",
    "language": "ISO-639-1 code, e.g. en",
    "geohash": "optional, at most 5 characters (about 5 km)",
    "amount": "optional; with currency, e.g. 500 and USD (marketplaces list only priced ones)",
    "deadline": "optional: 2025-06-01 (end of that day, UTC) or 2025-06-01T18:00+01:00",
    "status": "open, funded or closed",
    "societies": "comma-separated slugs, e.g. leeds-care, north",
    "tags": "comma-separated extra hashtags, e.g. bail, rent",
    "lightning": "repeatable: a lightning address (name@domain), LNURL, invoice or offer",
    "onchain": "repeatable: a bitcoin address",
    "other": "repeatable: another way to pay me, in words",
    "call": "repeatable: number | who they are | what to say",
    "signwave": "repeatable: place | 2025-05-30T17:00+01:00",
    "image": "repeatable: an http(s) picture URL; Amethyst and Shopstr list only requests with one",
}


def file_time_text(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_file_time(text: str, key: str) -> int:
    """Unix seconds, a date (end of that day, UTC), or an ISO 8601 time with an offset."""
    if text.isdigit():
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return int(datetime.combine(day, time(23, 59, 59), UTC).timestamp())
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AidError(f"{key}: not a date or ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise AidError(f"{key}: add a UTC offset (Z or +01:00) so the time is unambiguous")
    return int(moment.timestamp())


def split_list(text: str) -> tuple[str, ...]:
    """A comma-separated front matter value (societies, tags...) as its non-empty parts."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def front_matter(
    lines: list[str],
    single_keys: tuple[str, ...] = _SINGLE,
    multi_keys: tuple[str, ...] = _MULTI,
) -> tuple[dict[str, str], list[tuple[str, str]], int]:
    """(single values, repeatable ``(key, value)`` in file order, first body line index).

    The keys default to the request file's; the offer file (offer.py) passes its own."""
    if not lines or lines[0].strip() != FENCE:
        raise AidError("line 1: the file must start with a '---' front matter block")
    single: dict[str, str] = {}
    multi: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        text = line.strip()
        if text == FENCE:
            return single, multi, number
        if not text or text.startswith("#"):
            continue
        key, colon, value = text.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or (key not in single_keys and key not in multi_keys):
            raise AidError(f"line {number}: expected 'key: value' with a known key, got {text!r}")
        if key in multi_keys:
            if value:
                multi.append((key, value))
        elif key in single:
            raise AidError(f"line {number}: {key!r} is given twice")
        elif value:
            single[key] = value
    raise AidError("the front matter block has no closing '---'")


def _payment(key: str, value: str) -> Payment:
    if key != "payment":
        return Payment(key, value)
    method, bar, rest = (p.strip() for p in value.partition("|"))
    if not bar:
        raise AidError(f"payment: expected 'method | value', got {value!r}")
    return Payment(method, rest)


def _action(key: str, value: str) -> Action:
    if key == "call":
        parts = [p.strip() for p in value.split("|", 2)]
        if len(parts) < 2:
            raise AidError(f"call: expected 'number | who | what to say', got {value!r}")
        return CallFlood(*parts)
    if key == "signwave":
        place, bar, moment = (p.strip() for p in value.rpartition("|"))
        if not bar:
            raise AidError(f"signwave: expected 'place | time', got {value!r}")
        return parse_action(["action", "signwave", place, moment])
    return parse_action(["action", *(p.strip() for p in value.split("|"))])


def parse_template(text: str) -> AidRequest:
    """A Markdown file with front matter back into an :class:`AidRequest`."""
    lines = normalize_text(text).split("\n")
    single, multi, body_start = front_matter(lines)
    missing = [k for k in ("title", "summary", "location") if k not in single]
    if missing:
        raise AidError(f"front matter is missing {', '.join(missing)}")
    preamble, sections = split_sections("\n".join(lines[body_start:]))
    if preamble:
        raise AidError("text before '## Story': put the story under the '## Story' heading")
    for heading in (HOW_TO_HELP, PROGRESS):
        if heading in sections:
            raise AidError(f"'## {heading}' is generated: use the front matter keys instead")
    if not sections.get(STORY):
        raise AidError("the '## Story' section is missing or empty")
    get = single.get
    try:
        status = Status(get("status", "open"))
    except ValueError:
        raise AidError(f"status must be open, funded or closed, got {get('status')!r}") from None
    stamp = {
        k: parse_file_time(v, k)
        for k in ("deadline", "published_at", "expiration")
        if (v := get(k))
    }
    return AidRequest(
        title=single["title"],
        summary=single["summary"],
        story=sections[STORY],
        location=single["location"],
        details=sections.get(DETAILS, ""),
        amount=parse_amount(get("amount")) if "amount" in single else None,
        currency=get("currency"),
        deadline=stamp.get("deadline"),
        language=get("language"),
        geohash=get("geohash"),
        status=status,
        societies=split_list(get("societies", "")),
        hashtags=split_list(get("tags", "")),
        payments=tuple(_payment(k, v) for k, v in multi if k in _PAYMENT_KEYS),
        actions=tuple(_action(k, v) for k, v in multi if k in _ACTION_KEYS),
        images=tuple(v for k, v in multi if k == "image"),
        identifier=get("id", ""),
        published_at=stamp.get("published_at"),
        expiration=stamp.get("expiration"),
        beneficiary=get("beneficiary"),
    )


def _action_line(action: Action) -> str:
    if isinstance(action, CallFlood):
        script = f" | {action.script}" if action.script else ""
        return f"call: {action.number} | {action.target}{script}"
    if isinstance(action, SignWave):
        return f"signwave: {action.place} | {action.time.isoformat()}"
    assert isinstance(action, OtherAction)
    return "action: " + " | ".join([action.type, *action.values])


def render_template(request: AidRequest, *, hints: bool = False) -> str:
    """The editable file; ``hints`` adds ``#`` comments and empty keys to fill in."""
    r = request
    single = {
        "title": r.title,
        "summary": r.summary,
        "location": r.location,
        "language": r.language or "",
        "geohash": r.geohash or "",
        "amount": format_amount(r.amount) if r.amount is not None else "",
        "currency": r.currency or "",
        "deadline": file_time_text(r.deadline) if r.deadline is not None else "",
        "status": r.status.value,
        "societies": ", ".join(r.societies),
        "tags": ", ".join(r.hashtags),
    }
    lines = [FENCE]
    for key, value in single.items():
        if hints and key in _HINTS:
            lines.append(f"# {key}: {_HINTS[key]}")
        if value or hints:
            lines.append(f"{key}: {value}".rstrip())
    if hints:
        lines += [f"# {key}: {_HINTS[key]}" for key in ("lightning", "onchain", "other")]
        lines += ["lightning:", "onchain:", "other:"] if not r.payments else []
    for p in r.payments:  # in order: the first way listed is the one people try first
        known = p.method in _PAYMENT_KEYS[:3]
        lines.append(f"{p.method}: {p.value}" if known else f"payment: {p.method} | {p.value}")
    if hints:
        lines += [f"# {key}: {_HINTS[key]}" for key in ("call", "signwave")]
    lines += [_action_line(a) for a in r.actions]
    if hints:
        lines += [f"# image: {_HINTS['image']}"] + ([] if r.images else ["image:"])
    lines += [f"image: {url}" for url in r.images]
    extra = {
        "id": r.identifier,
        "published_at": str(r.published_at) if r.published_at is not None else "",
        "expiration": file_time_text(r.expiration) if r.expiration is not None else "",
        "beneficiary": r.beneficiary or "",
    }
    lines += [f"{key}: {value}" for key, value in extra.items() if value]
    lines += [FENCE, "", f"## {STORY}", "", r.story]
    if r.details or hints:
        lines += ["", f"## {DETAILS}", "", r.details]
    return "\n".join(lines).rstrip() + "\n"


def blank_template() -> str:
    """The starting file for ``mas request template``: every key explained, values empty."""
    text = render_template(AidRequest("-", "-", "-", "-"), hints=True)
    return (
        text.replace("title: -", "title:")
        .replace("summary: -", "summary:")
        .replace("location: -", "location:")
        .replace(f"## {STORY}\n\n-", f"## {STORY}\n\n")
    )


class Links(TypedDict, total=False):
    """What an export may show beside the request itself (see :func:`render_markdown`)."""

    progress: Progress | None
    link: str | None
    notice: str | None
    page: str | None


class View(Links, total=False):
    now: int | None  # unix seconds, for "days left"


def render_markdown(request: AidRequest, **view: Unpack[View]) -> str:
    """Standalone Markdown for a blog post or an email, safe to publish
    (:func:`safe_markdown`); ``link`` is e.g. ``nostr:naddr1...``, ``page`` the request's
    web page (relay/web.py), ``notice`` the champion sentence (progress.champion_notice)
    and ``now`` the time for "days left"."""
    return safe_markdown(markdown_source(request, **view), payment_uris(request))


def payment_uris(request: AidRequest) -> frozenset[str]:
    """The request's own payment URIs: the only non-web links an export may carry."""
    return frozenset(found.uri for p in request.payments if (found := p.uri()))


def markdown_source(
    request: AidRequest,
    *,
    progress: Progress | None = None,
    link: str | None = None,
    notice: str | None = None,
    now: int | None = None,
    page: str | None = None,
) -> str:
    """The export's Markdown as its authors wrote it, for plain text (which nothing
    interprets); anything that renders Markdown takes :func:`render_markdown`."""
    r = request
    facts = [f"- Status: {r.status.value}", f"- Where: {r.location}"]
    if r.amount is not None:
        facts.insert(0, f"- Asking: {format_amount(r.amount)} {r.currency}")
    if r.deadline is not None:
        facts.append(f"- Deadline: {when(datetime.fromtimestamp(r.deadline, UTC))}")
    if r.societies:
        facts.append("- Societies: " + " ".join(f"#mas-{s}" for s in r.societies))
    facts += [f"- Picture: [{url}]({url})" for url in r.images]  # a link, never embedded
    parts = [f"# {r.title}"]
    if notice:
        parts.append(f"**{notice}**")
    parts += [f"**{r.summary}**", "\n".join(facts), r.content().rstrip()]
    if progress is not None:
        figures = standing(r, progress, int(datetime.now(UTC).timestamp()) if now is None else now)
        lines = [f"- {line}" for line in summary_lines(figures)]
        for update in progress.updates:
            stamp = update.origin.created_at if update.origin else None
            day = f"{utc_day(stamp)}: " if stamp else ""
            lines.append(f"- Update {day}{update.text}".replace("\n", " "))
        parts.append(f"## {PROGRESS}\n\n" + "\n".join(lines))
    if page or link:
        parts.append("---")
    if page:
        parts.append(f"{PAGE_TEXT}: {page}")
    if link:
        parts.append(f"{NOSTR_TEXT}: {link}")
    return "\n\n".join(parts) + "\n"
