"""When reminders fall due: pure wall-clock arithmetic from the protocol's dates.

The D0-window steps (DESIGN.md "Reminders"): 08:00 on each day from admission + 1 to
admission + 3 (the last one says "last day"), 14:00 and 20:00 on the last day, and "window
closed" at 08:00 the next morning. Follow-up time points after D0 are protocol data
(`FOLLOW_UPS`), each due at 08:00 on its day and repeated daily until answered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from conversations.protocol import D0_WINDOW_DAYS
from conversations.reminder_kinds import ReminderKind
from conversations.windows import UTC, at_local, bsa_observation_end, next_local_time

MORNING: Final = dt.time(8, 0)
AFTERNOON: Final = dt.time(14, 0)
EVENING: Final = dt.time(20, 0)


@dataclass(frozen=True)
class Due:
    kind: ReminderKind
    step: str
    due: dt.datetime  # aware, UTC


# The step names are stable: stored in the reminders queue and the audit trail.
WINDOW_CLOSED: Final = "window_closed"


def _morning_step(day: int) -> str:
    return "last_day_morning" if day == D0_WINDOW_DAYS else f"day_{day}"


#: The 08:00 steps of the window: for the team, the morning board says them (issue 14).
MORNING_STEPS: Final = frozenset(_morning_step(day) for day in range(1, D0_WINDOW_DAYS + 1))


def d0_window_steps(admission_date: dt.date, zone: ZoneInfo) -> list[Due]:
    steps: list[Due] = []
    for day in range(1, D0_WINDOW_DAYS + 1):
        name = _morning_step(day)
        moment = at_local(admission_date + dt.timedelta(days=day), MORNING, zone)
        steps.append(Due(ReminderKind.D0_WINDOW, name, moment.astimezone(UTC)))
    last_day = admission_date + dt.timedelta(days=D0_WINDOW_DAYS)
    steps.append(
        Due(
            ReminderKind.D0_WINDOW,
            "last_day_afternoon",
            at_local(last_day, AFTERNOON, zone).astimezone(UTC),
        )
    )
    steps.append(
        Due(
            ReminderKind.D0_WINDOW,
            "last_day_evening",
            at_local(last_day, EVENING, zone).astimezone(UTC),
        )
    )
    closed = at_local(last_day + dt.timedelta(days=1), MORNING, zone)
    steps.append(Due(ReminderKind.D0_WINDOW, WINDOW_CLOSED, closed.astimezone(UTC)))
    return steps


def future_window_steps(admission_date: dt.date, now: dt.datetime, zone: ZoneInfo) -> list[Due]:
    """Steps still ahead at *now*: those already past are skipped, since the message that
    announces the outcome is itself the first reminder."""
    return [s for s in d0_window_steps(admission_date, zone) if s.due > now]


def next_morning(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The next 08:00 local strictly after *now*, in UTC."""
    return next_local_time(now, MORNING, zone).astimezone(UTC)


def bsa_expiry(index_date: dt.date, zone: ZoneInfo) -> dt.datetime:
    """08:00 on the first day after the BSA observation period: the day a BSA still below
    10 % becomes a failure (announced in the morning, not at midnight)."""
    day = bsa_observation_end(index_date) + dt.timedelta(days=1)
    return at_local(day, MORNING, zone).astimezone(UTC)


@dataclass(frozen=True)
class FollowUp:
    """One outcome time point of the trial after D0 (registry record)."""

    id: str
    days_after_d0: int
    kind: str  # "choice" (buttons) or "date"
    choices: tuple[str, ...]
    alert_on: str | None = None  # an answer that alerts the coordinators at once


FOLLOW_UPS: Final[tuple[FollowUp, ...]] = (
    FollowUp("reepithelialisation_d7", 7, "choice", ("yes", "no")),
    FollowUp("adverse_events_d10", 10, "choice", ("yes", "no"), alert_on="yes"),
    FollowUp("vital_status_d30", 30, "choice", ("alive", "dead")),
    FollowUp("discharge_date", 30, "date", ("still_hospitalised",)),
)
FOLLOW_UP_BY_ID: Final = {f.id: f for f in FOLLOW_UPS}


#: "Still in hospital" at the discharge question: ask again a week later, not every morning.
DISCHARGE_RECHECK: Final = dt.timedelta(days=7)


def discharge_recheck(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """08:00 local on the day a week after *now* (UTC)."""
    return next_morning(now + DISCHARGE_RECHECK - dt.timedelta(days=1), zone)


def follow_up_due(injected_at: dt.datetime, follow_up: FollowUp, zone: ZoneInfo) -> dt.datetime:
    d0 = injected_at.astimezone(zone).date()
    return at_local(d0 + dt.timedelta(days=follow_up.days_after_d0), MORNING, zone).astimezone(UTC)


def follow_up_plan(injected_at: dt.datetime, zone: ZoneInfo) -> list[Due]:
    return [
        Due(ReminderKind.FOLLOW_UP, f.id, follow_up_due(injected_at, f, zone)) for f in FOLLOW_UPS
    ]


#: A screening left unanswered: the clinician is reminded once, then it is abandoned.
IDLE_REMINDER_AFTER: Final = dt.timedelta(hours=2)
ABANDON_AFTER: Final = dt.timedelta(hours=24)
