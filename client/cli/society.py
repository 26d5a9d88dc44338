"""`mas society create/show/list` (following them is cli/follow.py).

A society *is* its tag, ``mas-<slug>``: creating one needs nothing but a slug, and a
published definition (NIP-72 kind 34550: name, description, language, relays, and for a
syndicate its member societies) only describes it. Following is local state
(client/state.py): it is never published, and the only thing a relay ever learns is
the query a feed sends, like any other search.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shieldmutual.client.cli import common
from shieldmutual.client.state import LocalState
from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.society import (
    Society,
    mas_tag,
    slug_from_tag,
    validate_slug,
)
from shieldmutual.shared.errors import AidError

if TYPE_CHECKING:  # `following` and `unfollow` are local: they must not load the pool
    from shieldmutual.client import aid

app = typer.Typer(
    help="Mutual aid societies: a society is its tag, mas-<slug>; definitions describe it.",
    no_args_is_help=True,
)

TagArg = Annotated[str, typer.Argument(metavar="mas-SLUG", help="The society's tag (or slug).")]
TagsArg = Annotated[list[str], typer.Argument(metavar="mas-SLUG...", help="Society tags.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", metavar="NPUB", help="Only the definition published by this person."),
]


def parse_slug(text: str) -> str:
    """``mas-leeds`` or ``leeds`` -> ``leeds`` (the tag form is what people share)."""
    value = text.strip()
    slug = slug_from_tag(value)
    return slug if slug is not None else validate_slug(value)


def member_address(text: str) -> Address | None:
    """A member society given as naddr or ``34550:<pubkey>:<slug>``; None for a bare tag."""
    value = text.strip()
    if value[:1].isdigit():
        return Address.parse(value, kinds.COMMUNITY)
    if value.startswith(("naddr1", "nostr:naddr1")):
        pointer = nip19.naddr_decode(value)
        if pointer.kind != kinds.COMMUNITY:
            raise AidError(f"--member {text!r} is not a society definition (kind 34550)")
        return Address(pointer.kind, pointer.pubkey, validate_slug(pointer.identifier))
    return None


def society_dict(record: aid.SocietyRecord | None, slug: str, **extra: Any) -> dict[str, Any]:
    s = record.society if record else None
    return {
        "tag": mas_tag(slug),
        "slug": slug,
        "name": s.name if s else None,
        "description": s.description if s else None,
        "language": s.language if s else None,
        "relays": list(s.relays) if s else [],
        "members": [mas_tag(m.identifier) for m in s.members] if s else [],
        "author": record.event.pubkey if record else None,
        "naddr": s.address(record.event.pubkey).naddr() if s and record else None,
        **extra,
    }


# ---- mas society create / show / list ---------------------------------------------------


@app.command("create")
def create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="e.g. leeds-care -> mas-leeds-care")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="Plain text.")] = None,
    language: Annotated[str | None, typer.Option("--language", help="ISO-639-1, e.g. en.")] = None,
    society_relay: Annotated[
        list[str] | None,
        typer.Option("--society-relay", metavar="URL", help="A relay its people use (repeat)."),
    ] = None,
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            metavar="mas-SLUG|NADDR",
            help="Make it a syndicate of this society (repeat).",
        ),
    ] = None,
    publish: Annotated[
        bool,
        typer.Option("--publish/--no-publish", help="Publish a definition (kind 34550)."),
    ] = True,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Start a society. Its tag, mas-SLUG, is all it needs; anyone may use it.

    By default a definition describing it (name, description, language, relays; for a
    syndicate, its member societies) is published. It names no people: a society has no
    membership list. --no-publish only checks the slug and prints the tag.
    """
    from shieldmutual.client import societies

    state = common.state(ctx)
    slug = parse_slug(slug)
    json_out = state.want_json(json_)
    if not publish:
        if json_out:
            state.emit_json({"tag": mas_tag(slug), "slug": slug, "published": False})
        else:
            state.emit_line(mas_tag(slug))
        state.note(f"nothing published; follow it with `mas follow {mas_tag(slug)}`")
        return
    relays, secret = state.relays_and_signer(relay, as_)

    society = Society(
        slug,
        (name or slug).strip(),
        (description or "").strip(),
        language,
        tuple(society_relay or ()),
    )
    wanted = [member_address(text) or parse_slug(text) for text in member or ()]
    connect = partial(state.pool, relays)
    published, report = common.run(societies.publish_definition(connect, secret, society, wanted))
    naddr = published.address(secret.public_hex).naddr(relays[:3])
    common.show_published(
        state, report, min_acks, json_out, naddr, tag=mas_tag(slug), published=True
    )


@app.command("show")
def show(
    ctx: typer.Context,
    tag: TagArg,
    by: ByOption = None,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Every published definition of a society (several people may describe one)."""
    from shieldmutual.client import societies
    from shieldmutual.client.cli import aidrender
    from shieldmutual.client.errors import NotFoundError
    from shieldmutual.shared.nip19 import pubkey_hex

    state = common.state(ctx)
    slug = parse_slug(tag)
    authors = [pubkey_hex(by)] if by else []
    relays = state.relays(relay)

    with state.status(f"looking for mas-{slug}…"):
        records = common.run(societies.definitions(partial(state.pool, relays), slug, authors))
    if not records:
        raise NotFoundError(
            f"no relay holds a definition of mas-{slug} (a society needs none: its tag is enough)"
        )
    following = slug in LocalState.load(state.home).follows
    for record in records:
        data = society_dict(record, slug, following=following)
        if state.want_json(json_):
            state.emit_json(data)
        else:
            state.out.print(aidrender.society_view(record, data["naddr"]))


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Recent requests to scan for tags in use.")
    ] = 500,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Discover societies on the relays: published definitions and tags used by requests.

    * marks the societies you follow.
    """
    from shieldmutual.client import societies
    from shieldmutual.client.cli import aidrender

    state = common.state(ctx)
    relays = state.relays(relay)

    with state.status("discovering societies…"):
        found = common.run(societies.discover(partial(state.pool, relays), limit))
    records, counts = found.records, found.requests
    followed = set(LocalState.load(state.home).follows)
    rows = [society_dict(r, r.society.slug, requests=counts[r.society.slug]) for r in records]
    defined = {r.society.slug for r in records}
    rows += [society_dict(None, s, requests=n) for s, n in counts.most_common() if s not in defined]
    for row in rows:
        row["following"] = row["slug"] in followed
        if state.want_json(json_):
            state.emit_json(row)
    if not state.want_json(json_):
        if rows:
            state.out.print(aidrender.societies_table(rows))
        else:
            state.note("no societies found on these relays")
