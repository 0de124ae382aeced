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

import aiosqlite

from bot import outcomes
from bot.common import Actor, Context, Out
from bot.flows.screening import begin, load, record_answer
from bot.present import answer_text, classification, dose_line, local_time, time_left
from bot.reports import FunnelCounts, Table, render_csv, render_funnel_png, render_xlsx
from bot.settings import Settings
from bot.texts import t
from conversations.answers import AnswerError, from_json, normalise, parse_text
from conversations.eligibility import Outcome
from conversations.flow import without_inapplicable
from conversations.protocol import BY_ID, D0_WINDOW, QUESTION_IDS, QUESTIONS
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
        text = t(lang, f"q.{field}")
        text = re.split(r"\s?: ", text, maxsplit=1)[0]
        return text.split(" (")[0] if tight else text
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
    return "; ".join(short_label(lang, f, tight=tight) for f in fields)


def reason_label(lang: str, reason: str) -> str:
    """A non-inclusion reason: a criterion, or the status that ended the patient's course."""
    if reason in queries.STATUS_REASONS:
        text = t(lang, f"status.{reason}")
        return text[:1].upper() + text[1:]
    if reason == "unknown":
        return t(lang, "stats.reason_unknown")
    return short_label(lang, reason, tight=True)


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
    async with ctx.db.transaction() as conn:
        rows = await queries.open_screenings(conn)
        values = await queries.latest_values(conn, ("admission_date", "max_bsa_percent"))
        everything = await queries.all_screenings(conn) if coordinator else []
    lines: list[str] = []
    if coordinator:
        lines += [t(lang, "st.summary", **queries.summary_counts(everything)), ""]
    listed = [(s, _deadline_of(s, values.get(s.id, {}), ctx)) for s in rows]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    listed.sort(key=lambda item: (item[1] is None, item[1] or far, item[0].sequence))
    if not listed:
        lines.append(t(lang, "st.none"))
        return [Out("\n".join(lines))]
    lines.append(t(lang, "st.title", count=len(listed)))
    for screening, deadline in listed:
        lines += ["", *_status_entry(lang, ctx, screening, deadline, values, now)]
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
    async with ctx.db.transaction() as conn:
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
            lines.append(t(lang, key[s.outcome], names=labels(lang, s.reasons)))
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
    problem = t(lang, f"err.{exc.code}", **exc.params)
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
    conn: aiosqlite.Connection,
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
    conn: aiosqlite.Connection,
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
    if evaluation.reasons and new in key:
        lines.append(t(lang, key[new], names=labels(lang, evaluation.reasons)))
    weight = (await load(conn, fresh)).answers.get("weight_kg")
    changed = evaluation.dose_cells != fresh.dose_cells or old != new
    if evaluation.dose_cells is not None and isinstance(weight, int | float) and changed:
        lines.append(dose_line(lang, evaluation.dose_cells, float(weight)))
    return lines


_TIME = re.compile(r"^(?P<h>\d{1,2})[:hH.](?P<m>\d{2})$")


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
    conn: aiosqlite.Connection,
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
    conn: aiosqlite.Connection,
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
            if not re.fullmatch(r"\d{1,4}(\.\d{1,3})?", text):
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
    conn: aiosqlite.Connection,
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


@dataclass(frozen=True)
class ExportFiles:
    csv_name: str
    csv: bytes
    xlsx_name: str
    xlsx: bytes
    screenings: int


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
        s.clinician_id,
        _local(s.created_at, zone),
        _local(s.closed_at, zone),
        t(lang, f"status.{s.status}") if lang else s.status,
        (t(lang, f"outcome.{s.outcome}") if lang else s.outcome) if s.outcome else None,
        list(s.reasons) if s.outcome in ("not_eligible", "incomplete") else [],
        list(s.reasons) if s.outcome == "pending" else [],
        (t(lang, f"class.{cls.value}") if lang else cls.value) if cls else None,
        s.dose_cells,
        _local(s.d0_deadline, zone),
        _local(s.injected_at, zone),
        s.injected_by,
        s.d0_override_reason,
        s.withdrawn_reason,
    ]
    row += [_typed(q, values.get(q)) for q in QUESTION_IDS]
    row += [
        _typed(queries.SCORTEN_PREFIX + m, values.get(queries.SCORTEN_PREFIX + m))
        for m in MEASURE_IDS
    ]
    if score is None:
        row += [None, None, None]
    else:
        mortality = score.predicted_mortality
        row += [
            score.score,
            list(score.missing),
            None if mortality is None else round(mortality, 4),
        ]
    row += [
        _typed(queries.FOLLOW_UP_PREFIX + f.id, values.get(queries.FOLLOW_UP_PREFIX + f.id))
        for f in FOLLOW_UPS
    ]
    return row


def _titles(lang: str, columns: Sequence[str]) -> list[str]:
    titles = []
    for column in columns:
        if column in BY_ID:
            titles.append(t(lang, f"q.{column}"))
        elif column.startswith("follow_up_"):
            titles.append(short_label(lang, queries.FOLLOW_UP_PREFIX + column[len("follow_up_") :]))
        else:
            titles.append(short_label(lang, column))
    return titles


def _count_rows(lang: str, screenings: list[Screening], target: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, count in queries.summary_counts(screenings).items():
        rows.append([t(lang, "exp.group.summary"), name, t(lang, f"exp.cat.{name}"), count])
    numbers = queries.funnel(screenings)
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
    head: Head | None = None  # the audit trail's head at that snapshot (the "about" sheet)


async def read_export(conn: aiosqlite.Connection) -> ExportData:
    return ExportData(
        await queries.all_screenings(conn),
        await queries.latest_values(conn),
        await queries.answer_history(conn),
        await read_head_of(conn),
    )


async def render_export(
    data: ExportData, settings: Settings, lang: str, now: dt.datetime
) -> ExportFiles:
    """The CSV and the XLSX, rendered off the event loop and outside any transaction (the
    write lock is not held while openpyxl works)."""
    zone = settings.zone
    screenings, values, history = data.screenings, data.values, data.history
    csv_table = Table(
        name="screenings",
        columns=SCREENING_COLUMNS,
        titles=SCREENING_COLUMNS,
        rows=[_screening_row(s, values.get(s.id, {}), zone, None) for s in screenings],
    )
    sheets = [
        Table(
            name=t(lang, "exp.sheet.screenings"),
            columns=SCREENING_COLUMNS,
            titles=_titles(lang, SCREENING_COLUMNS),
            rows=[_screening_row(s, values.get(s.id, {}), zone, lang) for s in screenings],
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
        ),
        Table(
            name=t(lang, "exp.sheet.counts"),
            columns=COUNT_COLUMNS,
            titles=_titles(lang, COUNT_COLUMNS),
            rows=_count_rows(lang, screenings, settings.target_enrolment),
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
            )
        )
    stem = f"lysyme-screening-log-{now.astimezone(zone).strftime('%Y%m%d-%H%M')}"

    def render() -> tuple[bytes, bytes]:
        return render_csv(csv_table), render_xlsx(sheets, timezone=settings.timezone, created=now)

    csv_bytes, xlsx_bytes = await asyncio.to_thread(render)
    return ExportFiles(f"{stem}.csv", csv_bytes, f"{stem}.xlsx", xlsx_bytes, len(screenings))


def _export_audit(actor: str, now: dt.datetime, files: ExportFiles, how: str) -> AuditEntry:
    return AuditEntry(
        now,
        actor,
        "export",
        None,
        "screening_log",
        None,
        f"{files.csv_name}, {files.xlsx_name} ({files.screenings} screenings)",
        how,
    )


async def export(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The screening log as two documents: CSV for machines, XLSX for people. Audited."""
    lang = ctx.language(actor)
    now = ctx.now()
    async with ctx.db.transaction() as conn:
        data = await read_export(conn)
    files = await render_export(data, ctx.settings, lang, now)
    async with ctx.db.transaction() as conn:
        await begin(conn, actor, now)  # a re-delivered /export is neither audited nor sent
        await append_audit(conn, _export_audit(str(actor.user_id), now, files, "/export"))
    return [
        Out(
            t(lang, "exp.caption_csv", count=files.screenings), document=(files.csv_name, files.csv)
        ),
        Out(
            t(lang, "exp.caption_xlsx", count=files.screenings),
            document=(files.xlsx_name, files.xlsx),
        ),
    ]


def _write_private(path: Path, content: bytes) -> None:
    """Health data, even pseudonymised: the files are readable by their owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot export DIR`: both files into DIR; one line on stdout, or on stderr + exit 2."""
    target = Path(args.dir)
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
            async with db.transaction() as conn:
                data = await read_export(conn)
            files = await render_export(data, settings, settings.language or "fr", now)
            async with db.transaction() as conn:
                await append_audit(conn, _export_audit("system", now, files, "lysyme-bot export"))
            return files
        finally:
            await db.close()

    files = asyncio.run(go())
    try:
        _write_private(target / files.csv_name, files.csv)
        _write_private(target / files.xlsx_name, files.xlsx)
    except OSError as exc:
        print(f"export: cannot write into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"export: {files.screenings} screenings written to {target / files.csv_name} "
        f"and {target / files.xlsx_name}"
    )
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
    for patient in queries.group_patients(screenings):
        s = patient.chosen
        if s is None:
            continue
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


async def stats(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The funnel chart as a photo, its counts in the caption."""
    lang = ctx.language(actor)
    async with ctx.db.transaction() as conn:
        screenings = await queries.all_screenings(conn)
        values = await queries.latest_values(conn)
    numbers = queries.funnel(screenings)
    deaths = mortality(screenings, values)
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
    counts = FunnelCounts(
        screened=numbers.screened,
        eligible=numbers.eligible,
        injected=numbers.injected,
        reasons=[(reason_label(lang, r), n) for r, n in numbers.reasons.items()],
        title=t(lang, "stats.title"),
        caption=html.unescape(caption).replace("\n", " · "),
        labels=(t(lang, "stats.screened"), t(lang, "stats.eligible"), t(lang, "stats.injected")),
        reasons_title=t(lang, "stats.reasons_title"),
        mortality=None if deaths is None else (deaths.observed, deaths.expected),
        mortality_labels=(t(lang, "stats.observed"), t(lang, "stats.expected")),
    )
    png = await asyncio.to_thread(render_funnel_png, counts)
    return [Out(caption, photo=png)]


# --- registration ---------------------------------------------------------------------------


def register() -> None:
    """Fill the routing table (roles are in bot.common.COMMAND_ROLES; the gate enforces them)."""
    from bot import handlers

    handlers.COMMANDS.update(
        {
            "status": status,
            "patient": patient,
            "correct": correct,
            "export": export,
            "stats": stats,
        }
    )


def _install() -> None:
    """Importing this module wires it into the composition root (as bot.flows.injection)."""
    from bot import app

    if register not in app.EXTENSIONS:
        app.EXTENSIONS.append(register)


_install()
