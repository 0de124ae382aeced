"""Closing a screening: record the outcome, write the reminders in the same transaction, and
word the result; then the SCORTEN questions for eligible or pending patients.

The outcome message to the clinician *is* the first D0-window reminder (recorded as sent);
the team gets the same notice through the outbox (number, outcome, names of pending criteria,
deadline — never answer values).
"""

from __future__ import annotations

import datetime as dt

import aiosqlite

from bot.common import Actor, Button, Context, Out
from bot.present import classification, criterion_names, deadline_line, dose_line, time_left
from bot.present import local_time as fmt_local
from bot.texts import t
from conversations import schedule
from conversations.answers import AnswerError, normalise, to_json
from conversations.eligibility import Evaluation, Outcome
from conversations.protocol import AnswerValue
from conversations.scorten import MEASURE_BY_ID, MEASURE_IDS, Unit, check_measure, to_mmol_per_l
from storage import reminders as outbox
from storage import screenings as store
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
          reasons=criterion_names(lang, evaluation.reasons))
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


def team_notice(
    lang: str, number: str, outcome: str, pending: tuple[str, ...], deadline: dt.datetime | None,
    now: dt.datetime, ctx: Context,
) -> str:  # fmt: skip
    names = t(lang, "team.pending_list", names=criterion_names(lang, pending)) if pending else ""
    from bot.texts import Raw

    return t(
        lang,
        "team.outcome",
        number=number,
        outcome=t(lang, f"outcome.{outcome}"),
        pending=Raw(names),
        deadline=fmt_local(deadline, ctx.zone) if deadline else "—",
        left=time_left(lang, deadline, now) if deadline else "—",
    )


async def close_screening(
    conn: aiosqlite.Connection,
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
    await store.update_screening(
        conn, screening.id, now, status=store.SCREENED, outcome=evaluation.outcome.value,
        reasons=reasons, closed_at=now, last_actor_id=actor.user_id, stage="done", cursor=None,
        proposed=None, dose_cells=evaluation.dose_cells if evaluation.outcome in
        (Outcome.ELIGIBLE, Outcome.PENDING) else None,
        admission_date=admission if isinstance(admission, dt.date) else None,
        d0_deadline=evaluation.d0_deadline,
    )  # fmt: skip
    await append_audit_many(
        conn,
        [
            AuditEntry(now, str(actor.user_id), "outcome", screening.number, "outcome",
                       screening.outcome, evaluation.outcome.value, ",".join(reasons) or None),
            AuditEntry(now, str(actor.user_id), "status", screening.number, "status",
                       screening.status, store.SCREENED),
        ],
    )  # fmt: skip
    if evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING):
        await schedule_after_screening(
            conn, ctx, screening, actor.user_id, answers, evaluation, now
        )
    return [Out(result_lines(lang, screening.number, evaluation, answers, now, ctx))]


async def schedule_after_screening(
    conn: aiosqlite.Connection,
    ctx: Context,
    screening: Screening,
    clinician_id: int,
    answers: dict[str, AnswerValue],
    evaluation: Evaluation,
    now: dt.datetime,
) -> None:
    """The D0-window steps still ahead, the team notice, and the pending-criteria reminders."""
    from bot.flows import ownership

    clinician = outbox.user_recipient(clinician_id)
    admission = answers.get("admission_date")
    # The outcome message just shown to the clinician is their first reminder.
    await outbox.record_sent(conn, screening.id, "d0_window", "outcome", clinician, now)
    await outbox.schedule(conn, screening.id, "d0_window", "outcome", now, [outbox.TEAM])
    if isinstance(admission, dt.date):
        for step in schedule.future_window_steps(admission, now, ctx.zone):
            await outbox.schedule(
                conn, screening.id, step.kind, step.step, step.due, [outbox.TEAM, OWNER]
            )
    # Issue 14: the escalation steps (unacknowledged 08:00, no plan on the last day).
    await ownership.schedule_window_escalations(
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now
    )
    if evaluation.outcome is Outcome.PENDING:
        await outbox.schedule(
            conn, screening.id, "pending", "daily", schedule.next_morning(now, ctx.zone),
            [LAST_ACTOR],
        )  # fmt: skip
        index_date = answers.get("index_date")
        if "max_bsa_percent" in evaluation.pending and isinstance(index_date, dt.date):
            await outbox.schedule(
                conn, screening.id, "bsa_expiry", "observation_end",
                schedule.bsa_expiry(index_date, ctx.zone), [SYSTEM],
            )  # fmt: skip
    if answers.get("consent_by") == "support_person":
        await outbox.schedule(
            conn, screening.id, "consent_patient", "reminder",
            schedule.next_morning(now, ctx.zone), [outbox.TEAM, clinician],
        )  # fmt: skip


# --- re-evaluation after /update, /correct, or the end of the BSA observation period -------

WINDOW_KINDS = ("d0_window", "pending", "bsa_expiry")


async def reevaluate(
    conn: aiosqlite.Connection,
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
    from bot.flows import ownership
    from bot.flows.screening import load
    from conversations.eligibility import evaluate
    from conversations.flow import without_inapplicable

    loaded = await load(conn, screening)
    answers = without_inapplicable(loaded.answers)
    injected = screening.injected_at is not None
    evaluation = evaluate(answers, now, ctx.zone, injected=injected)
    reasons = evaluation.failed or evaluation.pending or evaluation.missing
    admission = answers.get("admission_date")
    included = evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING)
    await store.update_screening(
        conn, screening.id, now, outcome=evaluation.outcome.value, reasons=reasons,
        dose_cells=evaluation.dose_cells if included else None,
        admission_date=admission if isinstance(admission, dt.date) else None,
        d0_deadline=evaluation.d0_deadline,
    )  # fmt: skip
    old = screening.outcome
    if old != evaluation.outcome.value or tuple(reasons) != screening.reasons:
        await append_audit(
            conn,
            AuditEntry(now, actor, "outcome", screening.number, "outcome", old,
                       evaluation.outcome.value, reason or ",".join(reasons) or None),
        )  # fmt: skip
    if injected or screening.status != store.SCREENED:
        return old, evaluation
    await outbox.cancel(conn, screening.id, WINDOW_KINDS)
    await ownership.schedule_window_escalations(  # issue 14: rewritten, or none if excluded
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now,
        included=included,
    )  # fmt: skip
    if included:
        if isinstance(admission, dt.date):
            for step in schedule.future_window_steps(admission, now, ctx.zone):
                await outbox.schedule(conn, screening.id, step.kind, step.step, step.due,
                                      [outbox.TEAM, OWNER])  # fmt: skip
        if evaluation.outcome is Outcome.PENDING:
            await outbox.schedule(conn, screening.id, "pending", "daily",
                                  schedule.next_morning(now, ctx.zone), [LAST_ACTOR])  # fmt: skip
            index_date = answers.get("index_date")
            if "max_bsa_percent" in evaluation.pending and isinstance(index_date, dt.date):
                await outbox.schedule(conn, screening.id, "bsa_expiry", "observation_end",
                                      schedule.bsa_expiry(index_date, ctx.zone), [SYSTEM])  # fmt: skip
    if old != evaluation.outcome.value:
        # "HMN-004 is now eligible": the team notice goes out at once through the outbox.
        await outbox.schedule(conn, screening.id, "outcome_change", evaluation.outcome.value,
                              now, [outbox.TEAM, outbox.user_recipient(screening.last_actor_id)])  # fmt: skip
    return old, evaluation


# --- SCORTEN ------------------------------------------------------------------------------


def _cursor(measure: str, unit: str) -> str:
    return f"{measure}@{unit}"


def parse_cursor(cursor: str | None) -> tuple[str, str]:
    measure, _, unit = (cursor or "heart_rate").partition("@")
    if measure not in MEASURE_BY_ID:
        measure = "heart_rate"
    units = [u.value for u in MEASURE_BY_ID[measure].units]
    return measure, unit if unit in units else units[0]


def scorten_prompt(lang: str, screening: Screening, cursor: str, _unit: str = "") -> Out:
    measure, unit = parse_cursor(cursor)
    rows = [[Button(t(lang, "c.not_available"), f"m:{screening.id}:{measure}:na")]]
    for other in MEASURE_BY_ID[measure].units:
        if other.value != unit:
            code = "gl" if other is Unit.G_L else "mm"
            rows.insert(0, [Button(t(lang, "scorten.switch_unit", unit=other.value),
                                   f"m:{screening.id}:{measure}:{code}")])  # fmt: skip
    text = f"<b>{screening.number}</b> · SCORTEN\n" + t(lang, f"scorten.{measure}", unit=unit)
    return Out(text, rows, prompt_for=screening.id)


def parse_measure_text(
    lang: str, screening: Screening, text: str
) -> tuple[str, float, str] | list[Out]:
    """A typed SCORTEN value for the measure the screening waits for: (measure, value in the
    stored unit, what was entered), or the messages saying why it was not understood. Pure."""
    measure, unit = parse_cursor(screening.cursor)
    cleaned = normalise(text).replace(",", ".").split(" ")[0]
    try:
        number = float(cleaned)
        if cleaned.lower() in ("nan", "inf", "-inf", "infinity") or "e" in cleaned.lower():
            raise ValueError
        value = check_measure(measure, to_mmol_per_l(measure, number, Unit(unit)))
    except ValueError as exc:
        code = exc.code if isinstance(exc, AnswerError) else "not_a_number"
        params = exc.params if isinstance(exc, AnswerError) else {}
        problem = t(lang, f"err.{code}", **params)
        return [Out(t(lang, "screen.invalid", problem=problem)),
                scorten_prompt(lang, screening, screening.cursor or "")]  # fmt: skip
    return measure, value, f"{number:g} {unit}"


async def scorten_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`m:<screening id>:<measure>:na|gl|mm` — one write transaction in one hop."""
    lang = ctx.language(actor)
    parts = data.split(":")
    if len(parts) != 4 or not parts[1].isdigit() or parts[2] not in MEASURE_BY_ID:
        return [Out("", toast=t(lang, "screen.stale"))]

    async def body(conn: aiosqlite.Connection) -> list[Out]:
        screening = await store.get_by_id(conn, int(parts[1]))
        if screening is None or screening.stage != "scorten":
            return [Out("", toast=t(lang, "screen.stale"))]
        measure, _ = parse_cursor(screening.cursor)
        if measure != parts[2]:
            return [Out("", toast=t(lang, "screen.stale"))]
        if parts[3] in ("gl", "mm"):
            unit = Unit.G_L if parts[3] == "gl" else Unit.MMOL_L
            if unit not in MEASURE_BY_ID[measure].units:
                return [Out("", toast=t(lang, "screen.stale"))]
            await store.update_screening(conn, screening.id, ctx.now(),
                                         cursor=_cursor(measure, unit.value))  # fmt: skip
            return [scorten_prompt(lang, screening, _cursor(measure, unit.value))]
        if parts[3] != "na":
            return [Out("", toast=t(lang, "screen.stale"))]
        return await store_measure(conn, ctx, actor, screening, measure, None, "not available")

    return await ctx.db.run(body)


async def store_measure(
    conn: aiosqlite.Connection,
    ctx: Context,
    actor: Actor,
    screening: Screening | None,
    measure: str,
    value: float | None,
    entered: str,
) -> list[Out]:
    """Store one SCORTEN value with its audit row, inside the caller's write transaction
    (`screening` read in it), and move to the next measure or the SCORTEN result."""
    from bot.flows.screening import begin

    lang = ctx.language(actor)
    now = ctx.now()
    await begin(conn, actor, now)
    if screening is None or screening.stage != "scorten":
        return [Out("", toast=t(lang, "screen.stale"))]
    if parse_cursor(screening.cursor)[0] != measure:
        return [Out("", toast=t(lang, "screen.stale"))]
    stored = to_json(value) if value is not None else "null"
    await store.add_answer(conn, screening.id, f"scorten:{measure}", stored,
                           by=actor.user_id, now=now, source="scorten")  # fmt: skip
    await append_audit(
        conn,
        AuditEntry(now, str(actor.user_id), "scorten", screening.number,
                   f"scorten:{measure}", None, stored, entered),
    )  # fmt: skip
    position = MEASURE_IDS.index(measure)
    if position + 1 < len(MEASURE_IDS):
        following = MEASURE_IDS[position + 1]
        cursor = _cursor(following, MEASURE_BY_ID[following].units[0].value)
        await store.update_screening(conn, screening.id, now, cursor=cursor)
        return [scorten_prompt(lang, screening, cursor)]
    await store.update_screening(conn, screening.id, now, stage="done", cursor=None)
    await store.clear_session(conn, actor.user_id, actor.chat_id)
    return [Out(await scorten_summary(conn, lang, screening))]


async def scorten_values(conn: aiosqlite.Connection, screening_id: int) -> dict[str, float | None]:
    import json

    raw = await store.current_answers(conn, screening_id)
    values: dict[str, float | None] = {}
    for measure in MEASURE_IDS:
        stored = raw.get(f"scorten:{measure}")
        if stored is not None:
            parsed = json.loads(stored)
            values[measure] = float(parsed) if parsed is not None else None
    return values


async def scorten_summary(conn: aiosqlite.Connection, lang: str, screening: Screening) -> str:
    from bot.flows.screening import load
    from conversations.scorten import scorten

    loaded = await load(conn, screening)
    age = loaded.answers.get("age")
    bsa = loaded.answers.get("max_bsa_percent")
    result = scorten(
        age if isinstance(age, int) else None,
        float(bsa) if isinstance(bsa, int | float) else None,
        await scorten_values(conn, screening.id),
    )
    if result.predicted_mortality is not None:
        mortality = f"{result.predicted_mortality * 100:.1f} %"
        return t(lang, "scorten.result", score=result.score, mortality=mortality)
    missing = ", ".join(t(lang, f"scorten.{m}", unit="").split(" (")[0] for m in result.missing
                        if m in MEASURE_BY_ID) or ", ".join(result.missing)  # fmt: skip
    return t(lang, "scorten.partial", score=f"≥ {result.score}", missing=missing)
