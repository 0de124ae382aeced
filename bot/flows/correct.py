"""/correct NUMBER id value reason: a coordinator corrects an answer, the injection time, a
withdrawal or a SCORTEN value after the fact.

Never overwrites: a new answer row (source "correction", with its reason) and an audit row
old → new, then `bot.reminders.closing.reevaluate` recomputes outcome, dose, deadline and reminders at
*now*. Bad input raises `Refused` inside the transaction, so nothing is written at all (not
even the update id). `withdrawal cancel` undoes a withdrawal recorded by mistake; a corrected
injection time after the D0 deadline is a protocol deviation (audited `d0_deviation`); a
SCORTEN value is severity, not eligibility: correcting one does not re-evaluate."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Connection

from bot.common import Actor, Context, Out
from bot.criteria import awaited_name
from bot.present import (
    answer_text,
    dose_deviation_line,
    dose_line,
    error_text,
    local_time,
    number_text,
)
from bot.records import begin, load, record_answer
from bot.reminders import closing as outcomes
from bot.texts import LANGUAGES, t
from bot.views import wording
from bot.views.wording import (
    moment_text,
    reason_sentences,
    short_label,
    stored_text,
)
from conversations.answers import AnswerError, normalise, parse_text
from conversations.eligibility import Outcome
from conversations.flow import without_inapplicable
from conversations.protocol import (
    BY_ID,
    QUESTION_IDS,
)
from conversations.reminder_kinds import ReminderKind, ReminderState
from conversations.schedule import FOLLOW_UP_BY_ID, follow_up_due
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    check_measure,
    read_measure,
)
from conversations.typed import value_length
from conversations.windows import local_today
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.screenings import Screening

#: Longest correction reason accepted: a short reason, never a clinical narrative.
REASON_LIMIT = 200
WITHDRAWAL_UNDO = frozenset({"cancel", "annuler", "undo"})
NOT_AVAILABLE = frozenset({"na", "n/a", "nd", "none", "-", "non_disponible", "not_available"})


class Refused(Exception):
    """Raised inside a transaction to roll it back and answer `outs` instead."""

    def __init__(self, outs: list[Out]) -> None:
        super().__init__("refused")
        self.outs = outs

    @classmethod
    def saying(cls, lang: str, key: str, **params: object) -> Refused:
        """A refusal of one message: the text `key`."""
        return cls([Out(t(lang, key, **params))])


# --- /correct -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    number: str
    field: str
    value: str
    reason: str


def _fold(text: str) -> str:
    """A name as typed or shown, compared without case, accents or a parenthesis."""
    text = re.sub(r"\([^)]*\)", " ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().replace("’", "'").split())


#: Everything /correct can correct, by id.
_CORRECTABLE = (
    *QUESTION_IDS,
    *(queries.SCORTEN_PREFIX + m for m in MEASURE_IDS),
    "injected_at",
    "withdrawal",
)


def _display_name(lang: str, field: str) -> str:
    if field == "withdrawal":
        return t(lang, "cor.name.withdrawal")
    if field.startswith(queries.SCORTEN_PREFIX):
        return "SCORTEN " + t(lang, f"scorten.short.{field.removeprefix(queries.SCORTEN_PREFIX)}")
    return short_label(lang, field)


def field_names(lang: str) -> dict[str, str]:
    """Folded name → id: the ids, and the labels in the user's language first, then in the
    other one (`poids`, `Poids`, `weight_kg` all name the weight)."""
    names: dict[str, str] = {}
    for language in (lang, *(other for other in LANGUAGES if other != lang)):
        for field in _CORRECTABLE:
            # the test a criterion awaits names it too ("Sérologie VIH", "HIV serology")
            for name in (_display_name(language, field), short_label(language, field),
                         awaited_name(language, field)):  # fmt: skip
                names.setdefault(_fold(name), field)
            if field.startswith(queries.SCORTEN_PREFIX):
                measure = field.removeprefix(queries.SCORTEN_PREFIX)
                names.setdefault(_fold(t(language, f"scorten.short.{measure}")), field)
    for field in _CORRECTABLE:
        names[field] = field
        if field.startswith(queries.SCORTEN_PREFIX):
            names[field.removeprefix(queries.SCORTEN_PREFIX)] = field  # `urea`
    return names


def _resolve(lang: str, words: list[str]) -> tuple[str, int] | None:
    """The field named by the first words (a label may have several), and how many it took;
    at least one word is left for the value."""
    names = field_names(lang)
    for length in range(min(len(words) - 1, 6), 0, -1):
        field = names.get(_fold(" ".join(words[:length])))
        if field is not None:
            return field, length
    return None


def _valid_names(lang: str) -> str:
    return ", ".join(f"{_display_name(lang, f)} ({f})" for f in _CORRECTABLE)


def _parse_request(lang: str, args: list[str]) -> _Request:
    usage = [Out(t(lang, "cor.usage"))]
    if len(args) < 3:
        raise Refused(usage)
    number = args[0].upper()
    resolved = _resolve(lang, args[1:])
    if resolved is None:
        raise Refused(
            [Out(t(lang, "cor.unknown_id", field=args[1], names=_valid_names(lang))), *usage]
        )
    field, used = resolved
    rest = args[1 + used :]
    # The value and, when one follows, its unit ("2,6 g/L"): never part of the reason.
    width = 2 if field == "injected_at" else value_length(field, rest)
    value = " ".join(rest[:width])
    reason = " ".join(rest[width:]).strip()
    if field == "withdrawal" and value.lower() not in WITHDRAWAL_UNDO:
        raise Refused.saying(lang, "cor.withdrawal_value")
    if len(rest) < width or not reason:
        raise Refused([Out(t(lang, "cor.no_reason")), *usage])
    if len(reason) > REASON_LIMIT:
        raise Refused([Out(t(lang, "cor.reason_too_long", length=len(reason), limit=REASON_LIMIT))])
    return _Request(number, field, value, reason)


def _invalid(lang: str, exc: AnswerError) -> Refused:
    problem = error_text(lang, exc)
    return Refused([Out(t(lang, "screen.invalid", problem=problem)), Out(t(lang, "cor.usage"))])


async def correct(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """`/correct NUMBER id value reason`: a correction after the fact, audited, re-evaluated."""
    lang = ctx.language(actor)
    now = ctx.now()
    try:
        request = _parse_request(lang, args)

        def body(conn: Connection) -> list[Out]:  # a Refused rolls it back
            s = store.get_by_number(conn, request.number)
            if s is None:
                raise Refused.saying(lang, "screen.not_found", number=request.number)
            if s.status == store.IN_SCREENING:
                raise Refused.saying(lang, "cor.in_screening", number=s.number)
            if s.status == store.ABANDONED:
                raise Refused.saying(lang, "cor.abandoned", number=s.number)
            if request.field == "withdrawal":
                return _undo_withdrawal(conn, ctx, actor, s, request, now)
            if request.field == "injected_at":
                return _correct_injection(conn, ctx, actor, s, request, now)
            if request.field.startswith(queries.SCORTEN_PREFIX):
                return _correct_scorten(conn, ctx, actor, s, request, now)
            return _correct_answer(conn, ctx, actor, s, request, now)

        outs = await ctx.db.write(body)
    except Refused as refused:
        return refused.outs
    ctx.wake_sender()
    return outs


def _correct_answer(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    field = request.field
    answers = without_inapplicable((load(conn, s)).answers)
    if not BY_ID[field].applies(answers):
        raise Refused.saying(lang, "cor.not_applicable", label=short_label(lang, field))
    try:
        value = parse_text(field, request.value, local_today(now, ctx.zone), answers)
    except AnswerError as exc:
        raise _invalid(lang, exc) from None
    old = answers.get(field)
    if old == value and type(old) is type(value):
        raise Refused.saying(
            lang, "cor.same", label=short_label(lang, field), value=answer_text(lang, field, value)
        )
    begin(conn, actor, now)  # valid: drop a re-delivery
    updated = dict(answers)
    updated[field] = value
    updated = without_inapplicable(updated)
    record_answer(
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
    lines += _reevaluate(conn, ctx, actor, s, request.reason, now)
    if s.injected_at is not None and field == "weight_kg":
        lines += _dose_deviation(conn, actor, s, now, lang)
    return [Out("\n".join(lines))]


def _dose_deviation(
    conn: Connection, actor: Actor, s: Screening, now: dt.datetime, lang: str
) -> list[str]:
    """The dose given at D0 stays what it was; against 2 × 10⁶/kg of the corrected weight it
    may now be a dose deviation: said in the reply, and the other coordinators are told."""
    deviation = dose_deviation_line(lang, store.current_answers(conn, s.id))
    if not deviation:
        return []
    others = [c for c in user_store.users_with_role(conn, "coordinator")
              if c != actor.user_id]  # fmt: skip
    if others:
        recipients = [outbox.user_recipient(c) for c in others]
        outbox.schedule(conn, s.id, ReminderKind.NOTICE, "dose_deviation", now, recipients)
    return [deviation]


def _reevaluate(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    reason: str,
    now: dt.datetime,
) -> list[str]:
    """Re-apply the rules (bot.reminders.closing.reevaluate) and word old → new outcome; when it
    changed, the clinician who screened is told too (the team already is, by reevaluate)."""
    lang = ctx.language(actor)
    fresh = store.get_by_id(conn, s.id)
    assert fresh is not None
    old, evaluation = outcomes.reevaluate(conn, ctx, str(actor.user_id), fresh, now, reason)
    new = evaluation.outcome
    lines: list[str] = []
    after = store.get_by_id(conn, s.id)
    assert after is not None
    reopened = fresh.status == store.SCREENED and after.status == store.IN_SCREENING
    if old != new:
        old_text = t(lang, f"outcome.{old}") if old else "—"
        lines.append(t(lang, "cor.outcome_changed", old=old_text, new=t(lang, f"outcome.{new}")))
        # reevaluate queues the team's notice for a screened patient awaiting D0 only (an
        # injected or withdrawn patient's course no longer depends on the outcome).
        if fresh.status == store.SCREENED and not reopened:
            clinician = s.clinician_id
            if clinician not in (actor.user_id, fresh.last_actor_id):
                recipients = [outbox.user_recipient(clinician)]
                outbox.schedule(conn, s.id, ReminderKind.OUTCOME_CHANGE, new, now, recipients)
            lines.append(t(lang, "cor.told"))
    else:
        lines.append(t(lang, "cor.outcome_same", outcome=t(lang, f"outcome.{new}")))
    key = {
        Outcome.NOT_ELIGIBLE: "pt.failed",
        Outcome.PENDING: "pt.pending",
        Outcome.INCOMPLETE: "pt.missing",
    }
    answers = (load(conn, fresh)).answers
    if evaluation.reasons and new in key:
        names = reason_sentences(lang, ctx, fresh, new, evaluation.reasons, answers, now)
        lines.append(t(lang, key[new], names=names))
    if reopened:
        # Never a dead end: the questions never asked are asked by /resume, in order.
        lines.append(t(lang, "cor.reopened", number=s.number, count=len(evaluation.missing)))
    weight = answers.get("weight_kg")
    changed = evaluation.dose_cells != fresh.dose_cells or old != new
    if evaluation.dose_cells is not None and isinstance(weight, int | float) and changed:
        if fresh.injected_at is None:
            lines.append(dose_line(lang, evaluation.dose_cells, float(weight)))
        else:  # the dose given is a D0 fact: only the planned dose follows the weight
            millions = number_text(lang, evaluation.dose_cells / 1_000_000)
            lines.append(t(lang, "pt.planned_dose", millions=millions))
    return lines


_TIME = re.compile(r"^(?P<h>[0-9]{1,2})[:hH.](?P<m>[0-9]{2})$")


def parse_moment(text: str, now: dt.datetime, ctx: Context, lang: str) -> dt.datetime:
    """`dd/mm/yyyy hh:mm` (any date form the screening accepts), local time, not future."""
    date_text, _, time_text = normalise(text).partition(" ")
    match = _TIME.match(time_text)
    if match is None or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise Refused.saying(lang, "screen.invalid", problem=t(lang, "cor.bad_moment"))
    try:
        day = parse_text("index_date", date_text, local_today(now, ctx.zone))
    except AnswerError as exc:
        raise _invalid(lang, exc) from None
    assert isinstance(day, dt.date)
    moment = dt.datetime.combine(day, dt.time(int(match["h"]), int(match["m"])), tzinfo=ctx.zone)
    if moment > now:
        raise Refused.saying(lang, "screen.invalid", problem=t(lang, "cor.future_moment"))
    return moment


def _correct_injection(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    if s.injected_at is None:
        raise Refused.saying(lang, "cor.not_injected", number=s.number)
    moment = parse_moment(request.value, now, ctx, lang)
    if s.admission_date is not None and moment.date() < s.admission_date:
        admission = s.admission_date.strftime("%d/%m/%Y")
        problem = t(lang, "cor.before_admission", admission=admission)
        raise Refused.saying(lang, "screen.invalid", problem=problem)
    if moment == s.injected_at:
        raise Refused(
            [
                Out(
                    t(
                        lang,
                        "cor.same",
                        label=short_label(lang, "injected_at"),
                        value=moment_text(moment, ctx),
                    )
                )
            ]
        )
    begin(conn, actor, now)  # valid: drop a re-delivery
    late = s.d0_deadline is not None and moment > s.d0_deadline
    if late:
        store.update_screening(
            conn, s.id, now, injected_at=moment, d0_override_reason=request.reason
        )
    else:
        store.update_screening(conn, s.id, now, injected_at=moment)
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
    append_audit_many(conn, entries)
    moved = 0
    for reminder in outbox.for_screening(conn, s.id):
        follow_up = FOLLOW_UP_BY_ID.get(reminder.step)
        if (
            reminder.kind == ReminderKind.FOLLOW_UP
            and follow_up
            and reminder.state == ReminderState.SCHEDULED
        ):
            moved += queries.move_reminder(
                conn, reminder.id, follow_up_due(moment, follow_up, ctx.zone)
            )
    lines = [
        t(
            lang,
            "cor.done",
            number=s.number,
            label=short_label(lang, "injected_at"),
            old=moment_text(s.injected_at, ctx),
            new=moment_text(moment, ctx),
        )
    ]
    if late and s.d0_deadline is not None:
        lines.append(t(lang, "cor.deviation", deadline=local_time(s.d0_deadline, ctx.zone)))
    if moved:
        lines.append(t(lang, "cor.follow_ups_moved", count=moved))
    lines += _reevaluate(conn, ctx, actor, s, request.reason, now)
    return [Out("\n".join(lines))]


def _correct_scorten(
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
    text = normalise(request.value)
    value: float | None = None
    if text not in NOT_AVAILABLE:
        # The question's own parser: decimal comma, a unit typed or not, and the plausibility
        # question when the number fits the other unit better (nothing is written then).
        try:
            reading = read_measure(measure, text, MEASURE_BY_ID[measure].units[0])
            if reading.ask_unit is not None:
                raise Refused.saying(
                    lang, "cor.which_unit", number=request.number,
                    typed=number_text(lang, reading.number), unit=reading.unit.value,
                    other=reading.ask_unit.value, measure=measure,
                    name=t(lang, f"scorten.short.{measure}").lower(),
                )  # fmt: skip
            value = check_measure(measure, reading.value)
        except AnswerError as exc:
            raise _invalid(lang, exc) from None
    stored = "null" if value is None else repr(value)
    current = store.current_answers(conn, s.id)
    old = current.get(field)
    if old is not None and queries.json_value(old) == value:
        raise Refused.saying(
            lang, "cor.same", label=short_label(lang, field), value=stored_text(lang, field, old)
        )
    begin(conn, actor, now)  # valid: drop a re-delivery
    store.add_answer(
        conn,
        s.id,
        field,
        stored,
        by=actor.user_id,
        now=now,
        source="correction",
        reason=request.reason,
    )
    append_audit(
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
        wording.scorten_summary(conn, lang, s),
    ]
    return [Out("\n".join(lines))]


def _undo_withdrawal(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    request: _Request,
    now: dt.datetime,
) -> list[Out]:
    lang = ctx.language(actor)
    if s.status != store.WITHDRAWN:
        raise Refused(
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
    begin(conn, actor, now)  # valid: drop a re-delivery
    restored = store.INJECTED if s.injected_at is not None else store.SCREENED
    store.update_screening(conn, s.id, now, status=restored, withdrawn_reason=None)
    append_audit_many(
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
    lines += _reevaluate(conn, ctx, actor, s, request.reason, now)
    return [Out("\n".join(lines))]
