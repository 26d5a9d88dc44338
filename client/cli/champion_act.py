"""`mas champion activate|update|fact|status|report`: a champion sees a request through.

Everything here is published signed by the member's emergency key E, through a
connection that never authenticates as the champion (a throwaway NIP-42 key), with the
member's relay as the only hint: no published event names or points at the champion.

`activate` is the decision to speak for the member. Silence can have innocent reasons,
so it is refused while the member is not overdue unless ``--reason -`` says how a person
confirmed the emergency. The reason can name people (who called, who saw the arrest),
so it is read like other private text, from stdin or $EDITOR, never the command line
(`ps`, shell history), and it is never published: it goes only to the member, in the
NIP-17 message that tells them who activated and when. After an explicit confirmation
(``--yes`` for scripts) it publishes the attestation, earlier revocations, the request
and, the first time, an announcement note.

`update` (news), `fact` (appended to Details, dated), `status` and `report` (the
spending report) then keep that one request going. Each, and a second `activate`, first
fetches the version relays hold and edits it: two champions acting one after the other
edit one request, and a later champion's facts come after the earlier one's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated

import typer

from shieldmutual.client import aid, behalf
from shieldmutual.client.champions import (
    Championing,
    activation,
    sign_version,
)
from shieldmutual.client.cli import championrender, common, fmt, textin
from shieldmutual.client.cli.champion_watch import MemberArg, sync
from shieldmutual.client.cli.helping import (
    ReportFromOption,
    ReportSummaryOption,
    ReportTitleOption,
    read_report,
)
from shieldmutual.client.errors import ChampionError, RelayError
from shieldmutual.client.helping import spending_report
from shieldmutual.client.private_send import Outgoing
from shieldmutual.client.timeparse import parse_time
from shieldmutual.client.vault import Vault
from shieldmutual.shared import event as event_mod
from shieldmutual.shared import nip17
from shieldmutual.shared.aid.behalf import activation_notice, add_fact
from shieldmutual.shared.aid.champion import Health, Member, Package, format_duration, watch
from shieldmutual.shared.aid.comments import RequestRef, Update, update_template
from shieldmutual.shared.aid.common import Address, normalize_text
from shieldmutual.shared.aid.request import Status, parse_request
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip19 import pubkey_hex


def _held(
    state: common.State, secret: SecretKey, relays: list[str], member: str, fresh: bool
) -> Member:
    """The member we champion, from the sealed record, read again from our gift wraps
    when ``fresh`` or when the record lacks them. Reading wraps authenticates as us,
    which is why the edits after activation use the record `watch` keeps."""
    members = Championing.from_vault(Vault(state.home, secret).load()).members
    if fresh or member not in members:
        members = sync(state, secret, relays).members
    held = members.get(member)
    if held is None:
        raise ChampionError(
            f"you hold no champion hand-over from {fmt.npub(member)} that you "
            "accepted (a waiting one needs `mas champion accept` first)"
        )
    return held


# ---- activate ----------------------------------------------------------------------------


def _require_overdue_or_reason(
    member: str, health: Health, seen: int, at: int, reason: str
) -> None:
    if health is Health.OVERDUE or reason:
        return
    raise InvalidError(
        f"{fmt.npub(member)} is not overdue (last check-in {fmt.moment(seen)}, "
        f"{format_duration(at - seen)} ago): activate early only when a person confirmed "
        "they need help, and say how with --reason - (stdin or $EDITOR; it goes only to "
        "the member, never published)"
    )


def _notice(secret: SecretKey, member: str, naddr: str, title: str, reason: str) -> Event:
    """The member's private message: which champion activated, when, and why."""
    text = activation_notice(fmt.npub(secret.public_hex), int(time.time()), title, naddr, reason)
    rumor = nip17.dm_rumor(secret.public_hex, [member], text)
    return nip17.wrap_dm(secret, rumor, include_self=False)[member]


def activate_cmd(
    ctx: typer.Context,
    member: MemberArg,
    facts: Annotated[
        str | None,
        typer.Option(
            "--facts",
            metavar="-",
            help="Add what you know (when, where, what): - reads it from stdin, or $EDITOR.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="-",
            help="Before they are overdue: how a person confirmed it (- is stdin, or "
            "$EDITOR). Sent only to the member, never published.",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", metavar="TIME", hidden=True, help="Judge overdue as if it were this time."
        ),
    ] = None,
    yes: common.YesOption = False,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Publish a member's emergency request on their behalf, signed by their emergency key."""
    state = common.state(ctx)
    member_hex = pubkey_hex(member)
    if facts == reason == "-" and not textin.stdin_is_terminal():
        raise InvalidError(
            "--facts - and --reason - cannot both read stdin: add facts later with "
            "`mas champion fact`, or run it in a terminal ($EDITOR)"
        )
    facts = textin.private_text(facts, "activation facts").strip()
    why = normalize_text(textin.private_text(reason, "the reason"))
    at = parse_time(now) if now else int(time.time())
    relays, secret = state.relays_and_signer(relay, as_)
    # The latest check-ins first: a stale record would make a member who checked in an
    # hour ago look silent. (A relay logging addresses sees this AUTH and then the
    # anonymous publication from one address; PROTOCOL §13.5 says to use Tor.)
    held = _held(state, secret, relays, member_hex, fresh=True)
    seen = watch(held, at)
    _require_overdue_or_reason(member_hex, seen.health, seen.last_seen, at, why)
    package = held.package
    targets = list(dict.fromkeys([*relays, *package.relays]))
    connect = state.anonymous_pools(targets)

    current = common.run(behalf.fetch_published(connect, package))
    act = activation(package, facts, int(time.time()), current)
    request = parse_request(act.request)
    preview = championrender.activation_preview(member_hex, request, facts, targets, current)
    state.err.print(preview)
    if not yes:
        if not textin.stdin_is_terminal():
            raise InvalidError(
                "activation needs a person's confirmation: run it in a terminal or pass --yes"
            )
        typer.confirm(
            "Publish this request now? A person should have confirmed the emergency", abort=True
        )

    reports = common.run(behalf.publish_in_order(connect, act.events))
    request_report = reports[act.events.index(act.request)]
    naddr = request.naddr(act.request.pubkey, package.relays[:2])
    told = None
    if request_report.ok():
        notice = _notice(secret, member_hex, naddr, request.title, why)
        item = Outgoing(notice, "activation notice", member_hex, package.relays, lookup=True)
        (told,) = state.send_private(targets, [item])
    if state.want_json(json_):
        state.emit_json(
            {
                "naddr": naddr,
                "member": fmt.npub(member_hex),
                "edited": current is not None,
                "overdue": seen.health is Health.OVERDUE,
                "notice_acks": told.acks if told else 0,
                "results": [r.to_dict() for rep in reports for r in rep.results],
            }
        )
    else:
        for rep in reports:
            state.note(
                f"kind {rep.event.kind} {rep.event.id[:12]}…: {rep.acks}/{len(rep.results)} relays"
            )
        state.emit_line(naddr)
    if not request_report.ok() or not reports[0].ok():
        raise RelayError("the request or the attestation reached no relay")
    if told is not None and not told.ok():
        state.warn("no relay took the private message telling the member; tell them yourself")


# ---- after activation: update, fact, status, report ------------------------------------


@dataclass(frozen=True, slots=True)
class Acting:
    """A champion about to edit a member's published request."""

    state: common.State
    member: str
    package: Package
    targets: list[str]


def _acting(ctx: typer.Context, member: str, relay: list[str] | None, as_: str | None) -> Acting:
    state = common.state(ctx)
    member_hex = pubkey_hex(member)
    relays, secret = state.relays_and_signer(relay, as_)
    package = _held(state, secret, relays, member_hex, fresh=False).package
    return Acting(state, member_hex, package, list(dict.fromkeys([*relays, *package.relays])))


def _edit_published(
    acting: Acting, edit: behalf.Edit, json_: bool, pointer: Callable[[Event], str]
) -> None:
    """Edit the version relays hold (client/behalf.py), without authenticating as the
    champion, and show what each relay said."""
    package, state = acting.package, acting.state
    connect = state.anonymous_pools(acting.targets)
    edited = common.run(behalf.edit_published(connect, package, edit))
    naddr = edited.record.naddr(package.relays[:2])
    if edited.report is None:
        state.note("nothing changed; nothing published")
        state.emit_line(naddr)
        return
    json_out = state.want_json(json_)
    npub = fmt.npub(acting.member)
    shown = pointer(edited.report.event)
    common.show_published(state, edited.report, 1, json_out, shown, member=npub, request=naddr)


def _nevent(package: Package) -> Callable[[Event], str]:
    return lambda event: common.nevent(event, list(package.relays[:2]))


def _request_naddr(package: Package) -> Callable[[Event], str]:
    return lambda event: aid.RequestRecord(event, parse_request(event)).naddr(package.relays[:2])


def _text(what: str) -> str:
    """Public text a champion writes: stdin, or $EDITOR in a terminal (it may name people
    who would rather not be in a shell history)."""
    return textin.nonempty_text(textin.private_text("-", what), what)


def update_cmd(
    ctx: typer.Context,
    member: MemberArg,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Post news under the member's request (text from stdin, or $EDITOR), signed by E."""
    news = _text("update")
    acting = _acting(ctx, member, relay, as_)
    package = acting.package

    async def edit(published: behalf.Published) -> Event:
        current = published.record
        ref = RequestRef.of(current.event, current.relays[0] if current.relays else "")
        return event_mod.sign(package.emergency_key, *update_template(Update(ref, news)))

    _edit_published(acting, edit, json_, _nevent(package))


def fact_cmd(
    ctx: typer.Context,
    member: MemberArg,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Add a fact to the member's request (stdin, or $EDITOR), dated, after the others.

    Facts are appended to Details, never replacing earlier ones, whoever wrote them.
    """
    fact = _text("fact")
    acting = _acting(ctx, member, relay, as_)
    package = acting.package

    async def edit(published: behalf.Published) -> Event:
        current, now = published.record, int(time.time())
        return sign_version(package, add_fact(current.request, fact, now), now, current.event)

    _edit_published(acting, edit, json_, _request_naddr(package))


def status_cmd(
    ctx: typer.Context,
    member: MemberArg,
    status: Annotated[Status, typer.Argument(metavar="STATUS", help="What the request is now.")],
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Mark the member's request funded, closed or open again, as the member would."""
    acting = _acting(ctx, member, relay, as_)
    package = acting.package

    async def edit(published: behalf.Published) -> Event | None:
        current = published.record
        changed = replace(current.request, status=status)
        if changed == current.request:
            return None
        return sign_version(package, changed, int(time.time()), current.event)

    _edit_published(acting, edit, json_, _request_naddr(package))


def report_cmd(
    ctx: typer.Context,
    member: MemberArg,
    from_: ReportFromOption,
    title: ReportTitleOption = None,
    summary: ReportSummaryOption = "",
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Publish (or edit) the spending report the member would, signed by E (NIP-23)."""
    the_title, body = read_report(from_, title)
    acting = _acting(ctx, member, relay, as_)
    package = acting.package

    async def edit(published: behalf.Published) -> Event:
        thread = await published.thread()
        emergency = package.emergency_key
        event, _ = spending_report(emergency, published.record, thread, the_title, body, summary)
        return event

    def pointer(event: Event) -> str:
        return Address.of(event).naddr(package.relays[:2])

    _edit_published(acting, edit, json_, pointer)
