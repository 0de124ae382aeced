"""Issue 26, loud when it matters (conversations/loudness.py): the core's table of which
messages ring, on the injected clock — urgency is a property of the step, and holds whenever
it is sent (on time, or late by a catch-up at night); a restart notice never rings at night."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations import escalation, loudness, schedule
from conversations.loudness import Notice
from conversations.reminder_kinds import ReminderKind
from tests.conftest import T0
from tests.conversations.support import PARIS

ADMISSION = T0.astimezone(PARIS).date()  # the suite's clock
LAST_DAY = ADMISSION + dt.timedelta(days=3)

D0 = ReminderKind.D0_WINDOW
ESC = ReminderKind.ESCALATION


def on(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local wall-clock time in Paris, as the sender's `now` (UTC)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(dt.UTC)


def test_the_window_steps_are_the_ones_the_schedule_writes() -> None:
    steps = {s.step for s in schedule.d0_window_steps(ADMISSION, PARIS)}
    assert steps >= loudness.URGENT_D0_WINDOW_STEPS
    assert {"last_day_afternoon", "last_day_evening", "window_closed"} == (
        loudness.URGENT_D0_WINDOW_STEPS
    )
    plan = escalation.window_plan(ADMISSION, PARIS)
    urgent = {e.step for e in plan if e.urgent}
    assert urgent == loudness.URGENT_ESCALATION_STEPS == {"no_plan_last_day"}


#: (what, kind, step, when it is sent, rings?)
TABLE = [
    # In the day everything rings.
    ("day 1 at 08:00", D0, "day_1", on(ADMISSION + dt.timedelta(days=1), 8), True),
    ("follow-up at 08:00", ReminderKind.FOLLOW_UP, "reepithelialisation_d7", on(LAST_DAY, 8), True),
    ("20:00 step on time", D0, "last_day_evening", on(LAST_DAY, 20), True),
    ("10:00 escalation", ESC, "unacknowledged_1", on(ADMISSION + dt.timedelta(days=1), 10), True),
    ("21:59, not yet quiet", D0, "day_2", on(LAST_DAY, 21, 59), True),
    ("07:00, quiet hours over", ReminderKind.PENDING, "daily", on(LAST_DAY, 7), True),
    # Urgent: rings whenever sent, late at night by a catch-up included.
    ("20:00 step caught up at 22:35", D0, "last_day_evening", on(LAST_DAY, 22, 35), True),
    ("14:00 step caught up at 22:35", D0, "last_day_afternoon", on(LAST_DAY, 22, 35), True),
    ("coordinators' 14:00 escalation at 23:00", ESC, "no_plan_last_day", on(LAST_DAY, 23), True),
    ("window closed caught up at 23:10", D0, "window_closed",
     on(LAST_DAY + dt.timedelta(days=1), 23, 10), True),
    ("window closed at 03:00", D0, "window_closed", on(LAST_DAY + dt.timedelta(days=1), 3), True),
    # Not urgent: silent at night, late or not.
    ("last day's 08:00 caught up at 22:35", D0, "last_day_morning", on(LAST_DAY, 22, 35), False),
    ("outcome notice at 22:00", D0, "outcome", on(LAST_DAY, 22), False),
    ("10:00 escalation caught up at 22:35", ESC, "unacknowledged_3", on(LAST_DAY, 22, 35), False),
    ("before-planned at 06:59", ESC, "before_planned", on(LAST_DAY, 6, 59), False),
    ("planned time passed at 23:30", ESC, "planned_passed", on(LAST_DAY, 23, 30), False),
    ("follow-up question at 23:00", ReminderKind.FOLLOW_UP, "adverse_events_d10",
     on(LAST_DAY, 23), False),
    ("idle screening, offer to resume, at 22:35", ReminderKind.IDLE, "reminder",
     on(LAST_DAY, 22, 35), False),
    ("pending criteria at 02:00", ReminderKind.PENDING, "daily", on(LAST_DAY, 2), False),
    ("team notice: injected, at 23:00", ReminderKind.NOTICE, "injected", on(LAST_DAY, 23), False),
    ("morning board caught up at 22:40", ReminderKind.BOARD, LAST_DAY.isoformat(),
     on(LAST_DAY, 22, 40), False),
]  # fmt: skip


@pytest.mark.parametrize(("what", "kind", "step", "now", "rings"), TABLE, ids=[r[0] for r in TABLE])
def test_loud_or_silent(
    what: str, kind: ReminderKind, step: str, now: dt.datetime, rings: bool
) -> None:
    assert loudness.silent(kind, step, now, PARIS) is not rings, what
    if escalation.quiet_hours(now, PARIS):  # at night, what rings is what is urgent
        assert loudness.urgent(kind, step) is rings, what


@pytest.mark.parametrize(
    ("hour", "minute", "silent"),
    [(22, 35, True), (22, 0, True), (3, 0, True), (6, 59, True), (7, 0, False), (21, 59, False),
     (12, 0, False)],
)  # fmt: skip
def test_a_restart_notice_is_silent_at_night_only(hour: int, minute: int, silent: bool) -> None:
    assert loudness.silent_notice(Notice.RESTART, on(LAST_DAY, hour, minute), PARIS) is silent


def test_quiet_hours_follow_local_time_across_the_summer_change() -> None:
    # 22:35 local is 20:35 UTC in summer and 21:35 UTC in winter: both silent.
    for month in (1, 7):
        day = dt.date(ADMISSION.year, month, 15)
        assert loudness.silent(D0, "day_1", on(day, 22, 35), PARIS)
        assert not loudness.silent(D0, "last_day_evening", on(day, 22, 35), PARIS)
