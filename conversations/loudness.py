"""Loud or silent (DESIGN.md "Reminders"): whether a message rings, decided from what it is
and the local time it goes out — never from how late it is.

Between 22:00 and 07:00 local (`quiet_hours`) messages go silent (Telegram's
`disable_notification`) unless urgent. Urgency is a property of the step, whenever it is sent
— on time or late, by a catch-up at night:

- the last day's 14:00 and 20:00 D0-window steps and the window-closed message;
- the coordinators' (and admins') 14:00 escalation of the last day without a plan.

Everything else (the other reminders, the follow-up questions, and the notices nobody must act
on at night: a restart, an offer to resume a screening) is silent at night.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from conversations.escalation import EscalationStep, quiet_hours
from conversations.reminder_kinds import ReminderKind
from conversations.schedule import WINDOW_CLOSED

#: The D0-window steps that ring even at night: the window closes within hours, or closed.
URGENT_D0_WINDOW_STEPS: Final = frozenset({"last_day_afternoon", "last_day_evening", WINDOW_CLOSED})
#: The escalation steps that ring even at night.
URGENT_ESCALATION_STEPS: Final = frozenset({EscalationStep.NO_PLAN_LAST_DAY.value})


class Notice(StrEnum):
    """Messages sent outside the reminder outbox that nobody must act on at night."""

    RESTART = "restart"  # "The bot restarted: resuming screening …" and its question


def urgent(kind: ReminderKind, step: str) -> bool:
    """Whether this step of this kind of reminder rings even in quiet hours."""
    match kind:
        case ReminderKind.D0_WINDOW:
            return step in URGENT_D0_WINDOW_STEPS
        case ReminderKind.ESCALATION:
            return step in URGENT_ESCALATION_STEPS
        case _:
            return False


def silent(kind: ReminderKind, step: str, now: dt.datetime, zone: ZoneInfo) -> bool:
    """A reminder sent at *now*: silent in quiet hours unless its step is urgent."""
    return quiet_hours(now, zone) and not urgent(kind, step)


def silent_notice(notice: Notice, now: dt.datetime, zone: ZoneInfo) -> bool:
    """A notice nobody must act on at night (`Notice`): silent in quiet hours."""
    return quiet_hours(now, zone)
