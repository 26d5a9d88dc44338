"""Alarm episodes (shared/aid/alarm.py): one alarm per overdue episode per channel, one
all-clear to the channels that had the alarm, failures left due, nothing of the package."""

from __future__ import annotations

from types import SimpleNamespace

from shieldmutual.shared.aid.alarm import (
    Episode,
    Notice,
    advance,
    delivered,
    notice_text,
    pending,
    prune,
)
from shieldmutual.shared.aid.champion import Health, watch

HOUR = 3600
ADA, BO = "aa" * 32, "bb" * 32
CHANNELS = ["email:c@example.org", "exec:hook"]


def _member(pubkey: str, last_seen: int) -> SimpleNamespace:
    return SimpleNamespace(pubkey=pubkey, last_seen=last_seen, interval=HOUR)


def _look(episodes: list[Episode], members: list[SimpleNamespace], now: int) -> list[Episode]:
    return advance(episodes, [watch(m, now) for m in members])  # type: ignore[arg-type]


def _deliver_all(episodes: list[Episode], channels: list[str]) -> tuple[list[Episode], list]:
    sent = pending(episodes, channels)
    for due in sent:
        episodes = delivered(episodes, due)
    return prune(episodes, channels), sent


def test_one_alarm_per_episode_then_one_all_clear() -> None:
    ada = _member(ADA, 0)
    late = 2 * HOUR
    assert watch(ada, late).health is Health.OVERDUE  # type: ignore[arg-type]
    assert _look([], [ada], HOUR) == []  # due, not overdue: no episode yet
    episodes, sent = _deliver_all(_look([], [ada], late), CHANNELS)
    assert [(d.notice, d.channel) for d in sent] == [(Notice.ALARM, c) for c in CHANNELS]
    for later in (late + 1, late + 10 * HOUR):  # still silent: nothing more
        episodes, sent = _deliver_all(_look(episodes, [ada], later), CHANNELS)
        assert sent == []
    checked_in = _member(ADA, late + 5)
    episodes, sent = _deliver_all(_look(episodes, [checked_in], late + 6), CHANNELS)
    assert [(d.notice, d.channel) for d in sent] == [(Notice.ALL_CLEAR, c) for c in CHANNELS]
    assert episodes == []
    episodes, sent = _deliver_all(_look(episodes, [checked_in], late + 7), CHANNELS)
    assert sent == [] and episodes == []


def test_a_new_silence_after_a_check_in_is_a_new_episode() -> None:
    episodes, _ = _deliver_all(_look([], [_member(ADA, 0)], 2 * HOUR), CHANNELS[:1])
    # Checked in at 3h, silent again, and first looked at only at 6h.
    episodes, sent = _deliver_all(_look(episodes, [_member(ADA, 3 * HOUR)], 6 * HOUR), CHANNELS[:1])
    assert sorted((d.notice, d.episode.since) for d in sent) == [
        (Notice.ALARM, 3 * HOUR),
        (Notice.ALL_CLEAR, 0),
    ]
    assert [(e.member, e.since, e.over) for e in episodes] == [(ADA, 3 * HOUR, False)]


def test_a_failed_channel_stays_due_and_the_others_are_not_repeated() -> None:
    episodes = _look([], [_member(ADA, 0), _member(BO, 5 * HOUR)], 2 * HOUR)
    ada_mail, _ = pending(episodes, CHANNELS)
    episodes = delivered(episodes, ada_mail)  # the hook failed
    (again,) = pending(_look(episodes, [_member(ADA, 0)], 3 * HOUR), CHANNELS)
    assert again.channel == "exec:hook" and again.notice is Notice.ALARM
    # It checks in before the hook ever worked: only the mail had the alarm, so only the
    # mail gets the all-clear.
    over = _look(episodes, [_member(ADA, 3 * HOUR)], 3 * HOUR + 1)
    (clear,) = pending(over, CHANNELS)
    assert (clear.notice, clear.channel) == (Notice.ALL_CLEAR, "email:c@example.org")


def test_an_alarm_that_reached_nobody_needs_no_all_clear() -> None:
    episodes = _look([], [_member(ADA, 0)], 2 * HOUR)
    over = _look(episodes, [], 2 * HOUR + 1)  # released: no longer watched
    assert pending(over, CHANNELS) == [] and prune(over, CHANNELS) == []


def test_a_channel_added_later_gets_the_open_alarm() -> None:
    episodes, _ = _deliver_all(_look([], [_member(ADA, 0)], 2 * HOUR), CHANNELS[:1])
    (due,) = pending(_look(episodes, [_member(ADA, 0)], 3 * HOUR), CHANNELS)
    assert (due.notice, due.channel) == (Notice.ALARM, "exec:hook")


def test_episodes_round_trip_through_their_stored_form() -> None:
    episodes, _ = _deliver_all(_look([], [_member(ADA, 0)], 2 * HOUR), CHANNELS)
    assert [Episode.from_dict(e.to_dict()) for e in episodes] == episodes


def test_the_text_names_the_member_as_given_and_nothing_else() -> None:
    (due,) = pending(_look([], [_member(ADA, 0)], 2 * HOUR), CHANNELS[:1])
    subject, body = notice_text(due, "sisterjo", 2 * HOUR)
    assert "sisterjo" in subject and "sisterjo" in body and ADA not in subject + body
    assert "2h ago" in body and "1970-01-01 01:15 UTC" in body
    over = delivered(_look([due.episode], [], 2 * HOUR + 1), due)
    (clear,) = pending(over, CHANNELS[:1])
    assert "all-clear" in notice_text(clear, "sisterjo", 3 * HOUR)[0]
