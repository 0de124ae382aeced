"""The closed loop around the D0 window: who owns a patient, and when silence escalates.

DESIGN.md's D0-window reminders go out at 08:00 on each day of the window. This module adds,
as protocol data, what happens when nobody answers them (issue 14):

- a day's 08:00 reminder not acknowledged by 10:00 → the coordinators, privately;
- on the last day, no injection planned by 14:00 → the coordinators and the admins,
  privately, as an urgent notification;
- a planned injection time → the owner is reminded one hour before it; if it passes with no
  injection recorded (after a grace period for the paperwork), the owner and the
  coordinators are told.

Everything is pure: times are local wall-clock times turned into UTC with the trial zone
(DST-safe), and whether a step still means anything is decided by `still_relevant` from a
`LoopState` read by the caller — never from the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, assert_never
from zoneinfo import ZoneInfo

from conversations.answers import parse_wall_clock
from conversations.protocol import D0_WINDOW_DAYS
from conversations.windows import UTC, at_local, d0_deadline

#: The D0-window reminder that a day's acknowledgement answers.
MORNING: Final = dt.time(8, 0)
#: A morning reminder still unacknowledged at this time escalates to the coordinators.
ACKNOWLEDGE_BY: Final = dt.time(10, 0)
#: On the last day, no planned injection by this time is urgent.
PLAN_BY_ON_LAST_DAY: Final = dt.time(14, 0)
#: The owner is reminded this long before a planned injection.
BEFORE_PLANNED: Final = dt.timedelta(hours=1)
#: A planned time passed by this much with no `/d0` recorded is reported.
PLANNED_GRACE: Final = dt.timedelta(hours=1)


class EscalationStep(StrEnum):
    """Stable names: stored in the reminders queue and the audit trail."""

    UNACKNOWLEDGED = "unacknowledged"  # suffixed with the day: unacknowledged_1 …
    NO_PLAN_LAST_DAY = "no_plan_last_day"
    BEFORE_PLANNED = "before_planned"
    PLANNED_PASSED = "planned_passed"


class Audience(StrEnum):
    """Who an escalation step is for (resolved to chats by the sender)."""

    COORDINATORS = "coordinators"
    COORDINATORS_AND_ADMINS = "coordinators_and_admins"
    OWNER = "owner"
    OWNER_AND_COORDINATORS = "owner_and_coordinators"


@dataclass(frozen=True)
class Escalation:
    step: str  # an EscalationStep value, with the window day for UNACKNOWLEDGED
    due: dt.datetime  # aware, UTC
    audience: Audience
    urgent: bool
    window_day: int | None = None  # 1 … D0_WINDOW_DAYS for the morning acknowledgements


@dataclass(frozen=True)
class LoopState:
    """What the sender knows about a patient when an escalation step falls due."""

    acknowledged_at: dt.datetime | None  # the latest "I'm on it" or plan, UTC
    planned_at: dt.datetime | None  # the planned injection time, UTC
    injected: bool
    closed: bool  # withdrawn, window missed, not eligible, abandoned


def taken_since(
    owner: int | None, taken_at: dt.datetime | None, new_owner: int, now: dt.datetime
) -> dt.datetime:
    """When *new_owner* took the patient, as of an "I'm on it" or a plan at *now*: the owner
    who acts again (a plan, a second press) keeps the time of their take; anyone else takes
    the patient now."""
    if owner == new_owner and taken_at is not None:
        return taken_at
    return now


def unacknowledged_step(day: int) -> str:
    return f"{EscalationStep.UNACKNOWLEDGED}_{day}"


def parse_step(step: str) -> tuple[EscalationStep, int | None]:
    """The step kind and, for a morning acknowledgement, its window day (ValueError if unknown)."""
    prefix = f"{EscalationStep.UNACKNOWLEDGED}_"
    if step.startswith(prefix):
        day = step[len(prefix) :]
        if day.isascii() and day.isdigit() and 1 <= int(day) <= D0_WINDOW_DAYS:
            return EscalationStep.UNACKNOWLEDGED, int(day)
        raise ValueError(f"unknown escalation step {step!r}")
    return EscalationStep(step), None


def window_plan(admission_date: dt.date, zone: ZoneInfo) -> list[Escalation]:
    """Every escalation step of the D0 window, in time order (the caller drops those past)."""
    plan: list[Escalation] = []
    for day in range(1, D0_WINDOW_DAYS + 1):
        date = admission_date + dt.timedelta(days=day)
        due = at_local(date, ACKNOWLEDGE_BY, zone).astimezone(UTC)
        plan.append(
            Escalation(unacknowledged_step(day), due, Audience.COORDINATORS, False, window_day=day)
        )
    last_day = admission_date + dt.timedelta(days=D0_WINDOW_DAYS)
    plan.append(
        Escalation(
            EscalationStep.NO_PLAN_LAST_DAY,
            at_local(last_day, PLAN_BY_ON_LAST_DAY, zone).astimezone(UTC),
            Audience.COORDINATORS_AND_ADMINS,
            True,
        )
    )
    return sorted(plan, key=lambda e: e.due)


def future_window_plan(
    admission_date: dt.date, now: dt.datetime, zone: ZoneInfo
) -> list[Escalation]:
    return [e for e in window_plan(admission_date, zone) if e.due > now]


def planned_injection_plan(planned_at: dt.datetime, now: dt.datetime) -> list[Escalation]:
    """The steps a planned injection time creates (those already past at *now* are dropped:
    a plan made 30 minutes ahead gets no "in one hour" reminder)."""
    planned = planned_at.astimezone(UTC)
    steps = [
        Escalation(EscalationStep.BEFORE_PLANNED, planned - BEFORE_PLANNED, Audience.OWNER, False),
        Escalation(
            EscalationStep.PLANNED_PASSED,
            planned + PLANNED_GRACE,
            Audience.OWNER_AND_COORDINATORS,
            False,
        ),
    ]
    return [s for s in steps if s.due > now]


def morning_of(window_day: int, admission_date: dt.date, zone: ZoneInfo) -> dt.datetime:
    """08:00 local on the given window day, in UTC: when that day's reminder went out."""
    day = admission_date + dt.timedelta(days=window_day)
    return at_local(day, MORNING, zone).astimezone(UTC)


def still_relevant(
    step: str,
    due: dt.datetime,
    state: LoopState,
    *,
    admission_date: dt.date,
    zone: ZoneInfo,
    now: dt.datetime | None = None,
) -> bool:
    """Whether an escalation step that falls due now should still be sent.

    Every step stops meaning anything once the patient is injected or the screening is
    closed, and, when *now* is given (the sender), once the D0 window has closed: a step
    held back by downtime is not sent after the deadline (the "window closed" message says
    what matters then). A morning reminder counts as acknowledged by any acknowledgement (or plan) made
    since that morning's 08:00, or by a planned injection time still ahead of it; the
    last-day check by any plan; the planned-time steps only for the plan they were made
    for (read back from their due time): a re-planned time makes the old steps moot.
    """
    if state.injected or state.closed:
        return False
    kind, day = parse_step(step)
    if now is not None and now > d0_deadline(admission_date, zone):
        return False
    match kind:
        case EscalationStep.UNACKNOWLEDGED:
            assert day is not None
            morning = morning_of(day, admission_date, zone)
            if state.acknowledged_at is not None and state.acknowledged_at >= morning:
                return False
            return not (state.planned_at is not None and state.planned_at >= morning)
        case EscalationStep.NO_PLAN_LAST_DAY:
            return state.planned_at is None
        case EscalationStep.BEFORE_PLANNED:
            return state.planned_at == due + BEFORE_PLANNED
        case EscalationStep.PLANNED_PASSED:
            return state.planned_at == due - PLANNED_GRACE
        case _:
            assert_never(kind)


def quiet_hours(moment: dt.datetime, zone: ZoneInfo) -> bool:
    """22:00–07:00 local: a non-urgent message then is sent silently."""
    local = moment.astimezone(zone).time()
    return local >= dt.time(22, 0) or local < dt.time(7, 0)


# --- the planned injection time, typed by the owner -----------------------------------------


class PlanError(StrEnum):
    """Why a typed planned time is refused (worded by the bot)."""

    NOT_A_TIME = "not_a_time"
    PAST = "past"
    AFTER_DEADLINE = "after_deadline"


def parse_planned_time(
    text: str, now: dt.datetime, zone: ZoneInfo, deadline: dt.datetime | None
) -> dt.datetime | PlanError:
    """`14:30` / `14h30` (today, or tomorrow if that time has passed today), `dd/mm hh:mm`,
    `dd/mm/yyyy hh:mm`, `yyyy-mm-dd hh:mm` (`conversations.answers.parse_wall_clock`, the
    parser /d0 uses too): a wall-clock time in the trial zone, in UTC. It must lie ahead of
    *now* and within the D0 window (not after *deadline*)."""
    today = now.astimezone(zone).date()
    typed = parse_wall_clock(text, today)
    if typed is None:
        return PlanError.NOT_A_TIME
    planned = at_local(typed.day or today, typed.time, zone).astimezone(UTC)
    if typed.day is None and planned <= now:
        # "14:30" typed at 16:00 means tomorrow's 14:30.
        planned = at_local(today + dt.timedelta(days=1), typed.time, zone).astimezone(UTC)
    if planned <= now:
        return PlanError.PAST
    if deadline is not None and planned > deadline:
        return PlanError.AFTER_DEADLINE
    return planned
