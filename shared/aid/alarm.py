"""One alarm per overdue episode and one all-clear when it ends: what to tell which channel.

An *episode* begins when a watched member becomes overdue (shared/aid/champion.py's
:func:`watch`) and ends when they no longer are: a check-in, or they released the
champion. It is keyed by the member and their last check-in before the silence, so a
new silence after a check-in is a new episode, and a look that finds the member overdue
again for the same silence is not.

Each channel (an email address, a command, the desktop) is told once: an episode keeps
which channels have had its alarm, so a delivery that failed is tried again at the next
look while the channels that got it are not told twice, and only channels that had the
alarm get the all-clear. The caller keeps episodes between looks (in the champion's
sealed vault, so a cron-run ``--once`` remembers them): they name members, so they are
never written in plain text. Pure: no I/O, ``now`` is a parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from shieldmutual.shared.aid.champion import Health, Watch, format_duration
from shieldmutual.shared.aid.utcdates import utc_minute
from shieldmutual.shared.errors import AidError


class Notice(StrEnum):
    ALARM = "alarm"
    ALL_CLEAR = "all-clear"


@dataclass(frozen=True, slots=True)
class Episode:
    member: str
    since: int  # the last check-in before the silence
    overdue_at: int
    alarmed: frozenset[str] = field(default_factory=frozenset)  # channels told of the alarm
    cleared: frozenset[str] = field(default_factory=frozenset)  # channels told it is over
    over: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "since": self.since,
            "overdue_at": self.overdue_at,
            "alarmed": sorted(self.alarmed),
            "cleared": sorted(self.cleared),
            "over": self.over,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Episode:
        try:
            return cls(
                str(raw["member"]),
                int(raw["since"]),
                int(raw["overdue_at"]),
                frozenset(map(str, raw.get("alarmed", ()))),
                frozenset(map(str, raw.get("cleared", ()))),
                bool(raw.get("over", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AidError(f"damaged alarm record: {exc}") from None


@dataclass(frozen=True, slots=True)
class Due:
    """One notice to send on one channel."""

    notice: Notice
    channel: str
    episode: Episode


def advance(episodes: Iterable[Episode], watches: Iterable[Watch]) -> list[Episode]:
    """Open an episode for every member overdue for a silence not yet known; mark over the
    episodes whose member is no longer overdue for that silence (or no longer watched)."""
    overdue = {(w.member, w.last_seen): w for w in watches if w.health is Health.OVERDUE}
    out = []
    for episode in episodes:
        still = overdue.pop((episode.member, episode.since), None) is not None
        out.append(episode if still or episode.over else replace(episode, over=True))
    out += [Episode(w.member, w.last_seen, w.overdue_at) for w in overdue.values()]
    return out


def pending(episodes: Iterable[Episode], channels: Sequence[str]) -> list[Due]:
    """The alarms and all-clears not yet delivered on these channels."""
    out = []
    for episode in episodes:
        for channel in channels:
            if not episode.over and channel not in episode.alarmed:
                out.append(Due(Notice.ALARM, channel, episode))
            elif episode.over and channel in episode.alarmed - episode.cleared:
                out.append(Due(Notice.ALL_CLEAR, channel, episode))
    return out


def delivered(episodes: Iterable[Episode], due: Due) -> list[Episode]:
    """Record that ``due`` reached its channel."""
    key = (due.episode.member, due.episode.since)
    out = []
    for episode in episodes:
        if (episode.member, episode.since) == key:
            if due.notice is Notice.ALARM:
                episode = replace(episode, alarmed=episode.alarmed | {due.channel})
            else:
                episode = replace(episode, cleared=episode.cleared | {due.channel})
        out.append(episode)
    return out


def prune(episodes: Iterable[Episode], channels: Collection[str]) -> list[Episode]:
    """Forget episodes that are over with no all-clear left to send on these channels (an
    alarm that reached nobody needs no all-clear)."""
    wanted = set(channels)
    return [e for e in episodes if not e.over or (e.alarmed - e.cleared) & wanted]


def notice_text(due: Due, who: str, now: int) -> tuple[str, str]:
    """(subject, body) of a notice. ``who`` is how the champion calls the member (a
    petname or a short npub); nothing of the member's package is in it."""
    episode = due.episode
    if due.notice is Notice.ALARM:
        return (
            f"Shield Mutual alarm: {who} has not checked in",
            f"{who} has not checked in since {utc_minute(episode.since)} "
            f"({format_duration(now - episode.since)} ago; overdue since "
            f"{utc_minute(episode.overdue_at)}).\n\n"
            "Find out what happened. Nothing has been published. If they need help, "
            "`mas champion watch` on your computer shows how to act.\n",
        )
    return (
        f"Shield Mutual all-clear: {who} is no longer overdue",
        f"{who} is no longer overdue (they checked in, or no longer need you as a "
        f"champion); the alarm of {utc_minute(episode.overdue_at)} is over.\n",
    )
