"""Closing a screening: record the outcome, write the reminders in the same transaction, and
word the result; then the SCORTEN questions for eligible or pending patients.

The outcome message to the clinician *is* the first D0-window reminder (recorded as sent);
the team gets the same notice through the outbox (number, outcome, names of pending criteria,
deadline — never answer values).
"""

from __future__ import annotations

import datetime as dt

from bot import callback_data as cd
from bot import d0_loop, reminders_board
from bot.common import Actor, Button, Context, Out
from bot.criteria import awaited_names, verdict_lines
from bot.present import classification, deadline_line, dose_line, error_text, number_text, time_left
from bot.present import local_time as fmt_local
from bot.records import begin, load
from bot.texts import Raw, t
from conversations import schedule, versions
from conversations.answers import AnswerError, to_json
from conversations.eligibility import Evaluation, Outcome, Verdict
from conversations.protocol import AnswerValue
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Reading,
    Unit,
    read_measure,
    reading_in,
)
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.connection import Connection
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


def team_notice(
    lang: str, number: str, outcome: str, pending: tuple[str, ...], deadline: dt.datetime | None,
    now: dt.datetime, ctx: Context,
) -> str:  # fmt: skip
    # What is awaited ("Sérologie VIH"): the team group never reads an answer value.
    names = t(lang, "team.pending_list", names=awaited_names(lang, pending)) if pending else ""
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
    held = None
    if evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING):
        held = await schedule_after_screening(
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


async def schedule_after_screening(
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
    held = await outbox.hold(conn, screening.id, "d0_window", "outcome", clinician, now)
    await outbox.schedule(conn, screening.id, "d0_window", "outcome", now, [outbox.TEAM])
    if isinstance(admission, dt.date):
        for step in schedule.future_window_steps(admission, now, ctx.zone):
            await outbox.schedule(
                conn, screening.id, step.kind, step.step, step.due, [outbox.TEAM, OWNER]
            )
    # Issue 14: the escalation steps (unacknowledged 08:00, no plan on the last day).
    await d0_loop.schedule_window_escalations(
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now
    )
    if isinstance(admission, dt.date):  # the team's 08:00 message on each day of the window
        await reminders_board.schedule_boards(conn, ctx, admission, now)
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
            schedule.next_morning(now, ctx.zone), await consent_recipients(conn, clinician_id),
        )  # fmt: skip
    return held


async def consent_recipients(conn: Connection, clinician_id: int) -> list[str]:
    """Who is reminded to seek the patient's own consent: the screening clinician and the
    coordinators, privately — never the team group (who signed is an answer)."""
    coordinators = await user_store.users_with_role(conn, "coordinator")
    ids = [clinician_id, *(c for c in coordinators if c != clinician_id)]
    return [outbox.user_recipient(i) for i in ids]


# --- re-evaluation after /update, /correct, or the end of the BSA observation period -------

WINDOW_KINDS = ("d0_window", "pending", "bsa_expiry")


async def reevaluate(
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

    loaded = await load(conn, screening)
    answers = without_inapplicable(loaded.answers)
    injected = screening.injected_at is not None
    # Under the rules of the version the screening was opened under, never a later one.
    version = versions.get(screening.protocol_version)
    evaluation = evaluate(answers, now, ctx.zone, injected=injected, version=version)
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
    due_unsent = [
        r for r in await outbox.for_screening(conn, screening.id)
        if r.state == "scheduled" and r.kind in WINDOW_KINDS and r.due_at <= now
    ]  # fmt: skip
    await outbox.cancel(conn, screening.id, WINDOW_KINDS)
    await d0_loop.schedule_window_escalations(  # issue 14: rewritten, or none if excluded
        conn, ctx, screening.id, admission if isinstance(admission, dt.date) else None, now,
        included=included,
    )  # fmt: skip
    if included and isinstance(admission, dt.date):
        await reminders_board.schedule_boards(conn, ctx, admission, now)
    if included:
        await _replan_due(conn, ctx, screening, evaluation, admission, due_unsent, now)
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


async def _replan_due(
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
        due: dt.datetime | None = None
        if row.kind == "d0_window":
            due = row.due_at if row.step == "outcome" else window.get(row.step)
            if due is not None and due > now:
                due = None  # moved into the future: planned with the steps ahead
        elif (row.kind == "pending" and evaluation.outcome is Outcome.PENDING) or (
            row.kind == "bsa_expiry" and "max_bsa_percent" in evaluation.pending
        ):
            due = row.due_at
        if due is not None:
            await outbox.schedule(conn, screening.id, row.kind, row.step, due, [row.recipient])


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
    rows = [
        [Button(t(lang, "c.not_available"), cd.encode(cd.Scorten(screening.id, measure, "na")))]
    ]
    for other in MEASURE_BY_ID[measure].units:
        if other.value != unit:
            switch = cd.Scorten(screening.id, measure, _unit_code(other))
            rows.insert(0, [Button(t(lang, "scorten.switch_unit", unit=other.value),
                                   cd.encode(switch))])  # fmt: skip
    text = f"<b>{screening.number}</b> · SCORTEN\n" + t(lang, f"scorten.{measure}", unit=unit)
    return Out(text, rows, prompt_for=screening.id, shows=store.prompt_key("scorten", measure))


def _unit_code(unit: Unit) -> cd.UnitCode:
    return "gl" if unit is Unit.G_L else "mm"


_UNITS: dict[cd.UnitCode, Unit] = {"gl": Unit.G_L, "mm": Unit.MMOL_L}


def parse_measure_text(
    lang: str, screening: Screening, text: str
) -> tuple[str, float, str, str] | list[Out]:
    """A typed SCORTEN value for the measure the screening waits for: (measure, value in
    mmol/L or /min — unrounded, what was entered (audited), the echo), or the messages to send
    instead: why it was not understood, or which unit was meant. Pure."""
    measure, unit = parse_cursor(screening.cursor)
    try:
        reading = read_measure(measure, text, Unit(unit))
    except AnswerError as exc:
        return [Out(t(lang, "screen.invalid", problem=error_text(lang, exc))),
                scorten_prompt(lang, screening, screening.cursor or "")]  # fmt: skip
    if reading.ask_unit is not None:
        return [which_unit_prompt(lang, screening, reading)]
    return measure, reading.value, entered_text(reading), measure_echo(lang, reading)


def entered_text(reading: Reading) -> str:
    return f"{reading.number:g} {reading.unit.value}"


def measure_echo(lang: str, reading: Reading) -> str:
    """`✓ Glycémie : 14 mmol/L (2,523 g/L)`: what was understood, converted when it was."""
    value = f"{number_text(lang, reading.value, 2)} {MEASURE_BY_ID[reading.measure].units[0]}"
    if reading.unit is Unit.G_L:
        value += f" ({number_text(lang, reading.number)} {reading.unit.value})"
    name = t(lang, f"scorten.short.{reading.measure}")
    return t(lang, "scorten.recorded", name=name, value=value)


def which_unit_prompt(lang: str, screening: Screening, reading: Reading) -> Out:
    """The number is implausible in the unit shown but plausible in the other: ask, with one
    button per unit (the number travels in the button and is checked again when tapped)."""
    assert reading.ask_unit is not None
    buttons = []
    for unit in (reading.unit, reading.ask_unit):
        label = t(lang, "scorten.unit_button", number=number_text(lang, reading.number),
                  unit=unit.value)  # fmt: skip
        meant = cd.ScortenUnit(screening.id, reading.measure, _unit_code(unit), reading.number)
        buttons.append(Button(label, cd.encode(meant)))
    text = t(lang, "scorten.which_unit", typed=number_text(lang, reading.number),
             unit=reading.unit.value, name=t(lang, f"scorten.short.{reading.measure}").lower())  # fmt: skip
    return Out(text, [buttons], prompt_for=screening.id)


async def scorten_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`m:<screening id>:<measure>:na|gl|mm`, or `m:<id>:<measure>:v:gl|mm:<number>` (the unit
    meant for a value that was implausible in the unit shown) — one write transaction."""
    lang = ctx.language(actor)
    button = cd.decode(data)
    if not isinstance(button, cd.Scorten | cd.ScortenUnit):
        return [Out("", toast=t(lang, "screen.stale"))]

    async def body(conn: Connection) -> list[Out]:
        screening = await store.get_by_id(conn, button.screening_id)
        if screening is None or screening.stage != "scorten":
            return [Out("", toast=t(lang, "screen.stale"))]
        measure, _ = parse_cursor(screening.cursor)
        if measure != button.measure:
            return [Out("", toast=t(lang, "screen.stale"))]
        if isinstance(button, cd.ScortenUnit):
            unit = _UNITS[button.unit]
            try:
                reading = reading_in(measure, button.number, unit)
            except AnswerError as exc:
                return [Out(t(lang, "screen.invalid", problem=error_text(lang, exc))),
                        scorten_prompt(lang, screening, screening.cursor or "")]  # fmt: skip
            return await store_measure(conn, ctx, actor, screening, measure, reading.value,
                                       entered_text(reading), measure_echo(lang, reading))  # fmt: skip
        if button.action != "na":
            unit = _UNITS[button.action]
            if unit not in MEASURE_BY_ID[measure].units:
                return [Out("", toast=t(lang, "screen.stale"))]
            await store.update_screening(conn, screening.id, ctx.now(),
                                         cursor=_cursor(measure, unit.value))  # fmt: skip
            return [scorten_prompt(lang, screening, _cursor(measure, unit.value))]
        return await store_measure(conn, ctx, actor, screening, measure, None, "not available")

    return await ctx.db.run(body)


async def store_measure(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    screening: Screening | None,
    measure: str,
    value: float | None,
    entered: str,
    echo: str | None = None,
) -> list[Out]:
    """Store one SCORTEN value with its audit row, inside the caller's write transaction
    (`screening` read in it), and move to the next measure or the SCORTEN result; `echo`
    (what was understood) comes first."""
    lang = ctx.language(actor)
    now = ctx.now()
    await begin(conn, actor, now)
    if screening is None or screening.stage != "scorten":
        return [Out("", toast=t(lang, "screen.stale"))]
    if parse_cursor(screening.cursor)[0] != measure:
        return [Out("", toast=t(lang, "screen.stale"))]
    shown = [Out(echo)] if echo else []
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
        return [*shown, scorten_prompt(lang, screening, cursor)]
    await store.update_screening(conn, screening.id, now, stage="done", cursor=None)
    await store.clear_session(conn, actor.user_id, actor.chat_id)
    return [*shown, Out(await scorten_summary(conn, lang, screening))]


async def scorten_values(conn: Connection, screening_id: int) -> dict[str, float | None]:
    import json

    raw = await store.current_answers(conn, screening_id)
    values: dict[str, float | None] = {}
    for measure in MEASURE_IDS:
        stored = raw.get(f"scorten:{measure}")
        if stored is not None:
            parsed = json.loads(stored)
            values[measure] = float(parsed) if parsed is not None else None
    return values


async def scorten_summary(conn: Connection, lang: str, screening: Screening) -> str:
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
        percent = f"{result.predicted_mortality * 100:.1f}"
        mortality = f"{percent.replace('.', ',') if lang == 'fr' else percent} %"
        return t(lang, "scorten.result", score=result.score, mortality=mortality)
    missing = ", ".join(t(lang, f"scorten.short.{m}") for m in result.missing
                        if m in MEASURE_BY_ID) or ", ".join(result.missing)  # fmt: skip
    return t(lang, "scorten.partial", score=f"≥ {result.score}", missing=missing)
