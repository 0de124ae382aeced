"""The exported fields of one screening, shared by the REDCap and ODM exports.

One `Field` per exported variable, grouped in forms (screening, outcome, injection, SCORTEN,
follow-up), with its kind, its coded choices and its range from the protocol. `record()` turns a
stored screening into plain typed values (date, aware datetime, int, float, bool, choice value,
set of choice values); each format then encodes them its own way. Choice codes are numeric and
stable: `yes` = 1 and `no` = 0 where a question has them, the other values numbered in the
protocol's order — a code is never reused for another value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.criteria import criterion_short_name
from bot.texts import t
from conversations.answers import from_json
from conversations.consort import ScreeningLike
from conversations.d0 import dose_deviation, is_dose_deviation, read_facts
from conversations.eligibility import Outcome
from conversations.lifecycle import Status
from conversations.protocol import BY_ID, D0_WINDOW, QUESTIONS, UPDATABLE, Kind
from conversations.schedule import FOLLOW_UPS
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Classification,
    Scorten,
    as_measured,
    classify,
)
from conversations.scorten import scorten as scorten_of
from conversations.standing import standing

FieldKind = Literal["text", "notes", "radio", "yesno", "checkbox"]
Validation = Literal["", "date_ymd", "datetime_ymd", "integer", "number"]

SCORTEN_PREFIX = "scorten:"
FOLLOW_UP_PREFIX = "follow_up:"

#: Lifecycle words, in their order (DESIGN.md "Lifecycle"), and outcomes.
#: The choices of the status and outcome fields, coded in the core's order (1, 2, …).
STATUSES: tuple[Status, ...] = tuple(Status)
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
#: Criteria that can fail or wait: every question with a rule, then the D0 window.
CRITERIA = (*(q.id for q in QUESTIONS if q.id not in ("sex", "index_date", "weight_kg",
                                                       "consent_by")), D0_WINDOW)  # fmt: skip
#: REDCap recommends variable names of at most 26 characters: the longer protocol ids get a
#: short name (the id stays in the field annotation).
SHORT_NAMES = {
    "malignancy_10y_or_metastasis": "malignancy_10y_metastasis",
    "decompensated_heart_failure": "decompensated_hf",
}

#: REDCap instruments / ODM forms, in order.
FORMS = ("screening", "eligibility", "injection", "severity", "follow_up")


@dataclass(frozen=True)
class Choice:
    code: str  # the raw code written in the data: "1"
    value: str  # the bot's stored value: "dermatology"
    label: str  # in the export's language


@dataclass(frozen=True)
class Field:
    name: str  # REDCap variable name (lowercase, ≤ 26 characters)
    form: str
    kind: FieldKind
    label: str
    source: str  # the bot's id of what is exported (question id, column name…)
    choices: tuple[Choice, ...] = ()
    validation: Validation = ""
    minimum: str = ""
    maximum: str = ""
    identifier: bool = False  # free text: REDCap can leave it out of de-identified exports
    note: str = ""

    def code_of(self, value: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.code
        raise KeyError(f"{self.name}: no code for {value!r}")


def numbered(values: Sequence[str]) -> list[tuple[str, str]]:
    """(code, value): yes = 1 and no = 0 when present, the others from 1 (or 2) in order."""
    codes: list[tuple[str, str]] = []
    following = 2 if "yes" in values else 1
    for value in values:
        if value == "yes":
            codes.append(("1", value))
        elif value == "no":
            codes.append(("0", value))
        else:
            codes.append((str(following), value))
            following += 1
    return codes


def _choices(lang: str, values: Sequence[str], key: str = "c.{}") -> tuple[Choice, ...]:
    return tuple(Choice(code, value, _text(lang, key.format(value), value))
                 for code, value in numbered(values))  # fmt: skip


def criterion_name(lang: str, criterion_id: str) -> str:
    """The short name of a criterion in the CONSORT reasons (sheet, /stats, diagram): the one
    name of a criterion everywhere (bot/criteria.py)."""
    return criterion_short_name(lang, criterion_id)


def _text(lang: str, key: str, fallback: str) -> str:
    text = t(lang, key)
    return fallback if text == key else text


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _question_field(lang: str, question_id: str) -> Field:
    q = BY_ID[question_id]
    name = SHORT_NAMES.get(q.id, q.id)
    label = _text(lang, f"q.{q.id}", q.id)
    if q.kind is Kind.BOOLEAN:
        return Field(name, "screening", "yesno", label, q.id)
    if q.kind is Kind.CHOICE:
        return Field(name, "screening", "radio", label, q.id, _choices(lang, q.choices))
    if q.kind is Kind.DATE:
        return Field(name, "screening", "text", label, q.id, validation="date_ymd")
    validation: Validation = "integer" if q.kind is Kind.INTEGER else "number"
    return Field(name, "screening", "text", label, q.id, validation=validation,
                 minimum=_bound(q.minimum), maximum=_bound(q.maximum))  # fmt: skip


def _criteria_choices(lang: str, ids: Iterable[str]) -> tuple[Choice, ...]:
    code = {criterion: str(position) for position, criterion in enumerate(CRITERIA, start=1)}
    return tuple(Choice(code[i], i, _text(lang, f"q.{i}", i)) for i in ids)


def catalogue(lang: str) -> list[Field]:
    """Every exported field, form by form (the REDCap dictionary's rows after record_id)."""

    def label(key: str, fallback: str) -> str:
        return _text(lang, key, fallback)

    fields = [
        Field("protocol_version", "screening", "text", label("exp.col.protocol_version",
              "Protocol version"), "protocol_version"),
        Field("rescreen_of", "screening", "text", label("exp.col.rescreen_of", "Re-screen of"),
              "rescreen_of"),
        Field("clinician_id", "screening", "text", label("exp.col.clinician_id", "Clinician"),
              "clinician_id", validation="integer"),
        Field("created_at", "screening", "text", label("exp.col.created_at", "Opened"),
              "created_at", validation="datetime_ymd"),
        Field("closed_at", "screening", "text", label("exp.col.closed_at", "Closed"),
              "closed_at", validation="datetime_ymd"),
        *(_question_field(lang, q.id) for q in QUESTIONS),
        Field("status", "eligibility", "radio", label("exp.col.status", "Status"), "status",
              _choices(lang, STATUSES, "status.{}")),
        Field("outcome", "eligibility", "radio", label("exp.col.outcome", "Outcome"), "outcome",
              _choices(lang, OUTCOMES, "outcome.{}")),
        Field("failed", "eligibility", "checkbox", label("exp.col.failed", "Criteria not met"),
              "failed", _criteria_choices(lang, CRITERIA)),
        Field("pending", "eligibility", "checkbox", label("exp.col.pending", "Pending criteria"),
              "pending", _criteria_choices(lang, [c for c in CRITERIA if c in UPDATABLE])),
        Field("classification", "eligibility", "radio", label("exp.col.classification",
              "Classification"), "classification",
              _choices(lang, [c.value for c in Classification], "class.{}")),
        Field("dose_cells", "eligibility", "text", label("exp.col.dose_cells", "Dose (cells)"),
              "dose_cells", validation="integer", minimum="0"),
        Field("d0_deadline", "eligibility", "text", label("exp.col.d0_deadline", "D0 deadline"),
              "d0_deadline", validation="datetime_ymd"),
        Field("injected_at", "injection", "text", label("exp.col.injected_at", "Injection"),
              "injected_at", validation="datetime_ymd"),
        Field("injected_by", "injection", "text", label("exp.col.injected_by", "Injected by"),
              "injected_by", validation="integer"),
        Field("d0_override_reason", "injection", "notes", label("exp.col.d0_override_reason",
              "Override reason"), "d0_override_reason", identifier=True),
        Field("withdrawn_reason", "injection", "notes", label("exp.col.withdrawn_reason",
              "Withdrawal reason"), "withdrawn_reason", identifier=True),
        Field("d0_weight_kg", "injection", "text", label("exp.col.d0_weight_kg",
              "Weight used at D0"), "d0_weight_kg", validation="number", minimum="30",
              maximum="250", note="kg"),
        Field("dose_given_cells", "injection", "text", label("exp.col.dose_given_cells",
              "Dose given"), "dose_given_cells", validation="integer", minimum="0"),
        Field("d0_confirmed_by", "injection", "text", label("exp.col.d0_confirmed_by",
              "Eligibility confirmed by"), "d0_confirmed_by", validation="integer"),
        Field("dose_deviation", "injection", "yesno", label("exp.col.dose_deviation",
              "Dose deviation"), "dose_deviation"),
        Field("dose_deviation_pct", "injection", "text", label("exp.col.dose_deviation_pct",
              "Dose deviation (%)"), "dose_deviation_pct", validation="number", note="%"),
    ]  # fmt: skip
    for measure_id in MEASURE_IDS:
        measure = MEASURE_BY_ID[measure_id]
        fields.append(
            Field(f"scorten_{measure_id}", "severity", "text",
                  label(f"exp.col.scorten_{measure_id}", measure_id), SCORTEN_PREFIX + measure_id,
                  validation="number", minimum=_bound(measure.minimum),
                  maximum=_bound(measure.maximum), note=measure.units[0].value)
        )  # fmt: skip
    fields += [
        Field("scorten_score", "severity", "text", label("exp.col.scorten_score", "SCORTEN"),
              "scorten_score", validation="integer", minimum="0", maximum="7"),
        Field("scorten_partial", "severity", "yesno", label("rc.scorten_partial",
              "SCORTEN partial"), "scorten_partial"),
        Field("scorten_mortality_pct", "severity", "text",
              label("exp.col.scorten_predicted_mortality", "Predicted mortality"),
              "scorten_mortality_pct", validation="number", minimum="0", maximum="100",
              note="%"),
    ]  # fmt: skip
    for follow_up in FOLLOW_UPS:
        title = label(f"pt.fu.{follow_up.id}", follow_up.id)
        if follow_up.kind == "date":
            fields.append(Field(f"fu_{follow_up.id}", "follow_up", "text", title,
                                FOLLOW_UP_PREFIX + follow_up.id, validation="date_ymd"))  # fmt: skip
            for extra in follow_up.choices:  # "still in hospital" instead of a date
                fields.append(Field(f"fu_{extra}", "follow_up", "yesno",
                                    label(f"c.{extra}", extra), FOLLOW_UP_PREFIX + extra))  # fmt: skip
        elif set(follow_up.choices) == {"yes", "no"}:
            fields.append(Field(f"fu_{follow_up.id}", "follow_up", "yesno", title,
                                FOLLOW_UP_PREFIX + follow_up.id))  # fmt: skip
        else:
            fields.append(Field(f"fu_{follow_up.id}", "follow_up", "radio", title,
                                FOLLOW_UP_PREFIX + follow_up.id,
                                _choices(lang, follow_up.choices)))  # fmt: skip
    return fields


# --- one screening's values ---------------------------------------------------------------


def json_value(stored: str | None) -> object:
    if stored is None:
        return None
    try:
        parsed: object = json.loads(stored)
    except ValueError:
        return stored
    return parsed


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw)


def severity(values: Mapping[str, str]) -> Scorten | None:
    """The SCORTEN of one screening, or None when no SCORTEN value was ever asked."""
    if not any(k.startswith(SCORTEN_PREFIX) for k in values):
        return None
    measures = {m: _number(json_value(values.get(SCORTEN_PREFIX + m))) for m in MEASURE_IDS}
    age = json_value(values.get("age"))
    bsa = _number(json_value(values.get("max_bsa_percent")))
    return scorten_of(age if isinstance(age, int) and not isinstance(age, bool) else None, bsa,
                      measures)  # fmt: skip


class ScreeningRecord(ScreeningLike, Protocol):
    """What the exports read of a screening: what the CONSORT counts read (number, site,
    sequence, re-screen, status, outcome, reasons, injection time), and more. storage's
    Screening has these attributes."""

    @property
    def id(self) -> int: ...
    @property
    def protocol_version(self) -> str: ...
    @property
    def clinician_id(self) -> int: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def closed_at(self) -> dt.datetime | None: ...
    @property
    def dose_cells(self) -> int | None: ...
    @property
    def d0_deadline(self) -> dt.datetime | None: ...
    @property
    def injected_by(self) -> int | None: ...
    @property
    def d0_override_reason(self) -> str | None: ...
    @property
    def withdrawn_reason(self) -> str | None: ...


def noise_free(value: object) -> object:
    """A typed number without float noise (72.55 stays 72.55; 0.1 + 0.2 reads 0.3)."""
    if isinstance(value, float):
        return round(value, 2)
    return value


def _answer(question_id: str, stored: str | None) -> object:
    if stored is None:
        return None
    try:
        return from_json(question_id, stored)
    except (ValueError, TypeError):
        return None  # a value the protocol no longer accepts is left out, not exported wrong


def record(s: ScreeningRecord, values: Mapping[str, str]) -> dict[str, object]:
    """source → typed value (None when unknown). Checkbox sources give a set of values."""
    out: dict[str, object] = {
        "protocol_version": s.protocol_version,
        "rescreen_of": s.rescreen_of,
        "clinician_id": s.clinician_id,
        "created_at": s.created_at,
        "closed_at": s.closed_at,
        "status": s.status,
        "outcome": standing(s).outcome,
        "failed": set(standing(s).failed),  # never a missing answer
        "pending": set(standing(s).pending),
        "dose_cells": s.dose_cells,
        "d0_deadline": s.d0_deadline,
        "injected_at": s.injected_at,
        "injected_by": s.injected_by,
        "d0_override_reason": s.d0_override_reason,
        "withdrawn_reason": s.withdrawn_reason,
    }
    facts = read_facts(values)
    weight = _number(json_value(values.get("weight_kg")))
    gap = None if facts is None else dose_deviation(facts.dose_given_cells, weight)
    out["d0_weight_kg"] = None if facts is None else facts.weight_kg
    out["dose_given_cells"] = None if facts is None else facts.dose_given_cells
    out["d0_confirmed_by"] = None if facts is None else facts.confirmed_by
    out["dose_deviation_pct"] = None if gap is None else round(gap * 100, 1)
    out["dose_deviation"] = (
        None if facts is None or gap is None
        else is_dose_deviation(facts.dose_given_cells, weight)
    )  # fmt: skip
    for q in QUESTIONS:
        out[q.id] = noise_free(_answer(q.id, values.get(q.id)))
    cls = classify(_number(json_value(values.get("max_bsa_percent"))))
    out["classification"] = cls.value if cls else None
    for m in MEASURE_IDS:
        measured = _number(json_value(values.get(SCORTEN_PREFIX + m)))
        out[SCORTEN_PREFIX + m] = None if measured is None else as_measured(m, measured)
    score = severity(values)
    out["scorten_score"] = None if score is None else score.score
    out["scorten_partial"] = None if score is None else not score.complete
    mortality = None if score is None else score.predicted_mortality
    out["scorten_mortality_pct"] = None if mortality is None else round(mortality * 100, 1)
    for follow_up in FOLLOW_UPS:
        raw = json_value(values.get(FOLLOW_UP_PREFIX + follow_up.id))
        if follow_up.kind == "date":
            out[FOLLOW_UP_PREFIX + follow_up.id] = _date(raw)
            for extra in follow_up.choices:
                out[FOLLOW_UP_PREFIX + extra] = None if raw is None else raw == extra
        elif set(follow_up.choices) == {"yes", "no"}:
            out[FOLLOW_UP_PREFIX + follow_up.id] = None if raw is None else raw == "yes"
        else:
            out[FOLLOW_UP_PREFIX + follow_up.id] = raw if raw in follow_up.choices else None
    return out


def _date(raw: object) -> dt.date | None:
    if not isinstance(raw, str):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None
