"""Closing a screening: record the outcome, write the reminders in the same transaction, and
word the result; (the SCORTEN questions that follow: bot/flows/scorten.py).

The outcome message to the clinician *is* the first D0-window reminder (recorded as sent);
the team gets the same notice through the outbox (number, outcome, names of pending criteria,
deadline — never answer values).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from bot.common import Actor, Context, Out
from bot.criteria import verdict_lines
from bot.present import classification, deadline_line, dose_line
from bot.records import load
from bot.reminders import board as reminders_board
from bot.reminders import d0_loop
from bot.texts import Raw, t
from conversations import schedule, versions
from conversations.eligibility import Evaluation, Outcome, Verdict
from conversations.lifecycle import Stage
from conversations.protocol import AnswerValue
from conversations.reminder_kinds import Cause, ReminderKind, ReminderState
from conversations.stored import Unrecognised
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.screenings import Screening

LAST_ACTOR = "last_actor"
SYSTEM = "system"
OWNER = "owner"  # issue 14: the patient's owner, else the screening clinician (resolved when sent)


def result_lines(
    lang: str,
    number: str,
    evaluation: Evaluation,
    answers: dict[str, AnswerValue],
    now: dt.datetime,
    ctx: Context,
) -> str:
    outcome = evaluation.outcome
    lines = [
        t(lang, f"result.{outcome.value}", number=number,
          reasons=Raw(reason_lines(lang, evaluation, answers, now, ctx)))
    ]  # fmt: skip
    weight = answers.get("weight_kg")
    if outcome in (Outcome.ELIGIBLE, Outcome.PENDING) and evaluation.dose_cells is not None:
        assert isinstance(weight, int | float)
        lines.append(dose_line(lang, evaluation.dose_cells, float(weight)))
    if evaluation.d0_deadline is not None and outcome is not Outcome.NOT_ELIGIBLE:
        lines.append(deadline_line(lang, evaluation.d0_deadline, now, ctx.zone))
    cls = classification(lang, answers.get("max_bsa_percent"))
    if cls:
        lines.append(t(lang, "result.class", classification=cls))
    return "\n".join(lines)


def reason_lines(
    lang: str,
    evaluation: Evaluation,
    answers: dict[str, AnswerValue],
    now: dt.datetime,
    ctx: Context,
) -> str:
    """The reasons behind an outcome, each with its value and rule (for the clinician and the
    coordinators only: the team group gets short names)."""
    from bot.criteria import missing_sentences

    if evaluation.failed:
        text = verdict_lines(lang, evaluation.failed, answers, now, ctx.zone,
                             verdict=Verdict.FAILED)  # fmt: skip
    elif evaluation.missing:
        text = missing_sentences(lang, evaluation.missing)
    else:
        text = verdict_lines(lang, evaluation.pending, answers, now, ctx.zone,
                             verdict=Verdict.PENDING)  # fmt: skip
    return text


def close_screening(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    screening: Screening,
    answers: dict[str, AnswerValue],
    evaluation: Evaluation,
    now: dt.datetime,
) -> list[Out]:
    """Record the outcome (status `screened`) and its reminders; return the result message."""
    lang = ctx.language(actor)
    reasons = evaluation.failed or evaluation.pending
    admission = answers.get("admission_date")
    store.update_screening(
        conn, screening.id, now, status=store.SCREENED, outcome=evaluation.outcome,
        reasons=reasons, closed_at=now, last_actor_id=actor.user_id, stage=Stage.DONE, cursor=None,
        proposed=None, dose_cells=evaluation.dose_cells if evaluation.outcome in
        (Outcome.ELIGIBLE, Outcome.PENDING) else None,
        admission_date=admission if isinstance(admission, dt.date) else None,
        d0_deadline=evaluation.d0_deadline,
    )  # fmt: skip
    append_audit_many(
        conn,
        [
            AuditEntry(now, str(actor.user_id), "outcome", screening.number, "outcome",
                       screening.outcome, evaluation.outcome.value, ",".join(reasons) or None),
            AuditEntry(now, str(actor.user_id), "status", screening.number, "status",
                       screening.status, store.SCREENED),
        ],
    )  # fmt: skip
    held = None
    if evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING):
        held = schedule_after_screening(
            conn, ctx, screening, actor.user_id, answers, evaluation, now
        )
    result = result_lines(lang, screening.number, evaluation, answers, now, ctx)
    return [Out(result, delivers=held)]


def recorded_result(
    lang: str, s: Screening, answers: dict[str, AnswerValue], now: dt.datetime, ctx: Context
) -> str:
    """The result message again, from what the screening recorded (outcome, reasons, dose,
    deadline): what the sender delivers when the reply that should have carried it failed."""
    outcome = Outcome(s.outcome or Outcome.INCOMPLETE.value)
    evaluation = Evaluation(
        outcome,
        failed=s.reasons if outcome is Outcome.NOT_ELIGIBLE else (),
        pending=s.reasons if outcome is Outcome.PENDING else (),
        dose_cells=s.dose_cells,
        d0_deadline=s.d0_deadline,
    )
    return result_lines(lang, s.number, evaluation, answers, now, ctx)


def schedule_after_screening(
    conn: Connection,
    ctx: Context,
    screening: Screening,
    clinician_id: int,
    answers: dict[str, AnswerValue],
    evaluation: Evaluation,
    now: dt.datetime,
) -> int:
    """The D0-window steps still ahead, the team notice, and the pending-criteria reminders.
    Returns the id of the clinician's first reminder, held for the result reply."""
    clinician = outbox.user_recipient(clinician_id)
    admission = answers.get("admission_date")
    # The result message about to be shown to the clinician is their first reminder: held for
    # that reply, marked sent once Telegram accepted it, else sent by the reminder sender.
    held = outbox.hold(conn, screening.id, ReminderKind.D0_WINDOW, "outcome", clinician, now)
    outbox.schedule(conn, screening.id, ReminderKind.D0_WINDOW, "outcome", now, [outbox.TEAM])
    if isinstance(admission, dt.date):
        for step in schedule.future_window_steps(admission, now, ctx.zone):
            outbox.schedule(
                conn, screening.id, step.kind, step.step, step.due, [outbox.TEAM, OWNER]
            )
    # Issue 14: the escalation steps (unacknowledged 08:00, no plan on the last day).
    d0_loop.schedule_window_escalations(
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now
    )
    if isinstance(admission, dt.date):  # the team's 08:00 message on each day of the window
        reminders_board.schedule_boards(conn, ctx, admission, now)
    if evaluation.outcome is Outcome.PENDING:
        outbox.schedule(
            conn, screening.id, ReminderKind.PENDING, "daily", schedule.next_morning(now, ctx.zone),
            [LAST_ACTOR],
        )  # fmt: skip
        index_date = answers.get("index_date")
        if "max_bsa_percent" in evaluation.pending and isinstance(index_date, dt.date):
            outbox.schedule(
                conn, screening.id, ReminderKind.BSA_EXPIRY, "observation_end",
                schedule.bsa_expiry(index_date, ctx.zone), [SYSTEM],
            )  # fmt: skip
    if answers.get("consent_by") == "support_person":
        outbox.schedule(
            conn, screening.id, ReminderKind.CONSENT_PATIENT, "reminder",
            schedule.next_morning(now, ctx.zone), consent_recipients(conn, clinician_id),
        )  # fmt: skip
    return held


def consent_recipients(conn: Connection, clinician_id: int) -> list[str]:
    """Who is reminded to seek the patient's own consent: the screening clinician and the
    coordinators, privately — never the team group (who signed is an answer)."""
    coordinators = user_store.users_with_role(conn, "coordinator")
    ids = [clinician_id, *(c for c in coordinators if c != clinician_id)]
    return [outbox.user_recipient(i) for i in ids]


# --- re-evaluation after /update, /correct, or the end of the BSA observation period -------

WINDOW_KINDS = (ReminderKind.D0_WINDOW, ReminderKind.PENDING, ReminderKind.BSA_EXPIRY)


def reevaluate(
    conn: Connection,
    ctx: Context,
    actor: str,
    screening: Screening,
    now: dt.datetime,
    reason: str | None = None,
) -> tuple[str | None, Evaluation]:
    """Re-apply the rules at *now* to a closed screening's current answers; record a changed
    outcome (audited), recompute dose and deadline, and rebuild its window / pending
    reminders from scratch. The D0 window no longer counts once D0 is recorded. When the
    outcome changes, the team is told (through the outbox). Returns (old outcome, evaluation).
    """
    from conversations.eligibility import evaluate
    from conversations.flow import without_inapplicable

    loaded = load(conn, screening)
    answers = without_inapplicable(loaded.answers)
    injected = screening.injected_at is not None
    # Under the rules of the version the screening was opened under, never a later one.
    version = versions.get(screening.protocol_version)
    evaluation = evaluate(answers, now, ctx.zone, injected=injected, version=version)
    reasons = evaluation.failed or evaluation.pending or evaluation.missing
    admission = answers.get("admission_date")
    included = evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING)
    store.update_screening(
        conn, screening.id, now, outcome=evaluation.outcome, reasons=reasons,
        dose_cells=evaluation.dose_cells if included else None,
        admission_date=admission if isinstance(admission, dt.date) else None,
        d0_deadline=evaluation.d0_deadline,
    )  # fmt: skip
    old = screening.outcome
    if old != evaluation.outcome or tuple(reasons) != screening.reasons:
        append_audit(
            conn,
            AuditEntry(now, actor, "outcome", screening.number, "outcome", old,
                       evaluation.outcome.value, reason or ",".join(reasons) or None),
        )  # fmt: skip
    incomplete = evaluation.outcome is Outcome.INCOMPLETE
    if incomplete and screening.status == store.SCREENED and not injected:
        reopen(conn, ctx, actor, screening, answers, now, reason)
        return old, evaluation
    if injected or screening.status != store.SCREENED:
        return old, evaluation
    due_unsent = [
        r for r in outbox.for_screening(conn, screening.id)
        if r.state == ReminderState.SCHEDULED and r.kind in WINDOW_KINDS and r.due_at <= now
    ]  # fmt: skip
    own_store.cancel_scheduled(conn, screening.id, Cause.REEVALUATION, WINDOW_KINDS)
    d0_loop.schedule_window_escalations(  # issue 14: rewritten, or none if excluded
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now,
        included=included,
    )  # fmt: skip
    if included and isinstance(admission, dt.date):
        reminders_board.schedule_boards(conn, ctx, admission, now)
    if included:
        _replan_due(conn, ctx, screening, evaluation, admission, due_unsent, now)
        if isinstance(admission, dt.date):
            for step in schedule.future_window_steps(admission, now, ctx.zone):
                outbox.schedule(conn, screening.id, step.kind, step.step, step.due,
                                      [outbox.TEAM, OWNER])  # fmt: skip
        if evaluation.outcome is Outcome.PENDING:
            outbox.schedule(conn, screening.id, ReminderKind.PENDING, "daily",
                                  schedule.next_morning(now, ctx.zone), [LAST_ACTOR])  # fmt: skip
            index_date = answers.get("index_date")
            if "max_bsa_percent" in evaluation.pending and isinstance(index_date, dt.date):
                outbox.schedule(conn, screening.id, ReminderKind.BSA_EXPIRY, "observation_end",
                                      schedule.bsa_expiry(index_date, ctx.zone), [SYSTEM])  # fmt: skip
    if old != evaluation.outcome.value:
        # "HMN-004 is now eligible": the team notice goes out at once through the outbox.
        outbox.schedule(conn, screening.id, ReminderKind.OUTCOME_CHANGE, evaluation.outcome.value,
                              now, [outbox.TEAM, outbox.user_recipient(screening.last_actor_id)])  # fmt: skip
    return old, evaluation


def reopen(
    conn: Connection,
    ctx: Context,
    actor: str,
    screening: Screening,
    answers: dict[str, AnswerValue],
    now: dt.datetime,
    reason: str | None,
) -> None:
    """A closed screening whose answers no longer decide anything (a correction removed the
    only failing answer: the questions after it were never asked) is open again — status in
    screening, outcome incomplete, on its first unanswered question — never a dead end.
    Its window reminders stop; the screening clinician and the coordinators are told (privately,
    with the /resume command)."""
    from conversations.flow import next_question

    cursor = next_question(answers)
    store.update_screening(
        conn, screening.id, now, status=store.IN_SCREENING, stage=Stage.QUESTION, cursor=cursor,
        proposed=None, closed_at=None, dose_cells=None, last_activity_at=now,
        idle_reminded=False,
    )  # fmt: skip
    append_audit(
        conn,
        AuditEntry(now, actor, "reopened", screening.number, "status", screening.status,
                   store.IN_SCREENING, reason),
    )  # fmt: skip
    outbox.cancel(conn, screening.id, (*WINDOW_KINDS, ReminderKind.CONSENT_PATIENT))
    d0_loop.schedule_window_escalations(
        conn, ctx, screening.id, None, now, included=False
    )  # no escalation for a screening in progress
    recipients = consent_recipients(conn, screening.clinician_id)
    outbox.schedule(conn, screening.id, ReminderKind.NOTICE, "reopened", now, recipients)


def _replan_due(
    conn: Connection,
    ctx: Context,
    screening: Screening,
    evaluation: Evaluation,
    admission: AnswerValue | None,
    due_unsent: list[outbox.Reminder],
    now: dt.datetime,
) -> None:
    """Steps that fell due but were not sent yet (the sender runs every few seconds; a retry
    may wait up to 10 min) are planned again, not lost, when they still apply: at their
    (possibly moved) due time, so that catch-up still sends only the latest of them."""
    window = (
        {step.step: step.due for step in schedule.d0_window_steps(admission, ctx.zone)}
        if isinstance(admission, dt.date)
        else {}
    )
    for row in due_unsent:
        if isinstance(row.kind, Unrecognised):
            continue  # (never: `due_unsent` holds the window's kinds only)
        due: dt.datetime | None = None
        if row.kind is ReminderKind.D0_WINDOW:
            due = row.due_at if row.step == "outcome" else window.get(row.step)
            if due is not None and due > now:
                due = None  # moved into the future: planned with the steps ahead
        elif (row.kind is ReminderKind.PENDING and evaluation.outcome is Outcome.PENDING) or (
            row.kind is ReminderKind.BSA_EXPIRY and "max_bsa_percent" in evaluation.pending
        ):
            due = row.due_at
        if due is not None:
            outbox.schedule(conn, screening.id, row.kind, row.step, due, [row.recipient])
