"""`mas champion watch|accept|decline`: the champion's side, up to the decision to act.

`watch` reads the gift wraps addressed to you (authenticated as you, NIP-42), keeps
the hand-overs, check-ins and stand-downs in the sealed vault, and shows each member's
last check-in and when it becomes overdue, live, with a bell when someone goes silent.
It never publishes anything: silence can have innocent reasons, so a person must find
out what happened and then decide. ``--notify`` (client/notify.py) tells that person
away from the terminal: one alarm per overdue episode and one all-clear
(shared/aid/alarm.py), remembered in the vault so a cron-run ``--once`` repeats
neither; ``--once`` exits 5 while anyone is overdue.

A hand-over from someone not yet accepted waits as pending: it is not watched, its
relays are not dialled and it raises no alarm until `accept` (or is dropped by
`decline`); anyone can send anyone a hand-over.

`activate` is that decision, and `update`, `fact`, `status` and `report` follow it
(cli/champion_act.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.live import Live

from shieldmutual.client.champions import Championing, refresh
from shieldmutual.client.cli import championrender, common, fmt
from shieldmutual.client.cli.contacts import local_names
from shieldmutual.client.names import NO_NAMES, Names
from shieldmutual.client.notify import Message, Notifier
from shieldmutual.client.pool import Pool
from shieldmutual.client.timeparse import parse_time
from shieldmutual.client.vault import Vault, VaultRecord
from shieldmutual.shared.aid.alarm import (
    Due,
    Episode,
    advance,
    delivered,
    notice_text,
    pending,
    prune,
)
from shieldmutual.shared.aid.champion import Health, Member, format_duration, watch
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip19 import pubkey_hex


def alarm_lines(members: Sequence[Member], now: int, names: Names = NO_NAMES) -> list[str]:
    lines = []
    for member in members:
        w = watch(member, now)
        if w.health is Health.OVERDUE:
            npub = fmt.npub(member.pubkey)
            who = names.petnames.get(member.pubkey, npub)
            lines.append(
                f"ALARM: {who} has not checked in for {format_duration(now - w.last_seen)}. "
                "Find out what happened; nothing has been published. If they need help: "
                f"mas champion activate {npub}"
            )
    return lines


def _ring(state: common.State, force: bool) -> None:
    if force or state.err.is_terminal:
        state.err.file.write("\a")
        state.err.file.flush()


NotifyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        metavar="CHANNEL",
        help="Also tell email:ADDR, exec:CMD (text on its stdin) or desktop: one alarm per "
        "overdue episode, one all-clear (repeat).",
    ),
]


def _episodes(data: VaultRecord) -> list[Episode]:
    return [Episode.from_dict(raw) for raw in data.get("alarms") or ()]


def _message(due: Due, names: Names, now: int) -> Message:
    member = due.episode.member
    subject, body = notice_text(due, names.petnames.get(member) or fmt.short_npub(member), now)
    return Message(str(due.notice), subject, body)


def _due_now(episodes: list[Episode], members: Iterable[Member], now: int, n: Notifier) -> bool:
    """Whether any notice waits on a channel ready to try: the vault is opened only then."""
    due = pending(advance(episodes, (watch(m, now) for m in members)), n.specs)
    return any(n.ready(d.channel) for d in due)


def tell(
    vault: Vault, notifier: Notifier, members: Iterable[Member], now: int, names: Names
) -> list[Episode]:
    """Send the alarms and all-clears due and remember them in the vault (sealed: an
    episode names a member), under its lock so overlapping cron runs do not both send.
    A failed delivery stays due for the next look."""
    with vault.edit() as data:
        episodes = advance(_episodes(data), (watch(m, now) for m in members))
        for due in pending(episodes, notifier.specs):
            ready = notifier.ready(due.channel)
            if ready and notifier.send(due.channel, _message(due, names, now)):
                episodes = delivered(episodes, due)
        episodes = prune(episodes, notifier.specs)
        data["alarms"] = [e.to_dict() for e in episodes]
    return episodes


def sync(state: common.State, secret: SecretKey, relays: list[str]) -> Championing:
    """The champion's record brought up to date from the relays (champions.refresh)."""

    def connect(urls: Sequence[str]) -> Pool:
        return state.pool(list(urls), auth=secret)

    return common.run(refresh(Vault(state.home, secret), secret, relays, connect))


def note_pending(state: common.State, championing: Championing) -> None:
    """Say which hand-overs wait for a yes; nothing is watched or alarmed for them."""
    for pubkey in championing.pending:
        npub = fmt.npub(pubkey)
        state.warn(
            f"{npub} asks you to be their champion; nothing is watched for them until you "
            f"`mas champion accept {npub}` (or `mas champion decline {npub}`)"
        )


def watch_cmd(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Look once, print, and exit.")] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", metavar="TIME", hidden=True, help="Judge as if it were this time (tests)."
        ),
    ] = None,
    refresh: Annotated[
        float,
        typer.Option(
            "--refresh", min=1, metavar="SECONDS", help="Seconds between looks at the relays."
        ),
    ] = 60,
    bell: Annotated[
        bool, typer.Option("--bell/--no-bell", help="Ring the terminal bell when overdue.")
    ] = True,
    notify: NotifyOption = None,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Watch the members you champion: last check-in, when overdue, and an alarm.

    With --once, exits 5 while anyone is overdue (for cron and monitoring).
    """
    state = common.state(ctx)
    fixed = parse_time(now) if now else None
    notifier = Notifier.parse(notify, state.home, state.warn)  # bad channels fail first
    relays, secret = state.relays_and_signer(relay, as_)
    # Petnames only: looking up members' profiles would tell relays whom you champion.
    names = local_names(state)

    def clock() -> int:
        return fixed if fixed is not None else int(time.time())

    def emit_json(members: dict[str, Member]) -> None:
        for member in members.values():
            row = watch(member, clock()).to_dict(clock())
            npub, petname = fmt.npub(member.pubkey), names.petnames.get(member.pubkey)
            state.emit_json({**row, "member": npub, "member_petname": petname})

    if once:
        championing = sync(state, secret, relays)
        note_pending(state, championing)
        members = championing.members
        if state.want_json(json_):
            emit_json(members)
        else:
            state.out.print(championrender.watch_table(list(members.values()), clock(), names))
        alarms = alarm_lines(list(members.values()), clock(), names)
        for line in alarms:
            state.err.print(line, style="bold red", markup=False, highlight=False)
        if alarms and bell:
            _ring(state, force=False)
        if notifier.channels:
            tell(Vault(state.home, secret), notifier, members.values(), clock(), names)
        if alarms:
            raise typer.Exit(common.EXIT_OVERDUE)
        return
    _live(state, secret, relays, clock, refresh, bell, json_, emit_json, names, notifier)


def _live(
    state: common.State,
    secret: SecretKey,
    relays: list[str],
    clock: Any,
    refresh: float,
    bell: bool,
    json_: bool,
    emit_json: Any,
    names: Names,
    notifier: Notifier,
) -> None:
    """Look at the relays every ``refresh`` seconds; redraw every second in between."""
    alarmed: set[str] = set()
    vault = Vault(state.home, secret)
    episodes = _episodes(vault.load()) if notifier.channels else []
    last_json: dict[str, str] = {}
    with Live(console=state.err, auto_refresh=False, transient=False) as live:
        while True:
            members = sync(state, secret, relays).members
            deadline = time.monotonic() + refresh
            while time.monotonic() < deadline:
                now = clock()
                overdue = {p for p, m in members.items() if watch(m, now).health is Health.OVERDUE}
                if overdue - alarmed and bell:
                    _ring(state, force=True)
                alarmed = overdue
                if notifier.channels and _due_now(episodes, members.values(), now, notifier):
                    episodes = tell(vault, notifier, members.values(), now, names)
                if state.want_json(json_):
                    for pubkey, member in members.items():
                        status = str(watch(member, now).health)
                        if last_json.get(pubkey) != status:
                            last_json[pubkey] = status
                            emit_json({pubkey: member})
                lines = alarm_lines(list(members.values()), now, names)
                view = championrender.live_view(members.values(), now, names, lines)
                live.update(view, refresh=True)
                time.sleep(1)  # the redraw tick of a live view, not a wait in a test


def _consent_cmd(ctx: typer.Context, member: str, as_: str | None, yes: bool) -> None:
    state = common.state(ctx)
    member_hex = pubkey_hex(member)
    secret = state.signer(as_)
    with Vault(state.home, secret).edit() as data:
        championing = Championing.from_vault(data)
        if yes:
            championing.accept(member_hex)
        else:
            championing.decline(member_hex)
        championing.to_vault(data)
    npub = fmt.npub(member_hex)
    state.note(
        f"you champion {npub}: `mas champion watch` keeps an eye on their check-ins"
        if yes
        else f"declined {npub}: nothing of theirs is watched (a newer hand-over asks again)"
    )


MemberArg = Annotated[str, typer.Argument(metavar="MEMBER", help="The member (npub or hex).")]


def accept_cmd(ctx: typer.Context, member: MemberArg, as_: common.AsOption = None) -> None:
    """Agree to champion someone whose hand-over is waiting (local; publishes nothing)."""
    _consent_cmd(ctx, member, as_, yes=True)


def decline_cmd(ctx: typer.Context, member: MemberArg, as_: common.AsOption = None) -> None:
    """Refuse a waiting hand-over, or stop championing someone (local; publishes nothing)."""
    _consent_cmd(ctx, member, as_, yes=False)
