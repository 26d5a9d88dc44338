"""Drafting a request from flags (prompts: requestprompt.py), the preview, and (re)publishing it.

Flags and answers become lines of the one request-file format (shared/aid/draft.py),
so a value typed on the command line is checked exactly like the same line in a file.
The preview shows what the world will see, because a published request cannot be
unpublished everywhere: relays keep copies, and NIP-09 deletion is only a request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shieldmutual.client.cli import common, textin
from shieldmutual.client.errors import ClientError
from shieldmutual.shared.aid.common import coarse_geohash
from shieldmutual.shared.errors import InvalidError

# The options are declared at import; what publishing needs (the pool, rich, the request
# format) is imported by the functions that publish, so `request template` loads none of it.
if TYPE_CHECKING:
    from rich.console import RenderableType

    from shieldmutual.client import aid
    from shieldmutual.client.pool import PublishReport
    from shieldmutual.shared.aid.request import AidRequest

TitleOpt = Annotated[str | None, typer.Option("--title", help="One line.")]
SummaryOpt = Annotated[str | None, typer.Option("--summary", help="One sentence.")]
StoryOpt = Annotated[str | None, typer.Option("--story", help="The story (Markdown).")]
DetailsOpt = Annotated[str | None, typer.Option("--details", help="Details (Markdown).")]
LocationOpt = Annotated[
    str | None, typer.Option("--location", help="Coarse place in words, or 'online'.")
]
AmountOpt = Annotated[str | None, typer.Option("--amount", help="e.g. 400 (with --currency).")]
CurrencyOpt = Annotated[str | None, typer.Option("--currency", help="e.g. GBP, EUR, sats.")]
DeadlineOpt = Annotated[
    str | None, typer.Option("--deadline", help="2026-06-01 (end of day UTC) or ISO time.")
]
LanguageOpt = Annotated[str | None, typer.Option("--language", help="ISO-639-1, e.g. en.")]
GeohashOpt = Annotated[
    str | None, typer.Option("--geohash", help="Cut to 5 characters (about 5 km) for privacy.")
]
SocietyOpt = Annotated[
    list[str] | None, typer.Option("--society", metavar="mas-SLUG", help="Society (repeat).")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Extra hashtag (repeat).")]
LightningOpt = Annotated[
    list[str] | None, typer.Option("--lightning", help="Your lightning address (repeat).")
]
OnchainOpt = Annotated[list[str] | None, typer.Option("--onchain", help="Bitcoin address.")]
OtherOpt = Annotated[
    list[str] | None, typer.Option("--other", help="Another way to pay you, in words.")
]
CallOpt = Annotated[
    list[str] | None,
    typer.Option("--call", metavar="'NUMBER | WHO | SCRIPT'", help="A call flood (repeat)."),
]
SignwaveOpt = Annotated[
    list[str] | None,
    typer.Option("--signwave", metavar="'PLACE | TIME'", help="A sign wave (repeat)."),
]
ImageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--image",
        metavar="URL",
        help="An http(s) picture (repeat; replaces the pictures). Marketplace apps need one.",
    ),
]
StatusOpt = Annotated[str | None, typer.Option("--status", help="open, funded or closed.")]


def flag_fields(
    *,
    title: str | None = None,
    summary: str | None = None,
    location: str | None = None,
    amount: str | None = None,
    currency: str | None = None,
    deadline: str | None = None,
    language: str | None = None,
    geohash: str | None = None,
    status: str | None = None,
    society: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
    lightning: Sequence[str] | None = None,
    onchain: Sequence[str] | None = None,
    other: Sequence[str] | None = None,
    call: Sequence[str] | None = None,
    signwave: Sequence[str] | None = None,
    image: Sequence[str] | None = None,
) -> dict[str, str | list[str]]:
    """Front matter lines for the flags that were given (others keep the file's value)."""
    from shieldmutual.client.cli.society import parse_slug

    fields: dict[str, str | list[str]] = {}
    single = {
        "title": title,
        "summary": summary,
        "location": location,
        "amount": amount,
        "currency": currency,
        "deadline": deadline,
        "language": language,
        "status": status,
        "geohash": coarse_geohash(geohash) if geohash else geohash,
    }
    fields.update({k: v for k, v in single.items() if v is not None})
    if society:
        fields["societies"] = ", ".join(parse_slug(s) for s in society)
    if tag:
        fields["tags"] = ", ".join(t.strip().lstrip("#") for t in tag)
    repeated = {"lightning": lightning, "onchain": onchain, "other": other}
    repeated |= {"call": call, "signwave": signwave, "image": image}
    fields.update({k: list(v) for k, v in repeated.items() if v})
    return fields


def warn_location(state: common.State, location: str) -> None:
    """Warn (never refuse: only the person knows what is safe) when a request's location
    looks like a street address or postcode rather than a town or district."""
    from shieldmutual.shared.aid.location import location_warning

    warning = location_warning(location)
    if warning is not None:
        state.warn(warning)


def confirm_publish(
    state: common.State,
    request: AidRequest,
    author: str,
    relays: Sequence[str],
    *,
    yes: bool,
    stdin_used: bool,
    what: str = "Publish",
) -> None:
    """Preview on stderr, then ask (unless --yes); declining is exit 1, nothing published."""
    from shieldmutual.client.cli import aidrender

    preview = aidrender.request_preview(request, author)
    ask_to_publish(state, preview, request.societies, author, relays, yes=yes,
                   stdin_used=stdin_used, what=what)  # fmt: skip


def ask_to_publish(
    state: common.State,
    preview: RenderableType,
    society_slugs: Sequence[str],
    author: str,
    relays: Sequence[str],
    *,
    yes: bool,
    stdin_used: bool,
    what: str = "Publish",
    noun: str = "request",
) -> None:
    """What every listing (a request, an offer) shows before it goes public for good."""
    from shieldmutual.client.cli import fmt, render
    from shieldmutual.shared.aid.society import mas_tag

    if not society_slugs:
        state.warn("no society tag: only people who search for it will find it (--society)")
    state.err.print(render.preview(preview))
    if yes:
        return
    if stdin_used:
        raise InvalidError(f"the {noun} was read from stdin, so confirm with --yes instead")
    societies = " ".join(mas_tag(s) for s in society_slugs)
    question = f"{what} to {len(relays)} relay(s) as {fmt.short_npub(author)} {societies}?"
    try:
        agreed = typer.confirm(question, err=True)
    except typer.Abort:
        agreed = False
    if not agreed:
        raise ClientError("nothing was published (answer y, or pass --yes in scripts)")


def author_pubkey(state: common.State, as_: str | None) -> str:
    """The identity's public key, known without unlocking it (for the preview)."""
    return state.keystore.get(state.identity_name(as_)).pubkey


def show_request(
    state: common.State,
    report: PublishReport,
    min_acks: int,
    json_out: bool,
    announcement: PublishReport | None = None,
    pages: str | None = None,
) -> None:
    """Per-relay tables on stderr, the naddr (or one JSON object) on stdout; the page
    link (``pages``: where the request's pages are served) on stderr or as ``page``."""
    from shieldmutual.client.aid import require_acks
    from shieldmutual.client.cli import render
    from shieldmutual.client.pages import page_link
    from shieldmutual.shared.aid.common import Address

    hints = [r.relay for r in report.results if r.ok][:3]
    naddr = Address.of(report.event).naddr(hints)
    page = page_link(pages, naddr) if pages else None
    if json_out:
        extra: dict[str, Any] = {}
        if announcement is not None:
            extra = {"id": announcement.event.id, "acks": announcement.acks,
                     "relays": [r.to_dict() for r in announcement.results]}  # fmt: skip
        data = {"naddr": naddr, "id": report.event.id, "acks": report.acks}
        data["relays"] = [r.to_dict() for r in report.results]
        data["announcement"] = extra or None
        data["page"] = page
        state.emit_json({**data, "event": report.event.to_dict()})
    else:
        render.print_stderr(state.err, render.publish_table(report, min_acks))
        if announcement is not None:
            state.note("announcement note (kind 1) for apps that show only notes:")
            render.print_stderr(state.err, render.publish_table(announcement, min_acks))
        state.emit_line(naddr)
        if page:
            state.note(f"page: {page}")
    require_acks(report, min_acks)


def edit_request(
    state: common.State,
    naddr: str,
    edit: Mapping[str, str | list[str]],
    *,
    relay: list[str] | None,
    yes: bool,
    min_acks: int,
    as_: str | None,
    json_out: bool,
    base_file: Path | None = None,
    story: str | None = None,
    details: str | None = None,
) -> None:
    """Republish the request at ``naddr`` with changes (same address, published_at kept)."""

    from shieldmutual.client import aid
    from shieldmutual.shared import event as event_mod
    from shieldmutual.shared.aid.draft import compose
    from shieldmutual.shared.aid.markdown import parse_template, render_template
    from shieldmutual.shared.aid.request import request_event_template

    json_out = state.want_json(json_out)
    relays = state.relays(relay)
    author = author_pubkey(state, as_)

    async def fetch() -> aid.RequestRecord:
        async with state.pool(relays) as pool:
            return await aid.fetch_request(pool, common.request_pointer(state, naddr))

    found = common.run(fetch())
    if found.address.pubkey != author:
        raise ClientError("only the request's author can edit it (use --as to pick that identity)")
    current = found.request
    base = textin.read_source(base_file) if base_file is not None else render_template(current)
    changed = parse_template(compose(base, edit, story=story, details=details))
    changed = replace(
        changed,
        identifier=current.identifier,
        published_at=current.published_at,
        beneficiary=current.beneficiary,
        origin=current.origin,
    )
    if changed == current:
        state.note("nothing changed; nothing published")
        state.emit_line(found.naddr())
        return
    stdin_used = base_file is not None and str(base_file) == "-"
    confirm_publish(state, changed, author, relays, yes=yes, stdin_used=stdin_used,
                          what="Publish this new version")  # fmt: skip
    secret = state.signer(as_)
    # A new version must be newer than the one relays hold, even within the same second.
    when = max(int(time.time()), found.event.created_at + 1)
    event = event_mod.sign(secret, *request_event_template(changed), created_at=when)

    async def send() -> PublishReport:
        async with state.pool(relays) as pool:
            return await pool.publish(event)

    show_request(state, common.run(send()), min_acks, json_out)
