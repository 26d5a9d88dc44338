"""`mas offer template/new/list/show/reply/update/close`: offers of help beside requests.

An offer is a NIP-99 listing like a request (shared/aid/offer.py), so it is published,
found and edited the same way: one addressable event on every relay, closed by
republishing it. Input is one format, the offer file (front matter and a Markdown
description); flags are written into it, so a flag is checked like the same line in a
file. Lists read the feed's query (the same for everybody) and match locally, so no
relay learns which societies' offers someone reads.

stdout: the offer's naddr (or one JSON object with --json); stderr: the preview and
what each relay said.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from shieldmutual.client import aid
from shieldmutual.client.cli import common, contacts, offerdraft, offerrender, textin
from shieldmutual.client.cli.feed import feed_filter, item_naddr, listed
from shieldmutual.client.cli.filteropts import LanguageFilterOpt, PlaceFilterOpt, SocietyFilterOpt
from shieldmutual.client.cli.society import parse_slug
from shieldmutual.client.feedthreads import Listing, list_stored
from shieldmutual.client.offers import OfferView, fetch_offer, read_offer, reply_to_offer
from shieldmutual.client.pool import PublishReport
from shieldmutual.client.state import LocalState
from shieldmutual.shared import event as event_mod
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import coarse_geohash
from shieldmutual.shared.aid.feed import REQUEST, FeedItem
from shieldmutual.shared.aid.offer import (
    OFFER,
    Offer,
    offer_dict,
    offer_event_template,
    offer_fields,
    offer_from_fields,
    read_offer_file,
    render_offer_file,
)
from shieldmutual.shared.aid.request import Status, new_identifier
from shieldmutual.shared.aid.society import mas_tag
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.nip19 import pubkey_hex

app = typer.Typer(help="Offers of help: give, list, show, take up, close.", no_args_is_help=True)

OfferArg = Annotated[
    str,
    typer.Argument(
        metavar="OFFER",
        help="The offer: its number or #id in your last offer listing, its title, or its naddr.",
    ),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="2026-06-01 (end of day UTC) or ISO time.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Publish without the prompt.")]


def _fields(from_: Path | None, flags: dict[str, str | None]) -> tuple[dict[str, str], str]:
    """The offer file's front matter (when given) under the flags given, and its description:
    ``new`` and ``update`` read their input alike."""
    fields, body = read_offer_file(textin.read_source(from_)) if from_ else ({}, "")
    return fields | {k: v.strip() for k, v in flags.items() if v is not None}, body


def _stdin_used(from_: Path | None) -> bool:
    return from_ is not None and str(from_) == "-"


# ---- template / new ------------------------------------------------------------------------


@app.command("template")
def template(
    ctx: typer.Context,
    naddr: Annotated[
        str | None,
        typer.Argument(
            metavar="[OFFER]",
            help="Print this offer to edit it (number or #id from a listing, title, naddr).",
        ),
    ] = None,
    relay: common.RelayOption = None,
) -> None:
    """Print an offer file to edit: an example, or OFFER's.

    mas offer template > o.md; (edit o.md); mas offer new --from o.md
    """
    state = common.state(ctx)
    if naddr is not None:
        pointer = common.request_pointer(state, naddr, "offer")
        relays = state.relays(relay, pointer.relays)

        async def fetch() -> aid.RequestRecord:
            async with state.pool(relays) as pool:
                return await fetch_offer(pool, pointer)

        state.emit_text(render_offer_file(common.run(fetch()).request))  # type: ignore[arg-type]
        return
    example = Offer(
        title="Lawnmower to lend",
        summary="A petrol lawnmower, free to borrow for a weekend.",
        description="Replace this with what you offer, and anything people should know.",
        location="Leeds, UK",
        categories=("lend",),
        language="en",
        availability="weekends",
        contact=("comment", "dm"),
        societies=("example",),
    )
    state.emit_text(render_offer_file(example))


@app.command("new")
def new(
    ctx: typer.Context,
    from_: Annotated[
        Path | None, typer.Option("--from", metavar="FILE", help="An offer file ('-': stdin).")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="One line.")] = None,
    summary: Annotated[str | None, typer.Option("--summary", help="One sentence.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What you offer (Markdown).")
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Coarse: a town, a district, or 'online'.")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="skill, lend, time, room, lift, food, other (repeat)."),
    ] = None,
    availability: Annotated[
        str | None, typer.Option("--when", help="When, in words: 'weekday evenings'.")
    ] = None,
    until: UntilOpt = None,
    contact: Annotated[
        list[str] | None,
        typer.Option("--contact", help="comment (a reply under the offer) or dm (repeat)."),
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="ISO-639-1, e.g. en.")] = None,
    geohash: Annotated[
        str | None, typer.Option("--geohash", help="Cut to 5 characters (about 5 km).")
    ] = None,
    society: Annotated[
        list[str] | None, typer.Option("--society", metavar="mas-SLUG", help="Society (repeat).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Extra hashtag (repeat).")] = None,
    yes: YesOpt = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Offer help: from a file (--from), flags, or both (flags win). Free, never sold.

    Shows a preview and asks before publishing (--yes skips it); prints the offer's naddr.
    """
    state = common.state(ctx)
    fields, body = _fields(
        from_,
        {
            "title": title,
            "summary": summary,
            "location": location,
            "availability": availability,
            "until": until,
            "language": language,
            "geohash": coarse_geohash(geohash) if geohash else None,
            "categories": ", ".join(category) if category else None,
            "contact": ", ".join(contact) if contact else None,
            "societies": ", ".join(parse_slug(s) for s in society) if society else None,
            "tags": ", ".join(tag) if tag else None,
        },
    )
    offer = offer_from_fields(fields, (description or body).strip())
    offer = replace(offer, identifier=offer.identifier or new_identifier())
    relays = state.relays(relay)
    author = state.keystore.get(state.identity_name(as_)).pubkey
    offerdraft.confirm(state, offer, author, relays, yes=yes, stdin_used=_stdin_used(from_))
    secret = state.signer(as_)
    event = event_mod.sign(secret, *offer_event_template(offer))
    offerdraft.publish(state, event, relays, min_acks, json_)


# ---- list / show ---------------------------------------------------------------------------


@app.command("list")
def list_(
    ctx: typer.Context,
    society: SocietyFilterOpt = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your own offers (--as).")] = False,
    author: Annotated[
        str | None, typer.Option("--author", metavar="NPUB", help="Only this person's.")
    ] = None,
    closed: Annotated[
        bool, typer.Option("--closed", help="Include closed offers and those past --until.")
    ] = False,
    language: LanguageFilterOpt = None,
    place: PlaceFilterOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 50,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Offers in societies (default: the ones you follow, else every one); newest first.

    The query is the feed's, the same for everybody; societies are matched here.
    """
    state = common.state(ctx)
    tags = [mas_tag(parse_slug(s)) for s in society or ()]
    if not tags and not mine:
        tags = LocalState.load(state.home).follow_tags()
    who = pubkey_hex(author) if author else None
    if mine:
        who = state.keystore.get(state.identity_name(as_)).pubkey
    statuses = None if closed else [Status.OPEN.value]
    flt = replace(feed_filter(language, place, statuses), types=frozenset({OFFER}))
    relays = state.relays(relay)

    now = int(time.time())

    def kept(item: FeedItem) -> bool:
        until = item.request.until if isinstance(item.request, Offer) else None
        return (who is None or item.event.pubkey == who) and (
            closed or until is None or until >= now
        )

    async def collect() -> Listing:
        async with state.pool(relays) as pool:
            with state.status("collecting offers…"):
                names = contacts.local_names(state)
                return await list_stored(
                    pool, tags or ["mutualaid"], flt, names, keep=kept, limit=limit
                )

    found = common.run(collect())
    items, named = found.items, found.names
    naddrs = {str(i.address): item_naddr(i, relays) for i in items}
    handles = common.remember(state, OFFER, [listed(i, relays) for i in items])
    if state.want_json(json_):
        for item in items:
            key = str(item.address)
            by = named.fields(item.event.pubkey, "author_")
            assert isinstance(item.request, Offer)  # the filter lets offers only through
            listing = offer_dict(item.request, naddrs[key])
            state.emit_json(
                {**listing, **handles[key].fields(), **by, "event": item.event.to_dict()}
            )
    elif items:
        state.out.print(offerrender.offers_table(items, handles, named))
    else:
        state.note("no offers found")


@app.command("show")
def show(
    ctx: typer.Context,
    naddr: OfferArg,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """An offer: what, where, when, how to take it up, and the requests it answered."""
    state = common.state(ctx)
    pointer = common.request_pointer(state, naddr, "offer")
    relays = state.relays(relay, pointer.relays)

    async def read() -> OfferView:
        async with state.pool(relays) as pool:
            with state.status("fetching the offer…"):
                return await read_offer(pool, pointer, contacts.local_names(state))

    view = common.run(read())
    found, offer, thread, named = view.found, view.offer, view.thread, view.names
    link = found.naddr()
    answered = [
        (a.request, a.title or "", list(nip19.naddr_decode(a.naddr).relays)) for a in thread.answers
    ]
    handles = common.remember(state, REQUEST, answered)  # the answered requests, numbered
    if state.want_json(json_):
        replies = [
            {"id": r.origin.id, "author": r.origin.pubkey, "created_at": r.origin.created_at,
             "text": r.text}
            for r in thread.replies if r.origin
        ]  # fmt: skip
        state.emit_json({
            **offer_dict(offer, link),
            **named.fields(found.event.pubkey, "author_"),
            "answered": [
                {**a.to_dict(), **handles[str(a.request)].fields()} for a in thread.answers
            ],
            "replies": replies,
            "event": found.event.to_dict(),
        })  # fmt: skip
    else:
        drawn = offerrender.offer_view(offer, found.event.pubkey, link, thread, named, handles)
        state.out.print(drawn)


@app.command("reply")
def reply(
    ctx: typer.Context,
    naddr: OfferArg,
    text: Annotated[
        str | None, typer.Argument(metavar="[TEXT]", help="Your words; read from stdin if omitted.")
    ] = None,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Take an offer up, or ask about it, in public: a comment under it (NIP-22).

    Everyone sees it and who wrote it; for a private word, `mas dm send` to its author.
    """
    state = common.state(ctx)
    words = textin.argument_text(text, "reply")
    pointer = common.request_pointer(state, naddr, "offer")
    relays, secret = state.relays_and_signer(relay, as_, pointer.relays)

    async def send() -> PublishReport:
        async with state.pool(relays) as pool:
            return await reply_to_offer(pool, secret, pointer, words)

    common.show_nevent(state, common.run(send()), min_acks, json_, relays)


# ---- update / close ------------------------------------------------------------------------


@app.command("update")
def update(
    ctx: typer.Context,
    naddr: OfferArg,
    from_: Annotated[
        Path | None, typer.Option("--from", metavar="FILE", help="The edited offer file.")
    ] = None,
    availability: Annotated[str | None, typer.Option("--when", help="When, in words.")] = None,
    until: UntilOpt = None,
    yes: YesOpt = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Edit your offer: --when, --until, or all of it from a file (same address).

    mas offer template NADDR > o.md; (edit o.md); mas offer update NADDR --from o.md
    """
    state = common.state(ctx)
    fields, body = _fields(from_, {"availability": availability, "until": until})
    if not fields:
        raise InvalidError("nothing to change: give --when, --until or --from FILE")

    def change(current: Offer) -> Offer:
        merged = fields if from_ else {**offer_fields(current), **fields}
        return offer_from_fields(merged, body or current.description)

    offerdraft.edit(
        state, naddr, change, relay=relay, min_acks=min_acks, as_=as_, json_=json_,
        ask=not yes, stdin_used=_stdin_used(from_),
    )  # fmt: skip


@app.command("close")
def close(
    ctx: typer.Context,
    naddr: OfferArg,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Close your offer: republish it (same address) with status closed."""

    def closed(current: Offer) -> Offer:
        return replace(current, status=Status.CLOSED)

    state = common.state(ctx)
    offerdraft.edit(
        state, naddr, closed, relay=relay, min_acks=min_acks, as_=as_, json_=json_, ask=False
    )
