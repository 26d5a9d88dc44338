"""`mas request template/new/show/list/update/close`.

A request is a NIP-99 listing (kind 30402) published to every relay with a kind 1
announcement for apps that show only notes; editing republishes the same address.
Input is one format, the request file (``mas request template`` prints one that is
valid as it stands), whether it comes from a file, flags or prompts (requestdraft.py).

stdout: the request's naddr (or one JSON object with --json); stderr: the preview and
what each relay said.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shieldmutual.client.cli import common, textin
from shieldmutual.client.cli import requestdraft as draft
from shieldmutual.client.cli.filteropts import (
    LanguageFilterOpt,
    PlaceFilterOpt,
    SocietyFilterOpt,
    StatusFilterOpt,
)
from shieldmutual.shared.errors import InvalidError

# Each command imports what it uses: `request template` prints a file and must not load
# the pool, the feed, rich or QR codes (issue 13: local commands answer at once).
if TYPE_CHECKING:
    from shieldmutual.client import aid
    from shieldmutual.client.feedthreads import Listing
    from shieldmutual.client.pool import PublishReport
    from shieldmutual.client.requests import RequestView
    from shieldmutual.shared.aid.feed import FeedItem
    from shieldmutual.shared.keys import SecretKey

app = typer.Typer(
    help="Aid requests: ask for help, read, list, edit and close.", no_args_is_help=True
)

FromOpt = Annotated[
    Path | None, typer.Option("--from", metavar="FILE", help="A request file ('-' for stdin).")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Publish without the preview prompt.")]


# ---- template / new ----------------------------------------------------------------------


@app.command("template")
def template(
    ctx: typer.Context,
    naddr: Annotated[
        str | None,
        typer.Argument(
            metavar="[REQUEST]",
            help="Print this request to edit it (number or #id from a listing, title, naddr).",
        ),
    ] = None,
    relay: common.RelayOption = None,
) -> None:
    """Print a request file: an example in mas-example, valid as it stands, or REQUEST's.

    mas request template > r.md; edit r.md; mas request new --from r.md
    """
    from shieldmutual.shared.aid.draft import example_request
    from shieldmutual.shared.aid.markdown import render_template

    state = common.state(ctx)
    if naddr is None:
        state.emit_line(render_template(example_request(int(time.time())), hints=True).rstrip())
        return
    from shieldmutual.client import aid  # fetching REQUEST's file: the pool, only here

    pointer = common.request_pointer(state, naddr)
    relays = state.relays(relay, pointer.relays)

    async def fetch() -> aid.RequestRecord:
        async with state.pool(relays) as pool:
            return await aid.fetch_request(pool, pointer)

    state.emit_text(render_template(common.run(fetch()).request))


@app.command("new")
def new(
    ctx: typer.Context,
    from_: FromOpt = None,
    interactive: Annotated[
        bool, typer.Option("-i", "--interactive", help="Ask for each field.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue the questions kept after Ctrl-C or a failed publish."
        ),
    ] = False,
    title: draft.TitleOpt = None,
    summary: draft.SummaryOpt = None,
    story: draft.StoryOpt = None,
    details: draft.DetailsOpt = None,
    location: draft.LocationOpt = None,
    amount: draft.AmountOpt = None,
    currency: draft.CurrencyOpt = None,
    deadline: draft.DeadlineOpt = None,
    language: draft.LanguageOpt = None,
    geohash: draft.GeohashOpt = None,
    society: draft.SocietyOpt = None,
    tag: draft.TagOpt = None,
    lightning: draft.LightningOpt = None,
    onchain: draft.OnchainOpt = None,
    other: draft.OtherOpt = None,
    call: draft.CallOpt = None,
    signwave: draft.SignwaveOpt = None,
    image: draft.ImageOpt = None,
    announce: Annotated[
        bool, typer.Option("--announce/--no-announce", help="Also post a kind 1 note.")
    ] = True,
    yes: YesOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the signed events, publish nothing.")
    ] = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Ask for help: from a file (--from), flags, or prompts (-i, or a bare terminal).

    Shows a preview and asks before publishing (--yes skips it). Publishes the request
    and an announcement note, then prints the request's naddr.
    """
    from dataclasses import replace

    from shieldmutual.client.cli import requestprompt as prompt
    from shieldmutual.client.requests import publish_request
    from shieldmutual.client.state import LocalState
    from shieldmutual.shared import event as event_mod
    from shieldmutual.shared.aid.draft import compose
    from shieldmutual.shared.aid.markdown import parse_template
    from shieldmutual.shared.aid.notes import Announcement, announcement_template
    from shieldmutual.shared.aid.request import new_identifier, request_event_template

    state = common.state(ctx)
    fields = draft.flag_fields(
        title=title, summary=summary, location=location, amount=amount, currency=currency,
        deadline=deadline, language=language, geohash=geohash, society=society, tag=tag,
        lightning=lightning, onchain=onchain, other=other, call=call, signwave=signwave,
        image=image,
    )  # fmt: skip
    base = textin.read_source(from_) if from_ is not None else ""
    bare = from_ is None and not fields and story is None and textin.stdin_is_terminal()
    asked = interactive or bare or resume
    drafted = None
    if asked:
        followed = sorted(LocalState.load(state.home).follows)
        drafted = prompt.ask(state, followed, resume=resume)
        fields, story, details = drafted.request_fields(), drafted.story, drafted.details
    with prompt.kept(state, drafted, publishing=not dry_run):
        request = parse_template(compose(base, fields, story=story, details=details))
        if not asked:  # the prompts warned as the answer was typed
            draft.warn_location(state, request.location)
        if not request.identifier:
            request = replace(request, identifier=new_identifier())
        relays = state.relays(relay) if not dry_run else []
        stdin_used = from_ is not None and str(from_) == "-"
        author = draft.author_pubkey(state, as_)
        if not dry_run:
            draft.confirm_publish(state, request, author, relays, yes=yes, stdin_used=stdin_used)
        secret = state.signer(as_)
        event = event_mod.sign(secret, *request_event_template(request))
        note = Announcement.of(request, secret.public_hex, relays[:2])
        announcement = event_mod.sign(secret, *announcement_template(note))
        if dry_run:
            state.emit_encoded(event.to_json())
            state.emit_encoded(announcement.to_json())
            return

        async def send() -> tuple[PublishReport, PublishReport | None]:
            async with state.pool(relays) as pool:
                with state.status(f"publishing to {len(relays)} relays…"):
                    noted = announcement if announce else None
                    return await publish_request(pool, event, noted, min_acks)

        report, noted = common.run(send())
        pages = state.page_base([r.relay for r in report.results if r.ok])
        draft.show_request(state, report, min_acks, state.want_json(json_), noted, pages)


# ---- show / list ---------------------------------------------------------------------------


def viewer_key(state: common.State, as_: str | None, author: str) -> SecretKey | None:
    """The key of the identity running the command when it is the request's author (the
    one private pledges are wrapped to), else None: nobody else's view counts them.

    Not being able to tell who is running it (no home yet, no identity, no passphrase for
    a script reading with ``-r``) is the public view, never an error."""
    from shieldmutual.shared.errors import ShieldError

    if not state.paths.home_key_file.exists():
        return None
    try:
        name = state.identity_name(as_)
        if state.keystore.get(name).pubkey != author:
            return None
    except ShieldError:
        return None
    return state.signer(as_)


@app.command("show")
def show(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    private: Annotated[
        bool,
        typer.Option(
            "--private/--no-private",
            help="Your own request: count the private pledges wrapped to you "
            "(authenticates to relays as you).",
        ),
    ] = True,
    qr: Annotated[
        bool,
        typer.Option("--qr", help="Also print a QR code for each payment URI, to scan and pay."),
    ] = False,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """A request: story, details, how to help, progress, pledges, updates and reports.

    When you are its author, progress also counts the private pledges sent to you.
    """
    from shieldmutual.client.cli import aidrender, contacts
    from shieldmutual.client.cli.export import view_dict
    from shieldmutual.client.cli.qr import payment_codes
    from shieldmutual.client.errors import RelayError
    from shieldmutual.client.requests import read_request, with_private_pledges

    state = common.state(ctx)
    if qr and state.want_json(json_):
        raise InvalidError("--qr is for people; with --json each payment already has its uri")
    pointer = common.request_pointer(state, naddr)
    relays = state.relays(relay, pointer.relays)

    async def read() -> RequestView:
        async with state.pool(relays) as pool:
            with state.status("fetching the request and what was said about it…"):
                view = await read_request(pool, pointer, contacts.local_names(state))
        me = viewer_key(state, as_, view.found.address.pubkey) if private else None
        if me is None:
            return view
        async with state.pool(relays, auth=me) as mine:
            with state.status("reading the private pledges sent to you…"):
                try:
                    return await with_private_pledges(mine, me, view)
                except RelayError as exc:  # the public figures still stand on their own
                    state.warn(f"private pledges not counted: {exc}")
                    return view

    view = common.run(read())
    found, thread, names = view.found, view.thread, view.names
    link = found.naddr()
    if state.want_json(json_):
        author = names.fields(found.event.pubkey, "author_")
        state.emit_json({**view_dict(found, thread, link), **author})
    else:
        state.out.print(aidrender.request_view(found, thread, link, names=names))
        if qr:
            for part in payment_codes(found.request, state.out):
                state.out.print(part)


@app.command("list")
def list_(
    ctx: typer.Context,
    society: SocietyFilterOpt = None,
    status: StatusFilterOpt = None,
    language: LanguageFilterOpt = None,
    place: PlaceFilterOpt = None,
    author: Annotated[
        str | None, typer.Option("--author", metavar="NPUB", help="Only this person's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 50,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Requests in societies (default: the ones you follow, else every mutual aid request).

    Includes requests relayed into them (syndications); newest first. Each row shows its
    progress and warns of a request from a revoked or unattested emergency key.
    """
    from shieldmutual.client.cli import aidrender, contacts
    from shieldmutual.client.cli.feed import feed_filter, item_dict, item_naddr, listed
    from shieldmutual.client.cli.society import parse_slug
    from shieldmutual.client.feedthreads import list_stored
    from shieldmutual.client.state import LocalState
    from shieldmutual.shared.aid.feed import REQUEST
    from shieldmutual.shared.aid.society import mas_tag
    from shieldmutual.shared.nip19 import pubkey_hex

    state = common.state(ctx)
    tags = [mas_tag(parse_slug(s)) for s in society or ()]
    tags = tags or LocalState.load(state.home).follow_tags() or ["mutualaid"]
    flt = feed_filter(language, place, status)
    who = pubkey_hex(author) if author else None
    relays = state.relays(relay)

    async def collect() -> Listing:
        async with state.pool(relays) as pool:
            with state.status("collecting requests…"):
                return await list_stored(
                    pool, tags, flt, contacts.local_names(state), keep=by_author, limit=limit
                )

    def by_author(item: FeedItem) -> bool:
        return who is None or item.event.pubkey == who

    found = common.run(collect())
    items, threads, names = found.items, found.threads, found.names
    naddrs = {str(i.address): item_naddr(i, relays) for i in items}
    handles = common.remember(state, REQUEST, [listed(i, relays) for i in items])
    if state.want_json(json_):
        for item in items:
            key = str(item.address)
            by = names.fields(item.event.pubkey, "author_")
            line = item_dict(item, naddrs[key], thread=threads.get(key))
            state.emit_json({**line, **handles[key].fields(), **by})
    elif items:
        state.out.print(aidrender.requests_table(items, handles, threads, names=names))
    else:
        state.note("no requests found")


# ---- update / close --------------------------------------------------------------------------


@app.command("update")
def update(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    status: draft.StatusOpt = None,
    from_: FromOpt = None,
    title: draft.TitleOpt = None,
    summary: draft.SummaryOpt = None,
    story: draft.StoryOpt = None,
    details: draft.DetailsOpt = None,
    location: draft.LocationOpt = None,
    amount: draft.AmountOpt = None,
    currency: draft.CurrencyOpt = None,
    deadline: draft.DeadlineOpt = None,
    image: draft.ImageOpt = None,
    yes: YesOpt = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Edit your request: its status (--status funded), a field, or all of it (--from).

    Pledges, updates and reports stay attached: the address does not change. For ways
    to help, societies and the rest, edit the file:
    mas request template NADDR > r.md; (edit r.md); mas request update NADDR --from r.md
    """
    state = common.state(ctx)
    fields = draft.flag_fields(
        title=title, summary=summary, location=location, amount=amount, currency=currency,
        deadline=deadline, status=status, image=image,
    )  # fmt: skip
    if not fields and from_ is None and story is None and details is None:
        raise InvalidError("nothing to change: give --status, a field flag, or --from FILE")
    draft.edit_request(
        state, naddr, fields, relay=relay, yes=yes, min_acks=min_acks, as_=as_, json_out=json_,
        base_file=from_, story=story, details=details,
    )  # fmt: skip


@app.command("close")
def close(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    yes: YesOpt = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Mark your request closed: no longer needed. (Funded? use update --status funded.)"""
    state = common.state(ctx)
    edit = {"status": "closed"}
    draft.edit_request(
        state, naddr, edit, relay=relay, yes=yes, min_acks=min_acks, as_=as_, json_out=json_
    )
