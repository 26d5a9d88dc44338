"""`mas champion add|list|remove` and `mas checkin`: naming the people who act if you go silent.

The member's side. `add` creates the emergency key E on first use and hands each
champion, gift-wrapped and naming only them: E's secret, the member's attestation for
E, the pre-written request (a `mas request template` file) and the check-in interval.
`remove` revokes E publicly (the revocation names E, never a champion), makes a new E
and hands it to the remaining champions, and tells the removed one to stand down.
`checkin` sends every champion an "I'm OK"; without ``--every`` it is one round, for
cron. Every message (and the revocation) is sent apart, on its own connection after its
own random delay (client/private_send.py), so the command waits until all are out.
Records are kept only in the sealed vault (client/vault.py).

The champion's side is in cli/champion_watch.py (`watch`, `accept`, `decline`) and
cli/champion_act.py (`activate`, then `update`, `fact`, `status`, `report`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from shieldmutual.client import dms
from shieldmutual.client.champions import (
    Championing,
    MyChampions,
    checkin_items,
    package_items,
    release_item,
)
from shieldmutual.client.cli import (
    champion_act,
    champion_watch,
    championrender,
    common,
    fmt,
    requestdraft,
    textin,
)
from shieldmutual.client.cli.contacts import local_names
from shieldmutual.client.errors import ChampionError, RelayError
from shieldmutual.client.pool import PublishReport
from shieldmutual.client.private_send import Outgoing
from shieldmutual.client.timeparse import parse_duration
from shieldmutual.client.vault import Vault
from shieldmutual.shared.aid.behalf import check_not_example
from shieldmutual.shared.aid.champion import check_interval, format_duration, watch
from shieldmutual.shared.aid.markdown import parse_template
from shieldmutual.shared.nip19 import pubkey_hex

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


Sent = list[tuple[Outgoing, PublishReport]]


def _send(state: common.State, relays: list[str], items: list[Outgoing], json_: bool) -> Sent:
    """Send apart (progress on stderr), a JSON line each with --json; the ones that failed."""
    sent = list(zip(items, state.send_private(relays, items), strict=True))
    if state.want_json(json_):
        for item, report in sent:
            state.emit_json(
                {
                    "champion": fmt.npub(item.to) if item.to else None,
                    "message": item.what,
                    "acks": report.acks,
                    "relays": len(report.results),
                }
            )
    return [(item, report) for item, report in sent if not report.ok()]


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
    markdown = textin.read_source(request) if request else None
    if markdown is not None:
        # Refused before anything is sent: a broken file, or the unedited template (it once
        # went out as someone's emergency request with the example's story and addresses).
        handed = check_not_example(parse_template(markdown))
        requestdraft.warn_location(state, handed.location)
    interval = _interval(every)
    relays, secret = state.relays_and_signer(relay, as_)
    if champion == secret.public_hex:
        raise ChampionError("you cannot be your own champion")
    now = int(time.time())
    with Vault(state.home, secret).edit() as data:
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

        theirs = common.run(dms.relay_list(state.anonymous_pools(relays), champion))
        mine.champions[champion] = {"added_at": now, "relays": theirs}
        items = package_items(secret, mine, [champion, *others], relays, now)
        failed = _send(state, relays, items, json_)
        if any(item.to == champion for item, _ in failed):
            raise RelayError("no relay accepted the hand-over; nothing was recorded")
        mine.to_vault(data)
    state.note(
        f"{fmt.npub(champion)} is your champion; check in every "
        f"{format_duration(mine.interval)} with `mas checkin`"
    )


@app.command("list")
def list_cmd(
    ctx: typer.Context, as_: common.AsOption = None, json_: common.JsonOption = False
) -> None:
    """Your champions, and the members you champion (local records only, no relays)."""
    state = common.state(ctx)
    secret = state.signer(as_)
    data = Vault(state.home, secret).load()
    mine = MyChampions.from_vault(data)
    championing = Championing.from_vault(data)
    members = championing.members
    now = int(time.time())
    names = local_names(state)  # petnames only: never a relay query about these people
    if state.want_json(json_):
        for pubkey, info in mine.champions.items():
            state.emit_json(
                {
                    "role": "my-champion",
                    "npub": fmt.npub(pubkey),
                    "petname": names.petnames.get(pubkey),
                    "added_at": info.get("added_at"),
                    "interval": mine.interval,
                    "last_checkin": mine.last_checkin,
                }
            )
        for member in members.values():
            row = watch(member, now).to_dict(now)
            state.emit_json({"role": "i-champion", **row, "member": fmt.npub(member.pubkey)})
        for pubkey in championing.pending:
            state.emit_json({"role": "pending", "member": fmt.npub(pubkey)})
        return
    if mine.champions:
        table = championrender.champions_table(mine, names)
        state.out.print(table, markup=False, highlight=False)
        last = mine.last_checkin
        when = fmt.moment(last or None, "never")
        state.note(f"check-in every {format_duration(mine.interval)}; last sent: {when}")
    if members:
        state.out.print(championrender.watch_table(list(members.values()), now, names))
    champion_watch.note_pending(state, championing)
    if not mine.champions and not members and not championing.pending:
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
    with Vault(state.home, secret).edit() as data:
        mine = MyChampions.from_vault(data)
        if champion not in mine.champions:
            raise ChampionError(f"{fmt.npub(champion)} is not one of your champions")
        revocation = mine.revoke(secret, now)
        removed = mine.champions.pop(champion)
        items = [
            Outgoing(revocation, "revocation of the old emergency key"),
            *package_items(secret, mine, list(mine.champions), relays, now),
        ]
        if not quiet:
            items.append(release_item(secret, champion, removed.get("relays", []), now))
        # The champions now hold the new key whatever the relays said: record it.
        mine.to_vault(data)
        failed = _send(state, relays, items, json_)
    if any(item.event is revocation for item, _ in failed):
        raise RelayError(
            "no relay accepted the revocation; your remaining champions hold it in their "
            "new package and publish it if they act for you"
        )
    state.note(f"{fmt.npub(champion)} removed; the emergency key they held is revoked")


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
    vault = Vault(state.home, secret)
    while True:
        with vault.edit() as data:
            mine = MyChampions.from_vault(data)
            mine.interval = interval or mine.interval
            now = int(time.time())
            failed = _send(state, relays, checkin_items(secret, mine, now), json_)
            mine.last_checkin = now
            mine.to_vault(data)
        if interval is None:
            if failed:
                raise RelayError(f"{len(failed)} champion(s) did not get the check-in")
            return
        time.sleep(interval)  # the loop's whole purpose; Ctrl-C ends it (exit 130)


app.command("watch")(champion_watch.watch_cmd)
app.command("accept")(champion_watch.accept_cmd)
app.command("decline")(champion_watch.decline_cmd)
app.command("activate")(champion_act.activate_cmd)
app.command("update")(champion_act.update_cmd)
app.command("fact")(champion_act.fact_cmd)
app.command("status")(champion_act.status_cmd)
app.command("report")(champion_act.report_cmd)
