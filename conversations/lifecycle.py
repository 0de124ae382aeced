"""A screening's lifecycle as closed sets (DESIGN.md "Lifecycle"), and the one decision of
whether a queued reminder still means anything.

`Status` is where a screening is, `Stage` where its conversation is, `Outcome` (in
`conversations.eligibility`) what the rules say. They are `StrEnum`s: each member equals the
text stored in the database, so storage keeps plain text. A row read back holds the member,
or `Unrecognised` (conversations.stored) for a text this program has no member for.

`reminder_relevance` decides, for every `ReminderKind`, from facts the caller read: send it,
act on it (a system event: the window closes, the BSA observation ends), or skip it (why).
It matches every kind with `assert_never`, so a new kind without its rule fails the type
check (mypy) instead of being skipped silently at run time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, assert_never
from zoneinfo import ZoneInfo

from conversations import escalation
from conversations.eligibility import Outcome
from conversations.reminder_kinds import Recipient, ReminderKind
from conversations.schedule import FOLLOW_UP_BY_ID, MORNING_STEPS, WINDOW_CLOSED
from conversations.stored import Unrecognised


class Status(StrEnum):
    IN_SCREENING = "in_screening"
    SCREENED = "screened"
    INJECTED = "injected"
    WITHDRAWN = "withdrawn"
    WINDOW_MISSED = "window_missed"
    ABANDONED = "abandoned"


class Stage(StrEnum):
    """Where a screening's conversation is (`screenings.stage`)."""

    QUESTION = "question"
    CONFIRM_EXCLUSION = "confirm_exclusion"
    SUMMARY = "summary"
    SCORTEN = "scorten"
    DONE = "done"


#: Outcomes under which a patient may still be injected (DESIGN.md: eligible or pending).
INCLUDED: Final = frozenset({Outcome.ELIGIBLE, Outcome.PENDING})


class Action(StrEnum):
    SEND = "send"  # a message to its recipient
    ACT = "act"  # a system event to carry out (then, for the window's close, a message too)
    SKIP = "skip"  # nothing: `reason` says why (kept in the outbox log)
    BOARD = "board"  # not a message of its own: the team's morning board lists the patient


@dataclass(frozen=True)
class Relevance:
    action: Action
    reason: str = ""


SEND: Final = Relevance(Action.SEND)
ACT: Final = Relevance(Action.ACT)
ON_THE_BOARD: Final = Relevance(Action.BOARD, "on the board")


def skip(reason: str) -> Relevance:
    return Relevance(Action.SKIP, reason)


@dataclass(frozen=True)
class PatientFacts:
    """What the sender read about the patient when the row fell due."""

    status: Status | Unrecognised
    outcome: Outcome | Unrecognised | None
    reasons: tuple[str, ...]
    injected: bool
    idle_reminded: bool = False
    #: FOLLOW_UP rows: the follow-up question already has its final answer.
    follow_up_answered: bool = False
    #: ESCALATION rows: the D0 loop (owner, plan) and the window it belongs to.
    loop: escalation.LoopState | None = None
    admission_date: dt.date | None = None


@dataclass(frozen=True)
class Row:
    """The queued reminder: its kind, step, symbolic recipient and due time."""

    kind: ReminderKind
    step: str
    recipient: str
    due: dt.datetime


def reminder_relevance(
    row: Row, facts: PatientFacts | None, now: dt.datetime, zone: ZoneInfo
) -> Relevance:
    """Send, act or skip a reminder that falls due at *now* (`facts` None: no screening)."""
    if row.kind is ReminderKind.ADMIN:
        return SEND  # operational notices (unreachable chat, clock jump) carry no patient
    if row.kind is ReminderKind.BOARD:
        return SEND  # the team's morning board: which patients it lists is read when drawn
    if facts is None:
        return skip("screening not found")
    match row.kind:
        case ReminderKind.D0_WINDOW:
            return _d0_window(row, facts)
        case ReminderKind.ESCALATION:
            return _escalation(row, facts, now, zone)
        case ReminderKind.OUTCOME_CHANGE:
            if facts.status != Status.SCREENED:
                return skip(f"status {facts.status}")
            return SEND if facts.outcome == row.step else skip("outcome changed again")
        case ReminderKind.PENDING:
            if not _still_pending(facts):
                return skip(f"no longer pending ({facts.status}, {facts.outcome})")
            return SEND
        case ReminderKind.BSA_EXPIRY:
            if not _still_pending(facts) or "max_bsa_percent" not in facts.reasons:
                return skip("BSA no longer pending")
            return ACT  # re-evaluated at now: a BSA still below 10 % now fails
        case ReminderKind.CONSENT_PATIENT:
            if row.recipient == Recipient.TEAM:
                return skip("consent reminders go privately, never to the team group")
            if facts.status not in (Status.SCREENED, Status.INJECTED):
                return skip(f"status {facts.status}")
            return SEND if facts.outcome in INCLUDED else skip(f"outcome {facts.outcome}")
        case ReminderKind.FOLLOW_UP:
            if facts.status != Status.INJECTED or not facts.injected:
                return skip(f"status {facts.status}")
            if row.step not in FOLLOW_UP_BY_ID:
                return skip(f"unknown follow-up {row.step}")
            return skip("answered") if facts.follow_up_answered else SEND
        case ReminderKind.IDLE:
            if row.step == "abandoned":
                return SEND
            if facts.status != Status.IN_SCREENING or not facts.idle_reminded:
                return skip("answered since")
            return SEND
        case ReminderKind.NOTICE:
            if row.step == "injected" and facts.injected:
                return SEND
            if row.step == "withdrawn" and facts.status == Status.WITHDRAWN:
                return SEND
            if row.step == "dose_deviation" and facts.injected:
                return SEND  # a corrected weight puts the dose given > 10 % off 2 × 10⁶/kg
            if row.step == "reopened" and facts.status == Status.IN_SCREENING:
                return SEND  # a correction left questions unasked: /resume NUMBER
            return skip("no longer true")
        case ReminderKind.ALERT:
            return SEND  # a serious adverse event: told even after a withdrawal
        case _:
            assert_never(row.kind)


def _still_pending(facts: PatientFacts) -> bool:
    return (
        facts.status == Status.SCREENED and facts.outcome == Outcome.PENDING and not facts.injected
    )


def _d0_window(row: Row, facts: PatientFacts) -> Relevance:
    if facts.injected:
        return skip("injected")
    if facts.outcome not in INCLUDED:
        return skip(f"outcome {facts.outcome}")
    if row.step == WINDOW_CLOSED:
        if facts.status == Status.SCREENED:
            return ACT  # the status becomes window_missed (a fact about time), then told
        if facts.status == Status.WINDOW_MISSED:
            return SEND
        return skip(f"status {facts.status}")
    if facts.status != Status.SCREENED:
        return skip(f"status {facts.status}")
    if row.recipient == Recipient.TEAM and row.step in MORNING_STEPS:
        return ON_THE_BOARD  # issue 14: the team's 08:00 message is the board, not one each
    return SEND


def _escalation(row: Row, facts: PatientFacts, now: dt.datetime, zone: ZoneInfo) -> Relevance:
    if facts.injected:
        return skip("injected")
    if facts.status != Status.SCREENED or facts.outcome not in INCLUDED:
        return skip(f"status {facts.status}, outcome {facts.outcome}")
    if facts.admission_date is None or facts.loop is None:
        return skip("no admission date")
    try:
        relevant = escalation.still_relevant(
            row.step, row.due, facts.loop, admission_date=facts.admission_date, zone=zone, now=now
        )
    except ValueError:
        return skip(f"unknown escalation step {row.step}")
    return SEND if relevant else skip("answered: acknowledged, planned or past the deadline")


# --- never a dead end (DESIGN.md "After day one the record stays true") ---------------------


@dataclass(frozen=True)
class Moves:
    """What moves a (status, outcome) pair on: the commands (or events) that do, and whether
    the pair is final (nothing is expected any more; a correction after the fact may still
    change it, and a re-screen links a new screening to the patient)."""

    commands: tuple[str, ...]
    final: bool = False


#: Every (status, outcome) pair the product can reach, with what moves it on. docs/LIFECYCLE.md
#: shows this table (a test checks the two agree); the stateful test checks that every pair it
#: reaches is here. `screened` with outcome `incomplete` is not in it: a correction that leaves
#: questions unasked reopens the screening instead (`in_screening`, `incomplete`).
LIFECYCLE: Final[dict[tuple[Status, Outcome | None], Moves]] = {
    (Status.IN_SCREENING, None): Moves(("answer", "/back", "/cancel", "/resume NUMBER")),
    (Status.IN_SCREENING, Outcome.INCOMPLETE): Moves(("/resume NUMBER", "answer", "/cancel")),
    (Status.SCREENED, Outcome.ELIGIBLE): Moves(("/d0 NUMBER", "/withdraw NUMBER", "D0 deadline")),
    (Status.SCREENED, Outcome.PENDING): Moves(
        ("/update NUMBER", "/withdraw NUMBER", "D0 deadline")
    ),
    (Status.SCREENED, Outcome.NOT_ELIGIBLE): Moves(
        ("/correct NUMBER", "/screen NUMBER"), final=True
    ),
    (Status.INJECTED, Outcome.ELIGIBLE): Moves(("follow-up answers",), final=True),
    (Status.INJECTED, Outcome.PENDING): Moves(("follow-up answers",), final=True),
    (Status.INJECTED, Outcome.NOT_ELIGIBLE): Moves(("follow-up answers",), final=True),
    (Status.INJECTED, Outcome.INCOMPLETE): Moves(
        ("follow-up answers", "/correct NUMBER"), final=True
    ),
    (Status.WITHDRAWN, Outcome.ELIGIBLE): Moves(("/correct NUMBER withdrawal cancel",), final=True),
    (Status.WITHDRAWN, Outcome.PENDING): Moves(("/correct NUMBER withdrawal cancel",), final=True),
    (Status.WITHDRAWN, Outcome.NOT_ELIGIBLE): Moves(
        ("/correct NUMBER withdrawal cancel",), final=True
    ),
    (Status.WITHDRAWN, Outcome.INCOMPLETE): Moves(
        ("/correct NUMBER withdrawal cancel",), final=True
    ),
    (Status.WINDOW_MISSED, Outcome.ELIGIBLE): Moves(("/screen NUMBER",), final=True),
    (Status.WINDOW_MISSED, Outcome.PENDING): Moves(("/screen NUMBER",), final=True),
    (Status.WINDOW_MISSED, Outcome.NOT_ELIGIBLE): Moves(("/screen NUMBER",), final=True),
    (Status.WINDOW_MISSED, Outcome.INCOMPLETE): Moves(("/screen NUMBER",), final=True),
    (Status.ABANDONED, None): Moves(("/screen NUMBER",), final=True),
    (Status.ABANDONED, Outcome.INCOMPLETE): Moves(("/screen NUMBER",), final=True),
}


def moves(status: str, outcome: str | None) -> Moves | None:
    """What moves this pair on; None: a pair the product must never reach (a dead end), or
    one this program has no member for."""
    try:
        return LIFECYCLE.get((Status(status), None if outcome is None else Outcome(outcome)))
    except ValueError:
        return None
