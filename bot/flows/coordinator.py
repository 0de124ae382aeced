"""The coordinators' views: /status, /patient, /correct, /export, /stats, and
`lysyme-bot export DIR`.

Why these rules:
- Patients are counted once: a re-screen (`rescreen_of`) is the same patient, and the
  screening that speaks for a patient is chosen in `storage.queries` (module docstring).
- `/correct` never overwrites: a new answer row (source "correction", with its reason) and an
  audit row old → new, then `bot.outcomes.reevaluate` recomputes outcome, dose, deadline and
  reminders at *now*. Bad input raises `_Refused` inside the transaction, so nothing is
  written at all (not even the update id).
- `/correct NUMBER withdrawal cancel reason` undoes a withdrawal recorded by mistake: the
  status goes back to `screened` (or `injected` if an injection is recorded) and the D0 window
  reminders are rebuilt by the re-evaluation (past the deadline, the outcome becomes not
  eligible, `d0_window`). Withdrawing is `/withdraw`'s job, not a correction.
- `/correct NUMBER injected_at dd/mm/yyyy hh:mm reason` moves the still-scheduled follow-up
  reminders with D0; a corrected time after the D0 deadline is a protocol deviation: the
  correction's reason becomes the override reason and a `d0_deviation` row is audited.
- A SCORTEN value is severity, not eligibility: correcting one does not re-evaluate.
- The chart and the workbook are rendered in a worker thread (matplotlib and openpyxl are
  CPU-bound; the bot keeps answering meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import itertools
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import outcomes, routing
from bot.common import Actor, Button, Context, Out
from bot.criteria import criterion_short_name, verdict_sentences
from bot.exports.fields import criterion_name
from bot.present import answer_text, classification, dose_line, error_text, local_time, time_left
from bot.records import begin, load, record_answer
from bot.reports import Table, render_csv, render_xlsx
from bot.settings import Settings
from bot.texts import t
from conversations import consort, versions
from conversations.answers import AnswerError, from_json, normalise, parse_text
from conversations.eligibility import Outcome, Verdict
from conversations.flow import without_inapplicable
from conversations.protocol import (
    BY_ID,
    D0_WINDOW,
    QUESTION_IDS,
    QUESTIONS,
    AnswerValue,
    in_question_order,
)
from conversations.schedule import FOLLOW_UP_BY_ID, FOLLOW_UPS, follow_up_due
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Scorten,
    Unit,
    check_measure,
    classify,
    scorten,
)
from conversations.windows import d0_deadline, local_today
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage.anchor import Head, read_head_of
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.connection import Connection
from storage.screenings import Screening

#: Longest correction reason accepted: a short reason, never a clinical narrative.
REASON_LIMIT = 200
WITHDRAWAL_UNDO = frozenset({"cancel", "annuler", "undo"})
NOT_AVAILABLE = frozenset({"na", "n/a", "nd", "none", "-", "non_disponible", "not_available"})


class _Refused(Exception):
    """Raised inside a transaction to roll it back and answer `outs` instead."""

    def __init__(self, outs: list[Out]) -> None:
        super().__init__("refused")
        self.outs = outs

    @classmethod
    def saying(cls, lang: str, key: str, **params: object) -> _Refused:
        """A refusal of one message: the text `key`."""
        return cls([Out(t(lang, key, **params))])


# --- wording shared by the views ------------------------------------------------------------


def short_label(lang: str, field: str, *, tight: bool = False) -> str:
    """A criterion's label without its list of choices (and, when `tight`, its parenthesis):
    lines stay short on a phone."""
    if field in BY_ID or field == D0_WINDOW:
        return criterion_short_name(lang, field)  # the one name of a criterion (bot/criteria)
    if field.startswith(queries.SCORTEN_PREFIX):
        measure = field.removeprefix(queries.SCORTEN_PREFIX)
        if measure in MEASURE_BY_ID:
            return "SCORTEN · " + t(lang, f"scorten.{measure}", unit=Unit.MMOL_L.value)
    if field.startswith(queries.FOLLOW_UP_PREFIX):
        key = "pt.fu." + field.removeprefix(queries.FOLLOW_UP_PREFIX)
        text = t(lang, key)
        return field if text == key else text
    key = f"exp.col.{field}"
    text = t(lang, key)
    return field if text == key else text


def labels(lang: str, fields: Sequence[str], *, tight: bool = False) -> str:
    """Names in the order of the questions (not the ids' alphabetical order)."""
    return "; ".join(short_label(lang, f, tight=tight) for f in in_question_order(fields))


def _reason_sentences(
    lang: str, ctx: Context, s: Screening, outcome: str, reasons: Sequence[str],
    answers: dict[str, AnswerValue], now: dt.datetime,
) -> str:  # fmt: skip
    """A coordinator's view: each failing or pending criterion with its value and rule."""
    if outcome == Outcome.INCOMPLETE.value:
        return labels(lang, reasons)
    verdict = Verdict.FAILED if outcome == Outcome.NOT_ELIGIBLE.value else Verdict.PENDING
    return verdict_sentences(lang, reasons, without_inapplicable(answers), now, ctx.zone,
                             injected=s.injected_at is not None, verdict=verdict)  # fmt: skip


def _typed_answers(current: dict[str, str]) -> dict[str, AnswerValue]:
    answers: dict[str, AnswerValue] = {}
    for field, stored in current.items():
        if field in BY_ID and stored is not None:
            try:
                answers[field] = from_json(field, stored)
            except (ValueError, TypeError):
                continue
    return answers


def reason_label(lang: str, reason: str) -> str:
    """A non-inclusion reason: a criterion, or the status that ended the patient's course."""
    if reason in consort.STATUS_REASONS:
        text = t(lang, f"status.{reason}")
        return text[:1].upper() + text[1:]
    if reason == "unknown":
        return t(lang, "stats.reason_unknown")
    return criterion_name(lang, reason)


def _choice_text(lang: str, value: str) -> str:
    key = f"c.{value}"
    text = t(lang, key)
    return value if text == key else text


def stored_text(lang: str, field: str, stored: str | None) -> str:
    """How one stored answer value reads (protocol answers, SCORTEN values, follow-ups)."""
    if stored is None:
        return "—"
    if field in BY_ID:
        try:
            return answer_text(lang, field, from_json(field, stored))
        except (ValueError, TypeError):
            return stored
    raw = queries.json_value(stored)
    if field.startswith(queries.SCORTEN_PREFIX):
        if raw is None:
            return t(lang, "c.not_available")
        measure = MEASURE_BY_ID.get(field.removeprefix(queries.SCORTEN_PREFIX))
        unit = measure.units[0].value if measure else ""
        number = f"{raw:g}" if isinstance(raw, int | float) else str(raw)
        return f"{number.replace('.', ',') if lang == 'fr' else number} {unit}".strip()
    if isinstance(raw, bool):
        return t(lang, "c.yes" if raw else "c.no")
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw).strftime("%d/%m/%Y")
        except ValueError:
            return _choice_text(lang, raw)
    return "—" if raw is None else str(raw)


def _when(moment: dt.datetime | None, ctx: Context) -> str:
    return "—" if moment is None else local_time(moment, ctx.zone)


def _audit_value(value: str | None, ctx: Context) -> str:
    """An audited old/new value: an instant in local time, anything else as it is."""
    if value is None:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_time(moment, ctx.zone) if moment.tzinfo is not None else value


def _bsa(values: dict[str, str]) -> float | None:
    raw = queries.json_value(values.get("max_bsa_percent"))
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def _heading(lang: str, screening: Screening, bsa: float | None) -> str:
    """`HMN-002 · screened · pending · TEN`: the same words as everywhere."""
    parts = [f"<b>{html.escape(screening.number)}</b>", t(lang, f"status.{screening.status}")]
    if screening.outcome and screening.status != store.IN_SCREENING:
        parts.append(t(lang, f"outcome.{screening.outcome}"))
    cls = classification(lang, bsa)
    if cls:
        parts.append(cls)
    return " · ".join(parts)


# --- /status --------------------------------------------------------------------------------


def _deadline_of(screening: Screening, values: dict[str, str], ctx: Context) -> dt.datetime | None:
    if screening.d0_deadline is not None:
        return screening.d0_deadline
    raw = queries.json_value(values.get("admission_date"))
    if isinstance(raw, str):
        try:
            return d0_deadline(dt.date.fromisoformat(raw), ctx.zone)
        except ValueError:
            return None
    return None


async def status(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """Every open patient, soonest D0 deadline first; coordinators get the summary on top."""
    lang = ctx.language(actor)
    now = ctx.now()
    coordinator = actor.user is not None and actor.user.has("coordinator")
    async with ctx.db.read() as conn:
        rows = await queries.open_screenings(conn)
        values = await queries.latest_values(conn, ("admission_date", "max_bsa_percent"))
        everything = await queries.all_screenings(conn) if coordinator else []
    lines: list[str] = []
    in_force = versions.in_force(local_today(now, ctx.zone))
    if coordinator:
        lines += [
            t(lang, "st.summary", **consort.summary_counts(everything)),
            t(lang, "pv.status", version=in_force.name,
              since=in_force.effective.strftime("%d/%m/%Y")),
            "",
        ]  # fmt: skip
    listed = [(s, _deadline_of(s, values.get(s.id, {}), ctx)) for s in rows]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    listed.sort(key=lambda item: (item[1] is None, item[1] or far, item[0].sequence))
    if not listed:
        lines.append(t(lang, "st.none"))
        return [Out("\n".join(lines))]
    lines.append(t(lang, "st.title", count=len(listed)))
    for screening, deadline in listed:
        entry = _status_entry(lang, ctx, screening, deadline, values, now)
        if coordinator and screening.protocol_version != in_force.name:
            entry[0] += f" · {html.escape(screening.protocol_version)}"  # judged under an older one
        lines += ["", *entry]
    return [Out("\n".join(lines))]


def _status_entry(
    lang: str,
    ctx: Context,
    s: Screening,
    deadline: dt.datetime | None,
    values: dict[int, dict[str, str]],
    now: dt.datetime,
) -> list[str]:
    lines = [_heading(lang, s, _bsa(values.get(s.id, {})))]
    if deadline is None:
        lines.append(t(lang, "st.no_deadline"))
    elif deadline <= now:
        lines.append(t(lang, "st.deadline_past", deadline=local_time(deadline, ctx.zone)))
    else:
        lines.append(
            t(
                lang,
                "st.deadline",
                deadline=local_time(deadline, ctx.zone),
                left=time_left(lang, deadline, now),
            )
        )
    activity = _when(s.last_activity_at, ctx)
    if s.status == store.IN_SCREENING:
        if s.stage == "summary":
            lines.append(t(lang, "st.at_summary", when=activity))
        elif s.stage == "confirm_exclusion":
            lines.append(t(lang, "st.at_exclusion", when=activity))
        else:
            question = short_label(lang, s.cursor or QUESTIONS[0].id, tight=True)
            lines.append(t(lang, "st.at_question", question=question, when=activity))
    elif s.outcome == Outcome.PENDING.value and s.reasons:
        lines.append(t(lang, "st.pending", names=labels(lang, s.reasons, tight=True)))
    else:
        lines.append(t(lang, "st.awaiting_d0", number=s.number))
    return lines


# --- /patient -------------------------------------------------------------------------------


async def patient(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The whole record of one patient, split by the renderer under 4,096 characters."""
    lang = ctx.language(actor)
    if len(args) != 1:
        return [Out(t(lang, "pt.usage"))]
    number = args[0].upper()
    now = ctx.now()
    async with ctx.db.read() as conn:
        s = await store.get_by_number(conn, number)
        if s is None:
            return [Out(t(lang, "screen.not_found", number=number))]
        history = await queries.answer_history(conn, s.id)
        reminders = await outbox.for_screening(conn, s.id)
        corrections = await queries.screening_audit(conn, s.number, ("correction", "d0_deviation"))
        rescreens = [
            x.number for x in await queries.all_screenings(conn) if x.rescreen_of == s.number
        ]
        current = await store.current_answers(conn, s.id)
        severity = None
        if _has_severity(s, current):
            severity = await outcomes.scorten_summary(conn, lang, s)
    lines = [_heading(lang, s, _bsa(current))]
    lines += _course_lines(lang, ctx, s, current, rescreens, now)
    if severity:
        lines.append(severity)
    if s.injected_at is not None:
        lines += ["", t(lang, "pt.follow_ups"), *_follow_up_lines(lang, ctx, s, current)]
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
                    old=_audit_value(row.old_value, ctx),
                    new=_audit_value(row.new_value, ctx),
                    by=row.actor,
                    when=_when(row.at, ctx),
                )
            )
            if row.reason:
                lines.append(t(lang, "pt.reason", reason=row.reason))
    lines += ["", t(lang, "pt.reminders"), *_reminder_lines(lang, ctx, reminders)]
    return [Out("\n".join(lines))]


def _has_severity(s: Screening, current: dict[str, str]) -> bool:
    asked = any(k.startswith(queries.SCORTEN_PREFIX) for k in current)
    included = s.outcome in (Outcome.ELIGIBLE.value, Outcome.PENDING.value)
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
    lines = [t(lang, "pt.opened", when=_when(s.created_at, ctx), by=s.clinician_id)]
    lines.append(t(lang, "pv.patient", version=s.protocol_version))
    if s.closed_at is not None:
        lines.append(t(lang, "pt.closed", when=_when(s.closed_at, ctx)))
    if s.rescreen_of:
        lines.append(t(lang, "screen.rescreen_of", number=s.rescreen_of))
    if rescreens:
        lines.append(t(lang, "pt.rescreened_as", numbers=", ".join(rescreens)))
    if s.outcome and s.status != store.IN_SCREENING:
        lines.append(t(lang, "pt.outcome", outcome=t(lang, f"outcome.{s.outcome}")))
        key = {"not_eligible": "pt.failed", "pending": "pt.pending", "incomplete": "pt.missing"}
        if s.reasons and s.outcome in key:
            names = _reason_sentences(lang, ctx, s, s.outcome, s.reasons,
                                      _typed_answers(current), now)  # fmt: skip
            lines.append(t(lang, key[s.outcome], names=names))
    weight = queries.json_value(current.get("weight_kg"))
    if s.dose_cells is not None and isinstance(weight, int | float):
        lines.append(dose_line(lang, s.dose_cells, float(weight)))
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
        lines.append(t(lang, "pt.injected", when=_when(s.injected_at, ctx), by=by))
        if s.d0_override_reason:
            lines.append(t(lang, "pt.override", reason=s.d0_override_reason))
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
                when=_when(first.answered_at, ctx),
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
                    when=_when(row.answered_at, ctx),
                )
            )
            if row.reason:
                lines.append(t(lang, "pt.reason", reason=row.reason))
    return lines or ["—"]


#: Reminder states listed one by one in /patient; the others are only counted.
SHOWN_STATES = ("sent", "failed", "claimed", "scheduled")


def _reminder_lines(lang: str, ctx: Context, reminders: list[outbox.Reminder]) -> list[str]:
    """Sent, failed and scheduled reminders, one line per step (recipients joined); the
    cancelled and skipped ones (rebuilt or superseded) as a count."""
    shown: dict[tuple[str, str, str], list[str]] = {}
    hidden: dict[str, int] = {}
    for r in reminders:
        if r.state not in SHOWN_STATES:
            hidden[r.state] = hidden.get(r.state, 0) + 1
            continue
        moment = r.sent_at if r.state == "sent" and r.sent_at else r.due_at
        when = _when(moment, ctx)
        if r.late:
            when += " " + t(lang, "pt.late")
        if r.state == "failed" and r.last_error:
            when += f" — {r.last_error[:80]}"
        shown.setdefault((f"{r.kind}/{r.step}", r.state, when), []).append(r.recipient)
    lines = [
        t(lang, "pt.reminder", kind=kind, recipient=", ".join(recipients),
          state=_state(lang, state), when=when)
        for (kind, state, when), recipients in shown.items()
    ]  # fmt: skip
    if hidden:
        counts = ", ".join(f"{_state(lang, state)} {n}" for state, n in sorted(hidden.items()))
        lines.append(t(lang, "pt.reminders_hidden", counts=counts))
    return lines or [t(lang, "pt.no_reminders")]


def _state(lang: str, state: str) -> str:
    key = f"pt.rstate.{state}"
    text = t(lang, key)
    return state if text == key else text


# --- /correct -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    number: str
    field: str
    value: str
    reason: str


def _parse_request(lang: str, args: list[str]) -> _Request:
    usage = [Out(t(lang, "cor.usage"))]
    if len(args) < 3:
        raise _Refused(usage)
    number, field = args[0].upper(), args[1].lower()
    if field in MEASURE_BY_ID:  # `urea` for `scorten:urea`
        field = queries.SCORTEN_PREFIX + field
    width = 2 if field == "injected_at" else 1
    value = " ".join(args[2 : 2 + width])
    reason = " ".join(args[2 + width :]).strip()
    if field == "withdrawal" and value.lower() not in WITHDRAWAL_UNDO:
        raise _Refused.saying(lang, "cor.withdrawal_value")
    measure = field.removeprefix(queries.SCORTEN_PREFIX)
    known = (
        field in BY_ID
        or field in ("injected_at", "withdrawal")
        or (field.startswith(queries.SCORTEN_PREFIX) and measure in MEASURE_BY_ID)
    )
    if not known:
        raise _Refused([Out(t(lang, "cor.unknown_id", field=field)), *usage])
    if len(args) < 2 + width or not reason:
        raise _Refused([Out(t(lang, "cor.no_reason")), *usage])
    if len(reason) > REASON_LIMIT:
        raise _Refused(
            [Out(t(lang, "cor.reason_too_long", length=len(reason), limit=REASON_LIMIT))]
        )
    return _Request(number, field, value, reason)


def _invalid(lang: str, exc: AnswerError) -> _Refused:
    problem = error_text(lang, exc)
    return _Refused([Out(t(lang, "screen.invalid", problem=problem)), Out(t(lang, "cor.usage"))])


async def correct(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """`/correct NUMBER id value reason`: a correction after the fact, audited, re-evaluated."""
    lang = ctx.language(actor)
    now = ctx.now()
    try:
        request = _parse_request(lang, args)
        async with ctx.db.transaction() as conn:
            s = await store.get_by_number(conn, request.number)
            if s is None:
                raise _Refused.saying(lang, "screen.not_found", number=request.number)
            if s.status == store.IN_SCREENING:
                raise _Refused.saying(lang, "cor.in_screening", number=s.number)
            if s.status == store.ABANDONED:
                raise _Refused.saying(lang, "cor.abandoned", number=s.number)
            if request.field == "withdrawal":
                outs = await _undo_withdrawal(conn, ctx, actor, s, request, now)
            elif request.field == "injected_at":
                outs = await _correct_injection(conn, ctx, actor, s, request, now)
            elif request.field.startswith(queries.SCORTEN_PREFIX):
                outs = await _correct_scorten(conn, ctx, actor, s, request, now)
            else:
                outs = await _correct_answer(conn, ctx, actor, s, request, now)
    except _Refused as refused:
        return refused.outs
    ctx.wake_sender()
    return outs


async def _correct_answer(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    field = request.field
    answers = without_inapplicable((await load(conn, s)).answers)
    if not BY_ID[field].applies(answers):
        raise _Refused.saying(lang, "cor.not_applicable", label=short_label(lang, field))
    try:
        value = parse_text(field, request.value, local_today(now, ctx.zone), answers)
    except AnswerError as exc:
        raise _invalid(lang, exc) from None
    old = answers.get(field)
    if old == value and type(old) is type(value):
        raise _Refused.saying(
            lang, "cor.same", label=short_label(lang, field), value=answer_text(lang, field, value)
        )
    await begin(conn, actor, now)  # valid: drop a re-delivery
    updated = dict(answers)
    updated[field] = value
    updated = without_inapplicable(updated)
    await record_answer(
        conn, actor, s, answers, updated, field, now, source="correction", reason=request.reason
    )
    lines = [
        t(
            lang,
            "cor.done",
            number=s.number,
            label=short_label(lang, field),
            old=answer_text(lang, field, old),
            new=answer_text(lang, field, value),
        )
    ]
    lines += await _reevaluate(conn, ctx, actor, s, request.reason, now)
    return [Out("\n".join(lines))]


async def _reevaluate(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    reason: str,
    now: dt.datetime,
) -> list[str]:
    """Re-apply the rules (bot.outcomes.reevaluate) and word old → new outcome; when it
    changed, the clinician who screened is told too (the team already is, by reevaluate)."""
    lang = ctx.language(actor)
    fresh = await store.get_by_id(conn, s.id)
    assert fresh is not None
    old, evaluation = await outcomes.reevaluate(conn, ctx, str(actor.user_id), fresh, now, reason)
    new = evaluation.outcome.value
    lines: list[str] = []
    if old != new:
        old_text = t(lang, f"outcome.{old}") if old else "—"
        lines.append(t(lang, "cor.outcome_changed", old=old_text, new=t(lang, f"outcome.{new}")))
        # reevaluate queues the team's notice for a screened patient awaiting D0 only (an
        # injected or withdrawn patient's course no longer depends on the outcome).
        if fresh.status == store.SCREENED:
            clinician = s.clinician_id
            if clinician not in (actor.user_id, fresh.last_actor_id):
                recipients = [outbox.user_recipient(clinician)]
                await outbox.schedule(conn, s.id, "outcome_change", new, now, recipients)
            lines.append(t(lang, "cor.told"))
    else:
        lines.append(t(lang, "cor.outcome_same", outcome=t(lang, f"outcome.{new}")))
    key = {"not_eligible": "pt.failed", "pending": "pt.pending", "incomplete": "pt.missing"}
    answers = (await load(conn, fresh)).answers
    if evaluation.reasons and new in key:
        names = _reason_sentences(lang, ctx, fresh, new, evaluation.reasons, answers, now)
        lines.append(t(lang, key[new], names=names))
    weight = answers.get("weight_kg")
    changed = evaluation.dose_cells != fresh.dose_cells or old != new
    if evaluation.dose_cells is not None and isinstance(weight, int | float) and changed:
        lines.append(dose_line(lang, evaluation.dose_cells, float(weight)))
    return lines


_TIME = re.compile(r"^(?P<h>[0-9]{1,2})[:hH.](?P<m>[0-9]{2})$")


def parse_moment(text: str, now: dt.datetime, ctx: Context, lang: str) -> dt.datetime:
    """`dd/mm/yyyy hh:mm` (any date form the screening accepts), local time, not future."""
    date_text, _, time_text = normalise(text).partition(" ")
    match = _TIME.match(time_text)
    if match is None or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise _Refused.saying(lang, "screen.invalid", problem=t(lang, "cor.bad_moment"))
    try:
        day = parse_text("index_date", date_text, local_today(now, ctx.zone))
    except AnswerError as exc:
        raise _invalid(lang, exc) from None
    assert isinstance(day, dt.date)
    moment = dt.datetime.combine(day, dt.time(int(match["h"]), int(match["m"])), tzinfo=ctx.zone)
    if moment > now:
        raise _Refused.saying(lang, "screen.invalid", problem=t(lang, "cor.future_moment"))
    return moment


async def _correct_injection(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    if s.injected_at is None:
        raise _Refused.saying(lang, "cor.not_injected", number=s.number)
    moment = parse_moment(request.value, now, ctx, lang)
    if s.admission_date is not None and moment.date() < s.admission_date:
        admission = s.admission_date.strftime("%d/%m/%Y")
        problem = t(lang, "cor.before_admission", admission=admission)
        raise _Refused.saying(lang, "screen.invalid", problem=problem)
    if moment == s.injected_at:
        raise _Refused(
            [
                Out(
                    t(
                        lang,
                        "cor.same",
                        label=short_label(lang, "injected_at"),
                        value=_when(moment, ctx),
                    )
                )
            ]
        )
    await begin(conn, actor, now)  # valid: drop a re-delivery
    late = s.d0_deadline is not None and moment > s.d0_deadline
    fields: dict[str, object] = {"injected_at": moment}
    if late:
        fields["d0_override_reason"] = request.reason
    await store.update_screening(conn, s.id, now, **fields)
    entries = [
        AuditEntry(
            now,
            str(actor.user_id),
            "correction",
            s.number,
            "injected_at",
            s.injected_at.astimezone(dt.UTC).isoformat(),
            moment.astimezone(dt.UTC).isoformat(),
            request.reason,
        ),
    ]
    if late:
        entries.append(
            AuditEntry(
                now,
                str(actor.user_id),
                "d0_deviation",
                s.number,
                "d0_override_reason",
                s.d0_override_reason,
                request.reason,
                request.reason,
            )
        )
    await append_audit_many(conn, entries)
    moved = 0
    for reminder in await outbox.for_screening(conn, s.id):
        follow_up = FOLLOW_UP_BY_ID.get(reminder.step)
        if reminder.kind == "follow_up" and follow_up and reminder.state == "scheduled":
            moved += await queries.move_reminder(
                conn, reminder.id, follow_up_due(moment, follow_up, ctx.zone)
            )
    lines = [
        t(
            lang,
            "cor.done",
            number=s.number,
            label=short_label(lang, "injected_at"),
            old=_when(s.injected_at, ctx),
            new=_when(moment, ctx),
        )
    ]
    if late and s.d0_deadline is not None:
        lines.append(t(lang, "cor.deviation", deadline=local_time(s.d0_deadline, ctx.zone)))
    if moved:
        lines.append(t(lang, "cor.follow_ups_moved", count=moved))
    lines += await _reevaluate(conn, ctx, actor, s, request.reason, now)
    return [Out("\n".join(lines))]


async def _correct_scorten(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    field = request.field
    measure = field.removeprefix(queries.SCORTEN_PREFIX)
    text = normalise(request.value).replace(",", ".")
    value: float | None = None
    if text not in NOT_AVAILABLE:
        try:
            if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,3})?", text):
                raise AnswerError(field, "not_a_number")
            value = check_measure(measure, float(text))
        except AnswerError as exc:
            raise _invalid(lang, exc) from None
    stored = "null" if value is None else repr(value)
    current = await store.current_answers(conn, s.id)
    old = current.get(field)
    if old is not None and queries.json_value(old) == value:
        raise _Refused.saying(
            lang, "cor.same", label=short_label(lang, field), value=stored_text(lang, field, old)
        )
    await begin(conn, actor, now)  # valid: drop a re-delivery
    await store.add_answer(
        conn,
        s.id,
        field,
        stored,
        by=actor.user_id,
        now=now,
        source="correction",
        reason=request.reason,
    )
    await append_audit(
        conn,
        AuditEntry(
            now, str(actor.user_id), "correction", s.number, field, old, stored, request.reason
        ),
    )
    lines = [
        t(
            lang,
            "cor.done",
            number=s.number,
            label=short_label(lang, field),
            old=stored_text(lang, field, old),
            new=stored_text(lang, field, stored),
        ),
        await outcomes.scorten_summary(conn, lang, s),
    ]
    return [Out("\n".join(lines))]


async def _undo_withdrawal(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    if s.status != store.WITHDRAWN:
        raise _Refused(
            [
                Out(
                    t(
                        lang,
                        "cor.not_withdrawn",
                        number=s.number,
                        status=t(lang, f"status.{s.status}"),
                    )
                )
            ]
        )
    await begin(conn, actor, now)  # valid: drop a re-delivery
    restored = store.INJECTED if s.injected_at is not None else store.SCREENED
    await store.update_screening(conn, s.id, now, status=restored, withdrawn_reason=None)
    await append_audit_many(
        conn,
        [
            AuditEntry(
                now,
                str(actor.user_id),
                "correction",
                s.number,
                "status",
                s.status,
                restored,
                request.reason,
            ),
            AuditEntry(
                now,
                str(actor.user_id),
                "correction",
                s.number,
                "withdrawn_reason",
                s.withdrawn_reason,
                None,
                request.reason,
            ),
        ],
    )
    lines = [
        t(lang, "cor.withdrawal_cancelled", number=s.number, status=t(lang, f"status.{restored}"))
    ]
    lines += await _reevaluate(conn, ctx, actor, s, request.reason, now)
    return [Out("\n".join(lines))]


# --- /export and `lysyme-bot export DIR` ----------------------------------------------------

BASE_COLUMNS = (
    "number",
    "site",
    "rescreen_of",
    "protocol_version",
    "clinician_id",
    "created_at",
    "closed_at",
    "status",
    "outcome",
    "failed",
    "pending",
    "classification",
    "dose_cells",
    "d0_deadline",
    "injected_at",
    "injected_by",
    "d0_override_reason",
    "withdrawn_reason",
)
SCORTEN_COLUMNS = (
    *(f"scorten_{m}" for m in MEASURE_IDS),
    "scorten_score",
    "scorten_missing",
    "scorten_predicted_mortality",
)
FOLLOW_UP_COLUMNS = tuple(f"follow_up_{f.id}" for f in FOLLOW_UPS)
#: The CSV header: stable machine names (DESIGN.md question ids in protocol order; the
#: admission date is its question's column, `admission_date`, not repeated).
SCREENING_COLUMNS = (*BASE_COLUMNS, *QUESTION_IDS, *SCORTEN_COLUMNS, *FOLLOW_UP_COLUMNS)
ANSWER_COLUMNS = (
    "number",
    "question_id",
    "question",
    "value",
    "answered_by",
    "answered_at",
    "source",
    "reason",
)
COUNT_COLUMNS = ("group", "item", "label", "count")


#: The formats of /export and `lysyme-bot export --format`, in the order the buttons show them.
FORMATS = ("xlsx", "csv", "redcap", "odm")
DEFAULT_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class ExportFile:
    name: str
    content: bytes
    what: str  # text key of the one line saying what the file is for


@dataclass(frozen=True)
class ExportFiles:
    files: list[ExportFile]
    screenings: int


class BadFormat(ValueError):
    """An export format that does not exist (the message names it and the valid ones)."""


def parse_formats(text: str) -> tuple[str, ...]:
    """ "xlsx,csv" / "redcap odm" → the formats, in FORMATS order, each once."""
    asked = [word for word in re.split(r"[,\s]+", text.strip().lower()) if word]
    unknown = [word for word in asked if word not in FORMATS]
    if unknown or not asked:
        raise BadFormat(unknown[0] if unknown else "")
    return tuple(f for f in FORMATS if f in asked)


def severity(values: dict[str, str]) -> Scorten | None:
    """The SCORTEN of one screening, or None when no SCORTEN value was ever asked."""
    if not any(k.startswith(queries.SCORTEN_PREFIX) for k in values):
        return None
    measures: dict[str, float | None] = {}
    for measure in MEASURE_IDS:
        raw = queries.json_value(values.get(queries.SCORTEN_PREFIX + measure))
        measures[measure] = float(raw) if isinstance(raw, int | float) else None
    age = queries.json_value(values.get("age"))
    return scorten(age if isinstance(age, int) else None, _bsa(values), measures)


def _typed(field: str, stored: str | None) -> object:
    """A stored value as a typed cell: dates as dates, numbers as numbers."""
    if stored is None:
        return None
    if field in BY_ID:
        try:
            return from_json(field, stored)
        except (ValueError, TypeError):
            return stored
    raw = queries.json_value(stored)
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return raw
    return raw


def _local(moment: dt.datetime | None, ctx_zone: dt.tzinfo) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(ctx_zone)


def _screening_row(
    s: Screening, values: dict[str, str], zone: dt.tzinfo, lang: str | None
) -> list[object]:
    """One row of the log; `lang` None gives the machine words (CSV), else the reader's."""
    cls = classify(_bsa(values))
    score = severity(values)
    row: list[object] = [
        s.number,
        s.site,
        s.rescreen_of,
        s.protocol_version,
        s.clinician_id,
        _local(s.created_at, zone),
        _local(s.closed_at, zone),
        t(lang, f"status.{s.status}") if lang else s.status,
        (t(lang, f"outcome.{s.outcome}") if lang else s.outcome) if s.outcome else None,
        _reasons(lang, s.reasons if s.outcome in ("not_eligible", "incomplete") else ()),
        _reasons(lang, s.reasons if s.outcome == "pending" else ()),
        (t(lang, f"class.{cls.value}") if lang else cls.value) if cls else None,
        s.dose_cells,
        _local(s.d0_deadline, zone),
        _local(s.injected_at, zone),
        s.injected_by,
        s.d0_override_reason,
        s.withdrawn_reason,
    ]
    row += [_for_people(lang, _typed(q, values.get(q))) for q in QUESTION_IDS]
    row += [
        _typed(queries.SCORTEN_PREFIX + m, values.get(queries.SCORTEN_PREFIX + m))
        for m in MEASURE_IDS
    ]
    if score is None:
        row += [None, None, None]
    elif lang is None:  # machines: the score from the known values, mortality as a fraction
        mortality = score.predicted_mortality
        row += [
            score.score,
            list(score.missing),
            None if mortality is None else round(mortality, 4),
        ]
    else:  # people: a partial score is a minimum ("≥ 2"), mortality in %
        mortality = score.predicted_mortality
        row += [
            score.score if score.complete else f"≥ {score.score}",
            "; ".join(_scorten_missing(lang, m) for m in score.missing),
            None if mortality is None else round(mortality * 100, 1),
        ]
    row += [
        _for_people(lang, _typed(queries.FOLLOW_UP_PREFIX + f.id,
                                 values.get(queries.FOLLOW_UP_PREFIX + f.id)))
        for f in FOLLOW_UPS
    ]  # fmt: skip
    return row


def _reasons(lang: str | None, ids: Sequence[str]) -> list[str] | str:
    """Criteria ids for machines; their short names, in words, for people."""
    if lang is None:
        return list(ids)
    return "; ".join(criterion_name(lang, i) for i in in_question_order(ids))


def _for_people(lang: str | None, value: object) -> object:
    """A stored answer in the reader's words: yes/no and coded choices translated; dates
    and numbers stay dates and numbers (real cells)."""
    if lang is None:
        return value
    if isinstance(value, bool):
        return t(lang, "c.yes" if value else "c.no")
    if isinstance(value, str):
        return _choice_text(lang, value)
    return value


def _scorten_missing(lang: str, measure: str) -> str:
    if measure in MEASURE_BY_ID:
        return short_label(lang, queries.SCORTEN_PREFIX + measure).removeprefix("SCORTEN · ")
    key = f"exp.scorten.{measure}"
    return _choice_text(lang, measure) if t(lang, key) == key else t(lang, key)


def _titles(lang: str, columns: Sequence[str]) -> list[str]:
    titles = []
    for column in columns:
        if column == "scorten_predicted_mortality":
            titles.append(short_label(lang, column) + " (%)")
            continue
        if column in BY_ID:
            titles.append(t(lang, f"q.{column}"))
        elif column.startswith("follow_up_"):
            titles.append(short_label(lang, queries.FOLLOW_UP_PREFIX + column[len("follow_up_") :]))
        else:
            titles.append(short_label(lang, column))
    return titles


def _count_rows(lang: str, screenings: list[Screening], target: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, count in consort.summary_counts(screenings).items():
        rows.append([t(lang, "exp.group.summary"), name, t(lang, f"exp.cat.{name}"), count])
    numbers = consort.funnel(screenings)
    for name, count, label in (
        ("screened", numbers.screened, t(lang, "stats.screened")),
        ("eligible", numbers.eligible, t(lang, "exp.funnel.eligible")),
        ("injected", numbers.injected, t(lang, "stats.injected")),
    ):
        rows.append([t(lang, "exp.group.funnel"), name, label, count])
    for reason, count in sorted(numbers.reasons.items(), key=lambda i: (-i[1], i[0])):
        rows.append([t(lang, "exp.group.reason"), reason, reason_label(lang, reason), count])
    rows.append([t(lang, "exp.group.target"), "target_enrolment", t(lang, "exp.target"), target])
    return rows


@dataclass(frozen=True)
class ExportData:
    """What the log holds, read in one transaction (a consistent snapshot)."""

    screenings: list[Screening]
    values: dict[int, dict[str, str]]
    history: list[queries.HistoryRow]
    trail: list[queries.TrailRow]
    head: Head | None = None  # the audit trail's head at that snapshot (the "about" sheet)


async def read_export(conn: Connection) -> ExportData:
    return ExportData(
        await queries.all_screenings(conn),
        await queries.latest_values(conn),
        await queries.answer_history(conn),
        await queries.screenings_trail(conn),
        await read_head_of(conn),
    )


def consent_answers(data: ExportData) -> dict[str, str | None]:
    """Screening number → its current consent answer (for the CONSORT consent stages)."""
    answers: dict[str, str | None] = {}
    for s in data.screenings:
        raw = queries.json_value(data.values.get(s.id, {}).get("consent"))
        answers[s.number] = raw if isinstance(raw, str) else None
    return answers


def consort_of(data: ExportData) -> consort.Consort:
    return consort.consort(data.screenings, consent_answers(data))


def consort_rows(lang: str, counts: consort.Consort) -> list[list[object]]:
    """The CONSORT sheet: the stages, the final boxes (every patient in one), and the reasons."""
    rows: list[list[object]] = []
    stage_group, box_group = t(lang, "co.group.stage"), t(lang, "co.group.box")
    for stage in consort.STAGES:
        rows.append([stage_group, stage, t(lang, f"co.stage.{stage}"), counts.stages[stage]])
    for box in consort.FINAL_BOXES:
        rows.append([box_group, box, t(lang, f"co.box.{box}"), counts.boxes[box]])
    for criterion, n in sorted(counts.criteria.items(), key=lambda i: (-i[1], i[0])):
        rows.append([t(lang, "co.group.criterion"), criterion, reason_label(lang, criterion), n])
    for kind in consort.IN_PROGRESS_KINDS:
        rows.append([t(lang, "co.group.in_progress"), kind, t(lang, f"co.progress.{kind}"),
                     counts.in_progress[kind]])  # fmt: skip
    for outcome, n in sorted(counts.withdrawn_after.items()):
        rows.append([t(lang, "co.group.withdrawn_after"), outcome,
                     t(lang, f"outcome.{outcome}"), n])  # fmt: skip
    return rows


def extraction_line(lang: str, data: ExportData, settings: Settings, now: dt.datetime) -> str:
    """Protocol version(s), site(s) and the extraction date and time: on every sheet."""
    used = sorted({s.protocol_version for s in data.screenings})
    version = ", ".join(used) or versions.in_force(local_today(now, settings.zone)).name
    sites = ", ".join(sorted({s.site for s in data.screenings})) or settings.site_code
    return t(lang, "co.extraction", version=version, site=sites,
             when=local_time(now, settings.zone))  # fmt: skip


def _people_sheets(
    data: ExportData, settings: Settings, lang: str, now: dt.datetime
) -> list[Table]:
    zone = settings.zone
    screenings, values, history = data.screenings, data.values, data.history
    caption = extraction_line(lang, data, settings, now)
    sheets = [
        Table(
            name=t(lang, "exp.sheet.screenings"),
            columns=SCREENING_COLUMNS,
            titles=_titles(lang, SCREENING_COLUMNS),
            rows=[_screening_row(s, values.get(s.id, {}), zone, lang) for s in screenings],
            caption=caption,
        ),
        Table(
            name=t(lang, "exp.sheet.answers"),
            columns=ANSWER_COLUMNS,
            titles=_titles(lang, ANSWER_COLUMNS),
            rows=[
                [
                    h.number,
                    h.question_id,
                    short_label(lang, h.question_id),
                    _typed(h.question_id, h.value),
                    h.answered_by,
                    h.answered_at.astimezone(zone),
                    h.source,
                    h.reason,
                ]
                for h in history
            ],
            caption=caption,
        ),
        Table(
            name=t(lang, "exp.sheet.counts"),
            columns=COUNT_COLUMNS,
            titles=_titles(lang, COUNT_COLUMNS),
            rows=_count_rows(lang, screenings, settings.target_enrolment),
            caption=caption,
        ),
        Table(
            name="CONSORT",
            columns=COUNT_COLUMNS,
            titles=_titles(lang, COUNT_COLUMNS),
            rows=consort_rows(lang, consort_of(data)),
            caption=caption,
        ),
    ]
    if data.head is not None:  # which database, at which audit row, this log was read from
        sheets.append(
            Table(
                name="about",
                columns=("key", "value"),
                titles=("key", "value"),
                rows=[
                    ("database_id", data.head.database_id or ""),
                    ("audit_rows", data.head.audit_rows),
                    ("audit_head", data.head.audit_head),
                    ("exported_at", now),
                ],
                caption=caption,
            )
        )
    return sheets


async def render_export(
    data: ExportData,
    settings: Settings,
    lang: str,
    now: dt.datetime,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> ExportFiles:
    """The files of the chosen formats, rendered off the event loop and outside any
    transaction (the write lock is not held while openpyxl or lxml work)."""
    from bot.exports import odm, redcap

    zone = settings.zone
    stamp = now.astimezone(zone).strftime("%Y%m%d-%H%M")
    stem = f"lysyme-screening-log-{stamp}"

    def render() -> list[ExportFile]:
        files: list[ExportFile] = []
        for kind in formats:
            if kind == "csv":
                table = Table(
                    name="screenings",
                    columns=SCREENING_COLUMNS,
                    titles=SCREENING_COLUMNS,
                    rows=[_screening_row(s, data.values.get(s.id, {}), zone, None)
                          for s in data.screenings],
                )  # fmt: skip
                files.append(ExportFile(f"{stem}.csv", render_csv(table), "exp.what.csv"))
            elif kind == "xlsx":
                workbook = render_xlsx(_people_sheets(data, settings, lang, now),
                                       timezone=settings.timezone, created=now)  # fmt: skip
                files.append(ExportFile(f"{stem}.xlsx", workbook, "exp.what.xlsx"))
            elif kind == "redcap":
                files.append(
                    ExportFile(
                        f"lysyme-redcap-dictionary-{stamp}.csv",
                        redcap.render_dictionary(lang),
                        "exp.what.redcap_dictionary",
                    )
                )
                files.append(ExportFile(f"lysyme-redcap-records-{stamp}.csv",
                                        redcap.render_records(data.screenings, data.values, zone,
                                                              lang), "exp.what.redcap_records"))  # fmt: skip
            elif kind == "odm":
                content = odm.render_odm(data.screenings, data.values, data.trail, zone, lang, now)
                files.append(ExportFile(f"lysyme-odm-{stamp}.xml", content, "exp.what.odm"))
        return files

    return ExportFiles(await asyncio.to_thread(render), len(data.screenings))


def _export_audit(actor: str, now: dt.datetime, files: ExportFiles, how: str) -> AuditEntry:
    names = ", ".join(f.name for f in files.files)
    return AuditEntry(now, actor, "export", None, "screening_log", None,
                      f"{names} ({files.screenings} screenings)", how)  # fmt: skip


def _format_buttons(lang: str) -> list[list[Button]]:
    return [
        [Button(t(lang, "exp.button.xlsx"), "xf:xlsx"), Button(t(lang, "exp.button.csv"), "xf:csv")],
        [Button(t(lang, "exp.button.redcap"), "xf:redcap"), Button(t(lang, "exp.button.odm"), "xf:odm")],
    ]  # fmt: skip


async def export(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """/export: the formats as buttons; `/export xlsx,csv` sends those at once."""
    lang = ctx.language(actor)
    if not args:
        return [Out(t(lang, "exp.choose"), buttons=_format_buttons(lang))]
    try:
        formats = parse_formats(" ".join(args))
    except BadFormat as exc:
        return [Out(t(lang, "exp.bad_format", format=str(exc), formats=", ".join(FORMATS)))]
    return await _send_export(ctx, actor, formats, "/export")


async def export_choice(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """A format button of /export (callback data `xf:<format>`, checked against FORMATS)."""
    lang = ctx.language(actor)
    chosen = data.split(":", 1)[1] if ":" in data else ""
    if chosen not in FORMATS:
        return [Out("", toast=t(lang, "screen.stale"))]
    outs = await _send_export(ctx, actor, (chosen,), "/export")
    return [Out("", toast=t(lang, f"exp.button.{chosen}")), *outs]


async def _send_export(ctx: Context, actor: Actor, formats: Sequence[str], how: str) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()
    async with ctx.db.read() as conn:
        data = await read_export(conn)
    files = await render_export(data, ctx.settings, lang, now, formats)
    async with ctx.db.transaction() as conn:
        await begin(conn, actor, now)  # a re-delivered /export is neither audited nor sent
        await append_audit(conn, _export_audit(str(actor.user_id), now, files, how))
    return [Out(t(lang, f.what, count=files.screenings), document=(f.name, f.content))
            for f in files.files]  # fmt: skip


def _write_private(path: Path, content: bytes) -> None:
    """Health data, even pseudonymised: the files are readable by their owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot export DIR [--format xlsx,csv,redcap,odm]`: the files into DIR (CSV and
    XLSX by default); one line on stdout, or one on stderr and exit 2."""
    target = Path(args.dir)
    try:
        formats = parse_formats(args.format) if args.format is not None else DEFAULT_FORMATS
    except BadFormat as exc:
        print(f"export: unknown format {str(exc)!r} (formats: {','.join(FORMATS)})",
              file=sys.stderr)  # fmt: skip
        return 2
    if not target.is_dir():
        print(f"export: {target} is not a directory", file=sys.stderr)
        return 2
    if not Path(settings.database).exists():
        print(f"export: no database at {settings.database}", file=sys.stderr)
        return 2

    async def go() -> ExportFiles:
        from storage.db import Database

        db = await Database.open(settings.database)
        try:
            now = dt.datetime.now(dt.UTC)
            async with db.read() as conn:
                data = await read_export(conn)
            files = await render_export(data, settings, settings.language or "fr", now, formats)
            async with db.transaction() as conn:
                await append_audit(conn, _export_audit("system", now, files, "lysyme-bot export"))
            return files
        finally:
            await db.close()

    files = asyncio.run(go())
    try:
        for file in files.files:
            _write_private(target / file.name, file.content)
    except OSError as exc:
        print(f"export: cannot write into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    names = ", ".join(str(target / f.name) for f in files.files)
    print(f"export: {files.screenings} screenings written to {names}")
    return 0


# --- /stats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mortality:
    followed: int  # patients with a D30 vital status
    observed: int  # … dead at D30
    expected: float  # sum of SCORTEN predicted probabilities (complete scores only)
    complete: int  # patients whose SCORTEN is complete


def mortality(screenings: list[Screening], values: dict[int, dict[str, str]]) -> Mortality | None:
    """Observed D30 deaths vs SCORTEN's prediction, per patient (their chosen screening)."""
    followed = observed = complete = 0
    expected = 0.0
    by_number = {s.number: s for s in screenings}  # the core groups without storage ids
    for patient in consort.group_patients(screenings):
        if patient.chosen is None:
            continue
        s = by_number[patient.chosen.number]
        own = values.get(s.id, {})
        vital = queries.json_value(own.get(queries.FOLLOW_UP_PREFIX + "vital_status_d30"))
        if vital not in ("dead", "alive"):
            continue
        followed += 1
        observed += vital == "dead"
        score = severity(own)
        if score is not None and score.predicted_mortality is not None:
            complete += 1
            expected += score.predicted_mortality
    return Mortality(followed, observed, expected, complete) if followed else None


def _exit_lines(lang: str, counts: consort.Consort, stage: str) -> list[str]:
    """The side box of a stage: where the patients who stopped there ended, with the criteria
    not met (each patient once per criterion)."""
    here = counts.stopped_at.get(stage, {})
    order = [*consort.FINAL_BOXES, *(f"in_progress:{k}" for k in consort.IN_PROGRESS_KINDS)]
    lines: list[str] = []
    for where in order:
        n = here.get(where, 0)
        if not n or where == "in_progress":
            continue
        if where.startswith("in_progress:"):
            kind = where.split(":", 1)[1]
            label = f"{t(lang, 'co.box.in_progress')} — {t(lang, f'co.progress.{kind}')}"
        else:
            label = t(lang, f"co.box.{where}")
        lines.append(f"{label}: {n}")
        if where == "criteria_not_met":
            for criterion, k in sorted(counts.criteria.items(), key=lambda i: (-i[1], i[0])):
                lines.append(f"   · {reason_label(lang, criterion)}: {k}")
    return lines


def stats_charts(
    lang: str, data: ExportData, settings: Settings, now: dt.datetime
) -> tuple[bytes, bytes, bytes, bytes]:
    """The flow diagram and the recruitment curve: (flow PNG, flow SVG, curve PNG, curve SVG).
    CPU-bound: call it in a worker thread."""
    from bot.charts import FlowChart, RecruitmentChart, render_flow, render_recruitment

    counts = consort_of(data)
    subtitle = extraction_line(lang, data, settings, now)
    flow = FlowChart(
        title=t(lang, "co.flow_title"),
        subtitle=subtitle,
        stages=[(t(lang, f"co.stage.{s}"), counts.stages[s]) for s in consort.STAGES],
        exits=[_exit_lines(lang, counts, s) for s in consort.STAGES],
        footer=t(lang, "co.flow_footer"),
    )
    points = consort.recruitment(data.screenings, settings.zone, local_today(now, settings.zone))
    curve = RecruitmentChart(
        title=t(lang, "co.curve_title"),
        subtitle=subtitle,
        days=[p.day for p in points],
        series=[
            (t(lang, "co.stage.screened"), [p.screened for p in points]),
            (t(lang, "co.stage.eligible"), [p.eligible for p in points]),
            (t(lang, "co.stage.injected"), [p.injected for p in points]),
        ],
        target=settings.target_enrolment,
        target_label=t(lang, "exp.target"),
        empty_label=t(lang, "co.no_patient"),
        y_label=t(lang, "co.patients"),
    )
    flow_png, flow_svg = render_flow(flow)
    curve_png, curve_svg = render_recruitment(curve)
    return flow_png, flow_svg, curve_png, curve_svg


async def stats(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The CONSORT flow diagram and the recruitment curve, as two photos with their counts."""
    lang = ctx.language(actor)
    now = ctx.now()
    async with ctx.db.read() as conn:
        data = await read_export(conn)
    numbers = consort.funnel(data.screenings)
    counts = consort_of(data)
    deaths = mortality(data.screenings, data.values)
    caption = t(
        lang,
        "stats.caption",
        screened=numbers.screened,
        eligible=numbers.eligible,
        injected=numbers.injected,
        target=ctx.settings.target_enrolment,
    )
    if deaths is not None:
        caption += "\n" + t(
            lang,
            "stats.mortality",
            observed=deaths.observed,
            expected=f"{deaths.expected:.1f}",
            n=deaths.followed,
            complete=deaths.complete,
        )
    boxes = " · ".join(f"{t(lang, f'co.box.{b}')} {counts.boxes[b]}"
                       for b in consort.FINAL_BOXES)  # fmt: skip
    caption += "\n" + boxes
    flow_png, _, curve_png, _ = await asyncio.to_thread(stats_charts, lang, data, ctx.settings, now)
    curve_caption = t(lang, "co.curve_caption", target=ctx.settings.target_enrolment,
                      when=local_time(now, ctx.zone))  # fmt: skip
    return [Out(caption[:1024], photo=flow_png), Out(curve_caption, photo=curve_png)]


def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot stats DIR`: the flow diagram and the recruitment curve as PNG and SVG."""
    target = Path(args.dir)
    if not target.is_dir():
        print(f"stats: {target} is not a directory", file=sys.stderr)
        return 2
    if not Path(settings.database).exists():
        print(f"stats: no database at {settings.database}", file=sys.stderr)
        return 2
    lang = settings.language or "fr"

    async def go() -> tuple[dt.datetime, tuple[bytes, bytes, bytes, bytes]]:
        from storage.db import Database

        db = await Database.open(settings.database)
        try:
            now = dt.datetime.now(dt.UTC)
            async with db.read() as conn:
                data = await read_export(conn)
            return now, await asyncio.to_thread(stats_charts, lang, data, settings, now)
        finally:
            await db.close()

    now, (flow_png, flow_svg, curve_png, curve_svg) = asyncio.run(go())
    stamp = now.astimezone(settings.zone).strftime("%Y%m%d-%H%M")
    written = []
    try:
        for name, content in ((f"lysyme-consort-{stamp}.png", flow_png),
                              (f"lysyme-consort-{stamp}.svg", flow_svg),
                              (f"lysyme-recruitment-{stamp}.png", curve_png),
                              (f"lysyme-recruitment-{stamp}.svg", curve_svg)):  # fmt: skip
            _write_private(target / name, content)
            written.append(str(target / name))
    except OSError as exc:
        print(f"stats: cannot write into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"stats: {', '.join(written)}")
    return 0


# --- registration ---------------------------------------------------------------------------


FEATURE = routing.Feature(
    "coordinator views",
    commands=(
        routing.Command("status", status),
        routing.Command("patient", patient),
        routing.Command("correct", correct),
        routing.Command("export", export),
        routing.Command("stats", stats),
    ),
    # The format buttons of /export: the same role as the command.
    callbacks=(routing.Callback("xf", "export", export_choice),),
)
