"""What the sender's modules share: its pace and limits, the reminder kinds' short names,
the `send` seam, a sweep's result and state, and the audit row of a reminder event."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from telegram.error import (
    RetryAfter,
)
from telegram.warnings import PTBDeprecationWarning

from bot import callback_data as cd
from bot.common import Button
from bot.reminders.closing import SYSTEM
from conversations.reminder_kinds import ReminderKind
from storage import reminders as outbox
from storage.audit import AuditEntry
from storage.reminders import Reminder
from storage.screenings import Screening

log = logging.getLogger("lysyme.reminders")

#: `send(chat_id, text, buttons)`: raises telegram.error exceptions like Bot.send_message.
Send = Callable[[int, str, list[list[Button]]], Awaitable[object]]  # → message id (issue 14)

SWEEP_INTERVAL = 2.0  # seconds between sweeps when nobody wakes the sender
LATE_AFTER = dt.timedelta(minutes=15)
BACKOFF_FIRST = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(minutes=10)
CLAIM_LIMIT = 100
#: A sweep claims again while rows keep coming (a re-evaluation that queues a team notice, a
#: migrated chat retried at once), at most this many times.
MAX_PASSES = 4
#: Where the team chat id is kept once Telegram told us it migrated to a supergroup.

# Short names of the reminder kinds (the closed set is the core's `ReminderKind`).
D0_WINDOW = ReminderKind.D0_WINDOW
OUTCOME_CHANGE = ReminderKind.OUTCOME_CHANGE
PENDING = ReminderKind.PENDING
BSA_EXPIRY = ReminderKind.BSA_EXPIRY
CONSENT_PATIENT = ReminderKind.CONSENT_PATIENT
FOLLOW_UP = ReminderKind.FOLLOW_UP
IDLE = ReminderKind.IDLE
NOTICE = ReminderKind.NOTICE  # team notices: injection recorded, patient withdrawn
ALERT = ReminderKind.ALERT  # coordinators alerted at once (adverse effect at D0+10)
ADMIN = ReminderKind.ADMIN  # admins told: a chat unreachable, the team chat migrated

#: Kinds whose steps are different messages, each sent even after downtime (a follow-up
#: question, an admin notice); for the others a later step supersedes an earlier one.
PER_STEP_KINDS = frozenset({FOLLOW_UP, NOTICE, ALERT, ADMIN})


# --- what a row turns into ------------------------------------------------------------------


@dataclass
class SweepResult:
    """What one sweep did (for tests, logs and the benchmark)."""

    claimed: int = 0
    sent: int = 0
    late: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    system: int = 0
    idle: int = 0
    lapsed: int = 0


def joined(lines: Sequence[str]) -> str:
    return "\n".join(line for line in lines if line)


def retry_delay(exc: RetryAfter) -> dt.timedelta:
    """PTB 22 warns on reading an int `retry_after` (it becomes a timedelta in v23)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s … capped at 10 min: a long network outage is retried every 10 min."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * (1 << min(attempts, 16)))


def row_audit(
    now: dt.datetime,
    action: str,
    row: Reminder,
    screening: Screening | None,
    reason: str | None = None,
) -> AuditEntry:
    return AuditEntry(now, SYSTEM, action, screening.number if screening else None,
                      f"{row.kind}:{row.step}", None, row.recipient, reason)  # fmt: skip


@dataclass
class SweepState:
    """What the sender has in hand, kept across sweeps so that a database error (locked,
    disk full) strands nothing: the rows it claimed and has not settled, and the rows
    Telegram accepted whose 'sent' could not be recorded yet (recorded, never sent again)."""

    claimed: set[int] = field(default_factory=set)
    delivered: dict[int, tuple[Reminder, dt.datetime, bool, int, object]] = field(
        default_factory=dict
    )
    #: The claim (this process, the lease's epoch) its rows were taken under: they are
    #: marked or released only while still claimed under it.
    claim: outbox.Claim | None = None

    def __bool__(self) -> bool:
        return bool(self.claimed or self.delivered)


CLOCK_CONFIRM_DATA = cd.encode(cd.ClockConfirm())
