"""`mas champion add|list|remove` and `mas checkin`: naming the people who act if you go silent.

The member's side. `add` creates the emergency key E on first use and hands each
champion, gift-wrapped and naming only them: E's secret, the member's attestation for
E, the pre-written request (a `mas request template` file) and the check-in interval.
`remove` revokes E publicly (the revocation names E, never a champion), makes a new E
and hands it to the remaining champions, and tells the removed one to stand down.
`checkin` sends every champion an "I'm OK"; without ``--every`` it is one round, for
cron. Records are kept only in the sealed vault (client/vault.py).

The champion's side (`watch`, `activate`) is in cli/champion_watch.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shieldmutual.client.champions import (
    ChampionError,
    MyChampions,
    Sent,
    dm_relays,
    members_from_vault,
    send_checkins,
    send_packages,
    send_release,
)
from shieldmutual.client.cli import champion_watch, common
from shieldmutual.client.cli.events import pubkey_hex
from shieldmutual.client.errors import RelayError
from shieldmutual.client.timeparse import parse_duration
from shieldmutual.client.vault import Vault
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.champion import check_interval, format_duration, watch
from shieldmutual.shared.aid.markdown import parse_template

app = typer.Typer(
    help="Champions: people who ask for help on your behalf if you go silent.",
    no_args_is_help=True,
)
checkin_app = typer.Typer()

EveryOption = Annotated[
    str | None,
    typer.Option("--every", metavar="DURATION", help="Check-in interval, e.g. 12h or 1d."),
]


def _interval(every: str | None) -> int | None:
    return check_interval(parse_duration(every)) if every else None


def _report(state: common.State, sent: list[Sent], json_: bool) -> list[Sent]:
    """Print one line per message; the ones no relay accepted."""
    failed = [s for s in sent if not s.report.ok()]
    for s in sent:
        if state.want_json(json_):
            state.emit_json(
                {
                    "champion": nip19.npub_encode(s.champion),
                    "message": s.what,
                    "acks": s.report.acks,
                    "relays": len(s.report.results),
                }
            )
        else:
            mark = "ok  " if s.report.ok() else "FAIL"
            state.note(
                f"{mark} {s.what} to {nip19.npub_encode(s.champion)}: "
                f"{s.report.acks}/{len(s.report.results)} relays"
            )
    return failed


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    npub: Annotated[str, typer.Argument(metavar="NPUB", help="Your champion (npub or hex).")],
    request: Annotated[
        Path | None,
        typer.Option(
            "--request",
            metavar="FILE.md",
            help="The request to publish for you (`mas request template`); needed once.",
        ),
    ] = None,
    every: EveryOption = None,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Name a champion and hand them, privately, what they need to act for you."""
    state = common.state(ctx)
    champion = pubkey_hex(npub)
    markdown = request.read_text(encoding="utf-8") if request else None
    if markdown is not None:
        parse_template(markdown)  # a broken file is refused before anything is sent
    interval = _interval(every)
    relays, secret = state.relays_and_signer(relay, as_)
    if champion == secret.public_hex:
        raise ChampionError("you cannot be your own champion")
    now = int(time.time())
    with Vault.of(state.paths, secret).edit() as data:
        mine = MyChampions.from_vault(data)
        changed = (markdown is not None and markdown != mine.request_markdown) or (
            interval is not None and interval != mine.interval
        )
        mine.request_markdown = markdown or mine.request_markdown
        mine.interval = interval or mine.interval
        if mine.request_markdown is None:
            raise ChampionError("your first champion needs the request: pass --request FILE.md")
        if mine.emergency is None:
            mine.new_emergency_key(secret, now)
        others = [c for c in mine.champions if c != champion] if changed else []

        async def go() -> list[Sent]:
            connect = state.anonymous_pools(relays)
            async with connect() as lookup:
                found = await dm_relays(lookup, champion)
            mine.champions[champion] = {"added_at": now, "relays": found}
            return await send_packages(connect, secret, mine, [champion, *others], relays, now)

        sent = common.run(go())
        failed = _report(state, sent, json_)
        if any(s.champion == champion for s in failed):
            raise RelayError("no relay accepted the hand-over; nothing was recorded")
        mine.to_vault(data)
    state.note(
        f"{nip19.npub_encode(champion)} is your champion; check in every "
        f"{format_duration(mine.interval)} with `mas checkin`"
    )


@app.command("list")
def list_cmd(
    ctx: typer.Context, as_: common.AsOption = None, json_: common.JsonOption = False
) -> None:
    """Your champions, and the members you champion (local records only, no relays)."""
    state = common.state(ctx)
    secret = state.signer(as_)
    data = Vault.of(state.paths, secret).load()
    mine = MyChampions.from_vault(data)
    members = members_from_vault(data)
    now = int(time.time())
    if state.want_json(json_):
        for pubkey, info in mine.champions.items():
            state.emit_json(
                {
                    "role": "my-champion",
                    "npub": nip19.npub_encode(pubkey),
                    "added_at": info.get("added_at"),
                    "interval": mine.interval,
                    "last_checkin": mine.last_checkin,
                }
            )
        for member in members.values():
            row = watch(member, now).to_dict(now)
            state.emit_json(
                {"role": "i-champion", **row, "member": nip19.npub_encode(member.pubkey)}
            )
        return
    if mine.champions:
        table = Table(title="Your champions", title_justify="left", show_edge=False)
        for column in ("npub", "added"):
            table.add_column(column)
        for pubkey, info in mine.champions.items():
            added = time.strftime("%Y-%m-%d", time.localtime(info.get("added_at", 0)))
            table.add_row(nip19.npub_encode(pubkey), added)
        state.out.print(table, markup=False, highlight=False)
        last = mine.last_checkin
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last)) if last else "never"
        state.note(f"check-in every {format_duration(mine.interval)}; last sent: {when}")
    if members:
        state.out.print(champion_watch.watch_table(list(members.values()), now))
    if not mine.champions and not members:
        state.note("no champions, and you champion nobody (`mas champion add NPUB`)")


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    npub: Annotated[str, typer.Argument(metavar="NPUB", help="The champion to remove.")],
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Do not tell the removed champion to stand down.")
    ] = False,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Remove a champion: revoke the emergency key they hold and hand a new one to the rest."""
    state = common.state(ctx)
    champion = pubkey_hex(npub)
    relays, secret = state.relays_and_signer(relay, as_)
    now = int(time.time())
    with Vault.of(state.paths, secret).edit() as data:
        mine = MyChampions.from_vault(data)
        if champion not in mine.champions:
            raise ChampionError(f"{nip19.npub_encode(champion)} is not one of your champions")
        revocation = mine.revoke(secret, now)
        removed = mine.champions.pop(champion)

        async def go() -> list[Sent]:
            connect = state.anonymous_pools(relays)
            async with connect() as pool:
                report = await pool.publish(revocation)
            if not report.ok():
                raise RelayError("no relay accepted the revocation; nothing was changed")
            state.note(f"revocation of the old emergency key: {report.acks} relays")
            sent = await send_packages(connect, secret, mine, list(mine.champions), relays, now)
            if not quiet:
                relays_of = removed.get("relays", [])
                sent.append(await send_release(connect, secret, champion, relays_of, now))
            return sent

        _report(state, common.run(go()), json_)
        mine.to_vault(data)
    state.note(f"{nip19.npub_encode(champion)} removed; the emergency key they held is revoked")


@checkin_app.command("checkin")
def checkin_cmd(
    ctx: typer.Context,
    every: EveryOption = None,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Tell every champion you are OK. With --every, keep doing it; without, once (cron)."""
    state = common.state(ctx)
    interval = _interval(every)
    relays, secret = state.relays_and_signer(relay, as_)
    vault = Vault.of(state.paths, secret)
    while True:
        with vault.edit() as data:
            mine = MyChampions.from_vault(data)
            mine.interval = interval or mine.interval

            async def go(mine: MyChampions = mine) -> list[Sent]:
                connect = state.anonymous_pools(relays)
                return await send_checkins(connect, secret, mine, int(time.time()))

            failed = _report(state, common.run(go()), json_)
            mine.to_vault(data)
        if interval is None:
            if failed:
                raise RelayError(f"{len(failed)} champion(s) did not get the check-in")
            return
        time.sleep(interval)  # the loop's whole purpose; Ctrl-C ends it (exit 130)


app.command("watch")(champion_watch.watch_cmd)
app.command("activate")(champion_watch.activate_cmd)
