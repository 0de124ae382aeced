"""What each kind of reminder says, after re-checking the screening now: the core decides
whether the row still means anything (conversations/lifecycle.py), each kind is worded here."""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_never

from sqlalchemy import Connection

from bot.common import Button, Context
from bot.criteria import awaited_names, verdict_sentences
from bot.present import dose_deviation_line, local_time, time_left
from bot.records import load
from bot.reminders import board as reminders_board
from bot.reminders import d0_loop, follow_ups, membership
from bot.reminders.closing import SYSTEM, recorded_result, reevaluate
from bot.reminders.decisions import (
    Decision,
    Handled,
    Message,
    Skip,
)
from bot.reminders.state import BSA_EXPIRY, CLOCK_CONFIRM_DATA, FOLLOW_UP, PENDING, joined
from bot.texts import Raw, t
from conversations import schedule
from conversations.eligibility import Outcome
from conversations.lifecycle import INCLUDED, Action, PatientFacts, reminder_relevance
from conversations.lifecycle import Row as RelevanceRow
from conversations.reminder_kinds import Cause, ReminderKind
from conversations.stored import Unrecognised
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage.audit import AuditEntry, append_audit
from storage.reminders import Reminder
from storage.screenings import Screening
from storage.timefmt import from_db

# --- what each kind says, after re-checking the screening -----------------------------------


def prepare(
    conn: Connection,
    ctx: Context,
    row: Reminder,
    s: Screening | None,
    now: dt.datetime,
) -> Decision:
    """Re-check the screening's state now (it may have changed since the row was written):
    the core decides whether the row still means anything (`reminder_relevance`, one rule per
    kind), then each kind is worded here — the match over `ReminderKind` is exhaustive, so a
    new kind without its message fails the type check."""
    if isinstance(row.kind, Unrecognised):
        return Skip(f"unknown kind {row.kind}")  # a row written by a newer or older program
    kind = row.kind
    facts = _facts(conn, kind, row, s)
    relevance = reminder_relevance(
        RelevanceRow(kind, row.step, row.recipient, row.due_at), facts, now, ctx.zone
    )
    if relevance.action is Action.SKIP:
        return Skip(relevance.reason)
    if relevance.action is Action.BOARD:
        return reminders_board.listed_on_the_board(conn, ctx, row, now, relevance.reason)
    acting = relevance.action is Action.ACT
    if kind is ReminderKind.ADMIN:
        if membership.is_membership_step(row.step):  # issue 24: joined, ends soon, lapsed
            return membership.decision(conn, ctx, row, now)
        if row.step.startswith("clock_jump "):
            return Message(lambda lang: _clock_jump_text(lang, ctx, row.step))
        return Message(lambda lang: (_admin_text(lang, row.step), []))
    if kind is ReminderKind.BOARD:  # issue 14: the team's morning board
        return reminders_board.decision(conn, ctx, row, now)
    assert s is not None  # every other kind is about a screening (the core skipped it)
    match kind:
        case ReminderKind.D0_WINDOW:
            window = _d0_window(conn, ctx, row, s, now, acting)
            return d0_loop.decorate(conn, ctx, row, s, window)
        case ReminderKind.ESCALATION:
            return d0_loop.escalation_decision(conn, ctx, row, s, now)
        case ReminderKind.OUTCOME_CHANGE:
            return _outcome_change(ctx, row, s, now, _answers(conn, s))
        case ReminderKind.PENDING:
            # Private (the clinician who last acted): each pending item with its value and rule.
            answers = _answers(conn, s)
            return Message(lambda lang: (t(lang, "rem.pending_daily", number=s.number,
                                           names=verdict_sentences(lang, s.reasons, answers, now,
                                                                   ctx.zone)), []))  # fmt: skip
        case ReminderKind.BSA_EXPIRY:
            # Re-evaluated at now: a BSA still below 10 % now fails; reevaluate queues the team
            # notice ("HMN-004 is now not eligible") in this same transaction.
            reevaluate(conn, ctx, SYSTEM, s, now, reason="BSA observation period ended")
            return Handled()
        case ReminderKind.CONSENT_PATIENT:
            return Message(lambda lang: (t(lang, "rem.consent_patient", number=s.number), []))
        case ReminderKind.FOLLOW_UP:
            follow_up = schedule.FOLLOW_UP_BY_ID[row.step]
            return Message(lambda lang: follow_ups.follow_up_message(lang, s, follow_up, ctx.zone))
        case ReminderKind.IDLE:
            return _idle(row, s)
        case ReminderKind.NOTICE:
            if row.step == "dose_deviation":  # private, to the coordinators: dose numbers
                values = store.current_answers(conn, s.id)
                return Message(lambda lang: (joined([
                    t(lang, "rem.notice.dose_deviation", number=s.number),
                    dose_deviation_line(lang, values)]), []))  # fmt: skip
            return _notice(ctx, row, s)
        case ReminderKind.ALERT:
            return Message(lambda lang: (t(lang, "rem.fu_alert", number=s.number,
                                           rule=t(lang, "fu.sae_rule")), []))  # fmt: skip
        case _:
            assert_never(kind)


def _facts(
    conn: Connection, kind: ReminderKind, row: Reminder, s: Screening | None
) -> PatientFacts | None:
    """What the core's decision needs about the patient, read in the sender's transaction."""
    if s is None:
        return None
    answered = False
    if kind is ReminderKind.FOLLOW_UP and row.step in schedule.FOLLOW_UP_BY_ID:
        follow_up = schedule.FOLLOW_UP_BY_ID[row.step]
        stored = (store.current_answers(conn, s.id)).get(follow_ups.follow_up_key(follow_up.id))
        answered = follow_ups.follow_up_final(follow_up, stored)
    loop = None
    if kind is ReminderKind.ESCALATION:
        loop = d0_loop.loop_state(s, own_store.get_loop(conn, s.id))
    return PatientFacts(
        status=s.status,
        outcome=s.outcome,
        reasons=tuple(s.reasons),
        injected=s.injected_at is not None,
        idle_reminded=bool(s.idle_reminded),
        follow_up_answered=answered,
        loop=loop,
        admission_date=s.admission_date,
    )


def _answers(conn: Connection, s: Screening) -> dict[str, Any]:
    """The current answers, for the private messages that state a value and its rule."""
    from conversations.flow import without_inapplicable

    return without_inapplicable((load(conn, s)).answers)


def _pending_names(lang: str, s: Screening) -> str:
    """What is awaited ("HIV serology", never "… positive"): this also goes to the team."""
    if s.outcome != Outcome.PENDING or not s.reasons:
        return ""
    return t(lang, "team.pending_list", names=awaited_names(lang, s.reasons))


def _deadline_line(lang: str, s: Screening, now: dt.datetime, ctx: Context) -> str:
    if s.d0_deadline is None:
        return ""
    return t(lang, "rem.deadline", deadline=local_time(s.d0_deadline, ctx.zone),
             left=time_left(lang, s.d0_deadline, now))  # fmt: skip


def _d0_window(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, now: dt.datetime, acting: bool
) -> Decision:
    """A D0-window step the core found still relevant; `acting`: the window closes now."""
    if row.step == schedule.WINDOW_CLOSED:
        if acting:
            # The status changes even if the message then fails: it is a fact about time.
            store.update_screening(conn, s.id, now, status=store.WINDOW_MISSED)
            append_audit(conn, AuditEntry(
                now, SYSTEM, "status", s.number, "status", s.status, store.WINDOW_MISSED,
                "D0 window closed, no injection recorded"))  # fmt: skip
            own_store.cancel_scheduled(conn, s.id, Cause.WINDOW_CLOSED, (PENDING, BSA_EXPIRY))

        def closed(lang: str) -> tuple[str, list[list[Button]]]:
            deadline = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
            return t(lang, "rem.window_closed", number=s.number, deadline=deadline,
                     status=t(lang, f"status.{store.WINDOW_MISSED}")), []  # fmt: skip

        return Message(closed)
    if row.step == "outcome" and row.recipient != outbox.TEAM:
        # The clinician's result, held for the reply that closed the screening and released
        # because that reply was not delivered (429, network, a crash): the result itself.
        answers = (load(conn, s)).answers
        return Message(lambda lang: (recorded_result(lang, s, answers, now, ctx), []))

    def window(lang: str) -> tuple[str, list[list[Button]]]:
        head = t(lang, "rem.d0_window", number=s.number,
                 step=Raw(t(lang, f"rem.step.{row.step}")),
                 status=t(lang, f"status.{s.status}"), outcome=t(lang, f"outcome.{s.outcome}"),
                 pending=Raw(_pending_names(lang, s)))  # fmt: skip
        command = "rem.inject" if s.outcome == Outcome.ELIGIBLE else "rem.update"
        return joined(
            [head, _deadline_line(lang, s, now, ctx), t(lang, command, number=s.number)]
        ), []

    return Message(window)


def _outcome_change(
    ctx: Context, row: Reminder, s: Screening, now: dt.datetime, answers: dict[str, Any]
) -> Decision:
    """ "HMN-004 is now eligible" (the core checked it still is). The team is never told
    which criterion failed (that would reveal an answer); the clinician is."""
    to_team = row.recipient == outbox.TEAM

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        lines = [t(lang, "rem.outcome_change", number=s.number,
                   outcome=t(lang, f"outcome.{s.outcome}"),
                   pending=Raw(_pending_names(lang, s)))]  # fmt: skip
        if s.outcome in INCLUDED:
            lines.append(_deadline_line(lang, s, now, ctx))
            command = "rem.inject" if s.outcome == Outcome.ELIGIBLE else "rem.update"
            lines.append(t(lang, command, number=s.number))
        elif not to_team and s.reasons:
            reasons = verdict_sentences(lang, s.reasons, answers, now, ctx.zone,
                                        injected=s.injected_at is not None)  # fmt: skip
            lines.append(t(lang, "rem.reasons", reasons=reasons))
        return joined(lines), []

    return Message(render)


def _idle(row: Reminder, s: Screening) -> Decision:
    if row.step == "abandoned":
        return Message(lambda lang: (t(lang, "screen.abandoned_idle", number=s.number), []))
    return Message(lambda lang: (joined([t(lang, "screen.idle", number=s.number),
                                        t(lang, "rem.idle_resume", number=s.number)]), []))  # fmt: skip


def _notice(ctx: Context, row: Reminder, s: Screening) -> Decision:
    if row.step == "injected" and s.injected_at is not None:
        at = local_time(s.injected_at, ctx.zone)
        return Message(lambda lang: (t(lang, "rem.notice.injected", number=s.number, at=at), []))
    if row.step == "reopened":
        return Message(lambda lang: (t(lang, "rem.notice.reopened", number=s.number), []))
    return Message(lambda lang: (t(lang, "rem.notice.withdrawn", number=s.number), []))


def _clock_jump_text(lang: str, ctx: Context, step: str) -> tuple[str, list[list[Button]]]:
    _, last_text, now_text = step.split(" ")
    last, now = from_db(last_text), from_db(now_text)
    hours = int((now - last).total_seconds() // 3600)
    text = t(lang, "rem.admin.clock_jump", gap=f"{hours // 24} d {hours % 24} h",
             last=local_time(last, ctx.zone), now=local_time(now, ctx.zone))  # fmt: skip
    return text, [[Button(t(lang, "rem.admin.clock_confirm"), CLOCK_CONFIRM_DATA)]]


def _admin_text(lang: str, step: str) -> str:
    parts = step.split(":")
    if parts[0] == "unreachable" and len(parts) == 3:
        return t(
            lang, "rem.admin.unreachable", chat_id=parts[1], why=t(lang, f"rem.why.{parts[2]}")
        )
    if parts[0] == "migrated" and len(parts) == 3:
        return t(lang, "rem.admin.migrated", old=parts[1], new=parts[2])
    return step


def ask_again(conn: Connection, ctx: Context, row: Reminder, now: dt.datetime) -> None:
    """Daily kinds plan their next morning once this one is done (sent or failed), while
    still relevant — and only if that recipient has nothing scheduled already."""
    if (row.kind is not PENDING and row.kind is not FOLLOW_UP) or row.screening_id is None:
        return
    s = store.get_by_id(conn, row.screening_id)
    if s is None:
        return
    if outbox.has_scheduled(conn, s.id, row.kind, row.step, recipient=row.recipient):
        return
    if row.kind == PENDING:
        if s.status == store.SCREENED and s.outcome == Outcome.PENDING and s.injected_at is None:
            outbox.schedule(conn, s.id, PENDING, row.step,
                                  schedule.next_morning(now, ctx.zone), [row.recipient])  # fmt: skip
        return
    follow_up = schedule.FOLLOW_UP_BY_ID.get(row.step)
    if follow_up is None or s.status != store.INJECTED:
        return
    answer = (store.current_answers(conn, s.id)).get(follow_ups.follow_up_key(follow_up.id))
    due = follow_ups.follow_up_next_due(follow_up, answer, now, ctx.zone)
    if due is not None:
        outbox.schedule(conn, s.id, FOLLOW_UP, row.step, due, [row.recipient])
