"""A reminder row in words (issue 25): its kind, step, recipient, state and the reason it was
skipped, failed or cancelled — what `/reminders` and `/patient` show a coordinator.

The outbox keeps stable ids ("d0_window", "last_day_morning", "user:1001", "status
withdrawn"): they stay in the database and the machine formats. Every one of them is read
here into the reader's language; nothing snake_case and no "user:N" reaches a person.
A kind, state or step without words falls back to a neutral phrase, never to the id, and
`tests/bot/test_reminder_words.py` fails when a kind or a state has no entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.texts import t
from conversations.escalation import EscalationStep, parse_step
from conversations.reminder_kinds import ReminderKind, ReminderState
from conversations.schedule import FOLLOW_UP_BY_ID

#: Every state of an outbox row (storage/reminders.py, storage/ownership.py).
STATES: tuple[ReminderState, ...] = tuple(ReminderState)


def _known(lang: str, key: str) -> str | None:
    text = t(lang, key)
    return None if text == key else text


def kind_words(lang: str, kind: str) -> str:
    return _known(lang, f"rl.kind.{kind}") or t(lang, "rl.kind.other")


def state_words(lang: str, state: str) -> str:
    return _known(lang, f"pt.rstate.{state}") or t(lang, "rl.state.other")


def _user(lang: str, user_id: int, names: Mapping[int, str]) -> str:
    name = names.get(user_id)
    return name if name else t(lang, "rl.to.user", id=user_id)


def user_id_of(recipient: str) -> int | None:
    if recipient.startswith("user:") and recipient[5:].lstrip("-").isdigit():
        return int(recipient[5:])
    return None


def recipient_words(lang: str, recipient: str, names: Mapping[int, str]) -> str:
    """A user by name (else "user 1001"), a symbolic recipient in words."""
    user_id = user_id_of(recipient)
    if user_id is not None:
        return _user(lang, user_id, names)
    return _known(lang, f"rl.to.{recipient}") or t(lang, "rl.to.other")


def step_words(lang: str, kind: str, step: str) -> str:
    """Which message of its kind a row is: the window's day, the escalation, the follow-up."""
    text = _known(lang, f"rl.step.{kind}.{step}")
    if text:
        return text
    if kind == ReminderKind.D0_WINDOW:
        match = re.fullmatch(r"day_(\d+)", step)
        if match:
            return t(lang, "rl.step.d0_window.day", day=match.group(1))
    if kind == ReminderKind.ESCALATION:
        try:
            which, day = parse_step(step)
        except ValueError:
            return t(lang, "rl.step.other")
        if which is EscalationStep.UNACKNOWLEDGED:
            return t(lang, "rl.step.escalation.unacknowledged", day=day)
        return _known(lang, f"rl.step.escalation.{which.value}") or t(lang, "rl.step.other")
    if kind == ReminderKind.OUTCOME_CHANGE:
        return _known(lang, f"outcome.{step}") or t(lang, "rl.step.other")
    if kind in (ReminderKind.FOLLOW_UP, ReminderKind.ALERT) and step in FOLLOW_UP_BY_ID:
        return t(lang, f"pt.fu.{step}")
    if kind == ReminderKind.ADMIN:
        head = step.split(":")[0].split(" ")[0]
        return _known(lang, f"rl.step.admin.{head}") or t(lang, "rl.step.other")
    if kind == ReminderKind.BOARD:
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", step)
        if match:
            return f"{match.group(3)}/{match.group(2)}/{match.group(1)}"
    return t(lang, "rl.step.other")


def what(lang: str, kind: str, step: str) -> str:
    """ "D0 window · last day (08:00)": the kind, then the step when it says more."""
    kind_text = kind_words(lang, kind)
    step_text = step_words(lang, kind, step)
    if step_text == t(lang, "rl.step.other") or step_text == kind_text:
        return kind_text
    return f"{kind_text} · {step_text}"


#: Reasons written by the sender and the core (conversations/lifecycle.py, bot/reminders/sender.py,
#: bot/reminders/d0_loop.py, bot/reminders/delivery.py, the D0 loop's cancellations), read as words.
_EXACT: dict[str, str] = {
    "on the board": "rl.why.on_board",
    "no open patient": "rl.why.no_open",
    "screening not found": "rl.why.no_screening",
    "no screening": "rl.why.no_screening",
    "outcome changed again": "rl.why.outcome_changed_again",
    "BSA no longer pending": "rl.why.bsa_resolved",
    "consent reminders go privately, never to the team group": "rl.why.consent_private",
    "answered": "rl.why.answered",
    "answered since": "rl.why.answered",
    "answered: acknowledged or planned": "rl.why.acknowledged_or_planned",
    "answered: acknowledged, planned or past the deadline": "rl.why.acknowledged_or_planned",
    "no longer true": "rl.why.no_longer_true",
    "injected": "rl.cancel.injection",
    "injection": "rl.cancel.injection",
    "withdrawal": "rl.cancel.withdrawal",
    "no admission date": "rl.why.no_admission",
    "no team chat configured": "rl.why.no_team_chat",
    "recipient no longer listed": "rl.why.not_listed",
    "recipient unreachable": "rl.why.unreachable",
    "recipient unreachable: rerouted to the coordinators": "rl.why.rerouted",
    "acknowledgement": "rl.why.acknowledgement",
    "re-planned": "rl.why.replanned",
    "re-evaluation": "rl.cancel.other",
    "chat migrated": "rl.why.migrated",
    "flood control": "rl.why.flood",
    "internal": "rl.why.internal",
    "timed out after the request left: maybe delivered": "rl.why.timed_out",
    # conversations.reminder_kinds.Cause (issue 26): how a row ended, as stored
    "superseded by a later step": "rl.why.superseded",
    "injection recorded": "rl.cancel.injection",
    "withdrawn": "rl.cancel.withdrawal",
    "window closed": "rl.cancel.window_closed",
    "abandoned": "rl.cancel.abandoned",
}


def _status(lang: str, status: str) -> str:
    return _known(lang, f"status.{status}") or t(lang, "rl.why.other")


def _outcome(lang: str, outcome: str) -> str:
    return _known(lang, f"outcome.{outcome}") or t(lang, "rl.why.no_outcome")


def reason_words(lang: str, reason: str | None) -> str:
    """Why a row was skipped, cancelled or failed, in words; Telegram's own refusals are
    quoted as Telegram wrote them (they hold no id of ours)."""
    if not reason:
        return "—"
    key = _EXACT.get(reason)
    if key:
        return t(lang, key)
    if m := re.fullmatch(r"status (\w+), outcome (\w+)", reason):
        return t(lang, "rl.why.status_outcome", status=_status(lang, m.group(1)),
                 outcome=_outcome(lang, m.group(2)))  # fmt: skip
    if m := re.fullmatch(r"no longer pending \((\w+), (\w+)\)", reason):
        return t(lang, "rl.why.no_longer_pending", status=_status(lang, m.group(1)),
                 outcome=_outcome(lang, m.group(2)))  # fmt: skip
    if m := re.fullmatch(r"status (\w+)", reason):
        return t(lang, "rl.why.status", status=_status(lang, m.group(1)))
    if m := re.fullmatch(r"outcome (\w+)", reason):
        return t(lang, "rl.why.outcome", outcome=_outcome(lang, m.group(1)))
    if re.fullmatch(r"unknown (kind|recipient|follow-up|escalation step) .*", reason):
        return t(lang, "rl.why.unknown_row")
    if m := re.fullmatch(r"chat migrated to (-?\d+)", reason):
        return t(lang, "rl.why.migrated_to", chat=m.group(1))
    if m := re.fullmatch(r"retry after (.+)", reason):
        return t(lang, "rl.why.retry_after", wait=m.group(1))
    if "_" in reason or "user:" in reason:
        return t(lang, "rl.why.other")
    return t(lang, "rl.why.telegram", message=reason)
