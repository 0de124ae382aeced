"""Words the coordinator views share: criterion names, stored values in words, headings."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from bot.common import Context
from bot.criteria import criterion_short_name, verdict_sentences
from bot.exports.fields import criterion_name
from bot.present import answer_text, classification, dose_deviation_line, local_time, number_text
from bot.records import load
from bot.texts import t
from conversations import consort, d0
from conversations.answers import from_json
from conversations.eligibility import Outcome, Verdict
from conversations.flow import without_inapplicable
from conversations.protocol import (
    BY_ID,
    D0_WINDOW,
    AnswerValue,
    in_question_order,
)
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Unit,
    as_measured,
)
from storage import queries
from storage import screenings as store
from storage.screenings import Screening

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


def reason_sentences(
    lang: str, ctx: Context, s: Screening, outcome: str, reasons: Sequence[str],
    answers: dict[str, AnswerValue], now: dt.datetime,
) -> str:  # fmt: skip
    """A coordinator's view: each failing or pending criterion with its value and rule."""
    if outcome == Outcome.INCOMPLETE.value:
        return labels(lang, reasons)
    verdict = Verdict.FAILED if outcome == Outcome.NOT_ELIGIBLE.value else Verdict.PENDING
    return verdict_sentences(lang, reasons, without_inapplicable(answers), now, ctx.zone,
                             injected=s.injected_at is not None, verdict=verdict)  # fmt: skip


def typed_answers(current: dict[str, str]) -> dict[str, AnswerValue]:
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


def choice_text(lang: str, value: str) -> str:
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
        if isinstance(raw, int | float) and measure is not None:
            raw = as_measured(measure.id, float(raw))
        number = f"{raw:g}" if isinstance(raw, int | float) else str(raw)
        return f"{number.replace('.', ',') if lang == 'fr' else number} {unit}".strip()
    if isinstance(raw, bool):
        return t(lang, "c.yes" if raw else "c.no")
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw).strftime("%d/%m/%Y")
        except ValueError:
            return choice_text(lang, raw)
    return "—" if raw is None else str(raw)


def moment_text(moment: dt.datetime | None, ctx: Context) -> str:
    return "—" if moment is None else local_time(moment, ctx.zone)


def audit_value(value: str | None, ctx: Context) -> str:
    """An audited old/new value: an instant in local time, anything else as it is."""
    if value is None:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_time(moment, ctx.zone) if moment.tzinfo is not None else value


def bsa_of(values: dict[str, str]) -> float | None:
    raw = queries.json_value(values.get("max_bsa_percent"))
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def heading(lang: str, screening: Screening, bsa: float | None) -> str:
    """`HMN-002 · screened · pending · TEN`: the same words as everywhere."""
    parts = [f"<b>{html.escape(screening.number)}</b>", t(lang, f"status.{screening.status}")]
    if screening.outcome and screening.status != store.IN_SCREENING:
        parts.append(t(lang, f"outcome.{screening.outcome}"))
    cls = classification(lang, bsa)
    if cls:
        parts.append(cls)
    return " · ".join(parts)


def d0_lines(lang: str, values: Mapping[str, str]) -> list[str]:
    """The D0 facts as recorded (weight used, dose given, who confirmed eligibility, protocol
    version), and the dose deviation against 2 × 10⁶/kg of the current (corrected) weight."""
    facts = d0.read_facts(values)
    if facts is None:
        return []
    dose = (
        "—"
        if facts.dose_given_cells is None
        else number_text(lang, facts.dose_given_cells / 1_000_000)
    )
    weight = "—" if facts.weight_kg is None else number_text(lang, facts.weight_kg)
    lines = [
        t(lang, "pt.d0_facts", dose=dose, weight=weight,
          by=facts.confirmed_by if facts.confirmed_by is not None else "—",
          version=facts.protocol_version or "—")
    ]  # fmt: skip
    deviation = dose_deviation_line(lang, values)
    if deviation:
        lines.append(deviation)
    return lines


def scorten_values(conn: Connection, screening_id: int) -> dict[str, float | None]:
    import json

    raw = store.current_answers(conn, screening_id)
    values: dict[str, float | None] = {}
    for measure in MEASURE_IDS:
        stored = raw.get(f"scorten:{measure}")
        if stored is not None:
            parsed = json.loads(stored)
            values[measure] = float(parsed) if parsed is not None else None
    return values


def scorten_summary(conn: Connection, lang: str, screening: Screening) -> str:
    from conversations.scorten import scorten

    loaded = load(conn, screening)
    age = loaded.answers.get("age")
    bsa = loaded.answers.get("max_bsa_percent")
    result = scorten(
        age if isinstance(age, int) else None,
        float(bsa) if isinstance(bsa, int | float) else None,
        scorten_values(conn, screening.id),
    )
    if result.predicted_mortality is not None:
        percent = f"{result.predicted_mortality * 100:.1f}"
        mortality = f"{percent.replace('.', ',') if lang == 'fr' else percent} %"
        return t(lang, "scorten.result", score=result.score, mortality=mortality)
    missing = ", ".join(t(lang, f"scorten.short.{m}") for m in result.missing
                        if m in MEASURE_BY_ID) or ", ".join(result.missing)  # fmt: skip
    return t(lang, "scorten.partial", score=f"≥ {result.score}", missing=missing)
