"""/patient NUMBER: the whole record — answers with who and when, corrections old → new,
outcome, dose, deadlines, injection, follow-ups, SCORTEN and reminders."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import Connection

from bot.common import Actor, Context, Out
from bot.present import dose_line, local_time, number_text, time_left
from bot.texts import t
from bot.views import wording
from bot.views.reminder_words import reason_words, recipient_words, state_words, user_id_of, what
from bot.views.wording import (
    audit_value,
    bsa_of,
    d0_lines,
    heading,
    moment_text,
    reason_sentences,
    short_label,
    stored_text,
    typed_answers,
)
from conversations.d0 import D0_PREFIX, read_facts
from conversations.eligibility import Outcome
from conversations.protocol import (
    BY_ID,
    QUESTION_IDS,
)
from conversations.reminder_kinds import ReminderState
from conversations.schedule import FOLLOW_UPS, follow_up_due
from conversations.scorten import (
    MEASURE_IDS,
)
from conversations.standing import standing
from storage import ownership as own_store
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage.screenings import Screening

# --- /patient -------------------------------------------------------------------------------


async def patient(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The whole record of one patient, split by the renderer under 4,096 characters."""
    lang = ctx.language(actor)
    if len(args) != 1:
        return [Out(t(lang, "pt.usage"))]
    number = args[0].upper()
    now = ctx.now()

    def fetch(conn: Connection) -> list[Out]:
        s = store.get_by_number(conn, number)
        if s is None:
            return [Out(t(lang, "screen.not_found", number=number))]
        history = queries.answer_history(conn, s.id)
        reminders = outbox.for_screening(conn, s.id)
        names = own_store.display_names(
            conn, [uid for r in reminders if (uid := user_id_of(r.recipient)) is not None]
        )
        corrections = queries.screening_audit(conn, s.number, ("correction", "d0_deviation"))
        rescreens = [x.number for x in queries.all_screenings(conn) if x.rescreen_of == s.number]
        current = store.current_answers(conn, s.id)
        severity = None
        if _has_severity(s, current):
            severity = wording.scorten_summary(conn, lang, s)
        lines = [heading(lang, s, bsa_of(current))]
        lines += _course_lines(lang, ctx, s, current, rescreens, now)
        if severity:
            lines.append(severity)
        if s.injected_at is not None:
            lines += ["", t(lang, "pt.follow_ups"), *_follow_up_lines(lang, ctx, s, current)]
        history = [row for row in history if not row.question_id.startswith(D0_PREFIX)]
        lines += ["", t(lang, "pt.answers"), *_answer_lines(lang, ctx, history)]
        answered = {row.question_id for row in history}
        others = [c for c in corrections if c.field not in answered]
        if others:
            lines += ["", t(lang, "pt.corrections")]
            for row in others:
                lines.append(
                    t(
                        lang,
                        "pt.audit_line",
                        field=short_label(lang, row.field or row.action),
                        old=_audited(lang, row.field, row.old_value, ctx),
                        new=_audited(lang, row.field, row.new_value, ctx),
                        by=row.actor,
                        when=moment_text(row.at, ctx),
                    )
                )
                if row.reason:
                    lines.append(t(lang, "pt.reason", reason=row.reason))
        lines += ["", t(lang, "pt.reminders"), *_reminder_lines(lang, ctx, reminders, names)]
        return [Out("\n".join(lines))]

    return await ctx.db.read(fetch)


def _audited(lang: str, field: str | None, value: str | None, ctx: Context) -> str:
    """An audited old/new value in words: a status or an outcome as everywhere, an instant in
    local time, anything else as it was written."""
    if value is not None and field in ("status", "outcome"):
        key = f"{field}.{value}"
        text = t(lang, key)
        return value if text == key else text
    return audit_value(value, ctx)


def _has_severity(s: Screening, current: dict[str, str]) -> bool:
    asked = any(k.startswith(queries.SCORTEN_PREFIX) for k in current)
    included = s.outcome in (Outcome.ELIGIBLE, Outcome.PENDING)
    return asked or included or s.injected_at is not None


def _course_lines(
    lang: str,
    ctx: Context,
    s: Screening,
    current: dict[str, str],
    rescreens: list[str],
    now: dt.datetime,
) -> list[str]:
    """Who opened it, outcome and reasons, dose, admission, deadline, injection, withdrawal."""
    lines = [t(lang, "pt.opened", when=moment_text(s.created_at, ctx), by=s.clinician_id)]
    lines.append(t(lang, "pv.patient", version=s.protocol_version))
    if s.closed_at is not None:
        lines.append(t(lang, "pt.closed", when=moment_text(s.closed_at, ctx)))
    if s.rescreen_of:
        lines.append(t(lang, "screen.rescreen_of", number=s.rescreen_of))
    if rescreens:
        lines.append(t(lang, "pt.rescreened_as", numbers=", ".join(rescreens)))
    where = standing(s)  # the one reading every view shares
    if where.outcome:
        lines.append(t(lang, "pt.outcome", outcome=t(lang, f"outcome.{where.outcome}")))
        key: dict[str, str] = {
            Outcome.NOT_ELIGIBLE: "pt.failed",
            Outcome.PENDING: "pt.pending",
            Outcome.INCOMPLETE: "pt.missing",
        }
        if where.reasons and where.outcome in key:
            names = reason_sentences(lang, ctx, s, where.outcome, where.reasons,
                                      typed_answers(current), now)  # fmt: skip
            lines.append(t(lang, key[where.outcome], names=names))
    weight = queries.json_value(current.get("weight_kg"))
    if s.dose_cells is not None and isinstance(weight, int | float):
        if read_facts(current) is None:
            lines.append(dose_line(lang, s.dose_cells, float(weight)))
        else:  # injected: the dose given is the D0 fact below; this one is only planned
            millions = number_text(lang, s.dose_cells / 1_000_000)
            lines.append(t(lang, "pt.planned_dose", millions=millions))
    if s.admission_date is not None:
        lines.append(t(lang, "pt.admission", date=s.admission_date.strftime("%d/%m/%Y")))
    if s.d0_deadline is not None:
        waiting = s.injected_at is None and s.status == store.SCREENED
        if waiting and s.d0_deadline > now:
            lines.append(
                t(
                    lang,
                    "result.deadline",
                    deadline=local_time(s.d0_deadline, ctx.zone),
                    left=time_left(lang, s.d0_deadline, now),
                )
            )
        elif waiting:
            lines.append(
                t(lang, "result.deadline_past", deadline=local_time(s.d0_deadline, ctx.zone))
            )
        else:
            lines.append(t(lang, "pt.deadline", deadline=local_time(s.d0_deadline, ctx.zone)))
    if s.injected_at is not None:
        by = s.injected_by if s.injected_by is not None else "—"
        lines.append(t(lang, "pt.injected", when=moment_text(s.injected_at, ctx), by=by))
        if s.d0_override_reason:
            lines.append(t(lang, "pt.override", reason=s.d0_override_reason))
        lines += d0_lines(lang, current)
    if s.status == store.WITHDRAWN or s.withdrawn_reason:
        lines.append(t(lang, "pt.withdrawn", reason=s.withdrawn_reason or "—"))
    return lines


def _follow_up_lines(lang: str, ctx: Context, s: Screening, current: dict[str, str]) -> list[str]:
    assert s.injected_at is not None
    lines = []
    for follow_up in FOLLOW_UPS:
        due = follow_up_due(s.injected_at, follow_up, ctx.zone).astimezone(ctx.zone)
        field = queries.FOLLOW_UP_PREFIX + follow_up.id
        stored = current.get(field)
        answer = stored_text(lang, field, stored) if stored else t(lang, "pt.fu.awaited")
        lines.append(
            t(
                lang,
                "pt.fu.line",
                label=short_label(lang, field),
                due=due.strftime("%d/%m/%Y"),
                answer=answer,
            )
        )
    return lines


def _field_order(field: str) -> tuple[int, int, str]:
    if field in BY_ID:
        return (0, QUESTION_IDS.index(field), field)
    if field.startswith(queries.SCORTEN_PREFIX):
        measure = field.removeprefix(queries.SCORTEN_PREFIX)
        return (1, MEASURE_IDS.index(measure) if measure in MEASURE_IDS else 99, field)
    if field.startswith(queries.FOLLOW_UP_PREFIX):
        return (2, 0, field)
    return (3, 0, field)


def _answer_lines(lang: str, ctx: Context, history: list[queries.HistoryRow]) -> list[str]:
    """Each answer with who and when; every later row as a change old → new with its source
    and reason (corrections, updates, changes during the screening)."""
    by_field: dict[str, list[queries.HistoryRow]] = {}
    for row in history:
        by_field.setdefault(row.question_id, []).append(row)
    lines: list[str] = []
    for field in sorted(by_field, key=_field_order):
        rows = by_field[field]
        first = rows[0]
        lines.append(
            t(
                lang,
                "pt.answer",
                label=short_label(lang, field),
                value=stored_text(lang, field, first.value),
                by=first.answered_by,
                when=moment_text(first.answered_at, ctx),
            )
        )
        for before, row in itertools.pairwise(rows):
            source_key = f"pt.src.{row.source}"
            source = t(lang, source_key)
            lines.append(
                t(
                    lang,
                    "pt.change",
                    old=stored_text(lang, field, before.value),
                    new=stored_text(lang, field, row.value),
                    source=row.source if source == source_key else source,
                    by=row.answered_by,
                    when=moment_text(row.answered_at, ctx),
                )
            )
            if row.reason:
                lines.append(t(lang, "pt.reason", reason=row.reason))
    return lines or ["—"]


#: Reminder states listed one by one in /patient; the others are only counted.
SHOWN_STATES = (
    ReminderState.SENT,
    ReminderState.FAILED,
    ReminderState.CLAIMED,
    ReminderState.SCHEDULED,
)


def _reminder_lines(
    lang: str, ctx: Context, reminders: list[outbox.Reminder], names: dict[int, str]
) -> list[str]:
    """Sent, failed and scheduled reminders, one line per step (recipients joined), in words
    (bot/views/reminder_words.py); the cancelled and skipped ones (rebuilt or superseded) as
    a count."""
    shown: dict[tuple[str, str, str], list[str]] = {}
    hidden: dict[str, int] = {}
    for r in reminders:
        if r.state not in SHOWN_STATES:
            hidden[r.state] = hidden.get(r.state, 0) + 1
            continue
        moment = r.sent_at if r.state == ReminderState.SENT and r.sent_at else r.due_at
        when = moment_text(moment, ctx)
        if r.late:
            when += " " + t(lang, "pt.late")
        if r.state == ReminderState.FAILED and r.last_error:
            when += f" — {reason_words(lang, r.last_error[:80])}"
        recipient = recipient_words(lang, r.recipient, names)
        key = (what(lang, r.kind, r.step), r.state, when)
        if recipient not in shown.setdefault(key, []):
            shown[key].append(recipient)
    lines = [
        t(lang, "pt.reminder", kind=kind, recipient=", ".join(recipients),
          state=state_words(lang, state), when=when)
        for (kind, state, when), recipients in shown.items()
    ]  # fmt: skip
    if hidden:
        counts = ", ".join(
            t(lang, "pt.reminders_count", state=state_words(lang, state), count=n)
            for state, n in sorted(hidden.items())
        )
        lines.append(t(lang, "pt.reminders_hidden", counts=counts))
    return lines or [t(lang, "pt.no_reminders")]
