"""REDCap: a data dictionary CSV and the records as a REDCap import CSV.

The dictionary has REDCap's 18 columns, `record_id` first (the screening number), then every
exported field form by form (`fields.catalogue`), with its branching logic (a field shown only
when it applies: pregnancy for women, the consent's signatory once consent is obtained, the
discharge date once the patient has left hospital, each reason for its own status) and
REDCap's required flag on every protocol question DESIGN.md makes required. The records file is
what REDCap's Data Import Tool takes ("records as rows", raw codes): `record_id`, then — only
when asked (`data_access_group=True`: `lysyme-bot export --redcap-dag`, `/export redcap dag`) —
`redcap_data_access_group` (the site code in lowercase: the unique name of a data access group
that must already exist in the project; a dictionary cannot create one), the fields in dictionary
order with each checkbox expanded to `name___code` columns of 1/0, and after each form its
`<form>_complete` (0 incomplete, 1 unverified, 2 complete). Dates `YYYY-MM-DD`, date-times
`YYYY-MM-DD HH:MM` in the trial's time zone, dot decimals, UTF-8 without BOM, comma-separated,
rows sorted by site then sequence (HMN-999 before HMN-1000), every row as long as the header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.exports.fields import (
    FOLLOW_UP_PREFIX,
    FORMS,
    Field,
    ScreeningRecord,
    catalogue,
    record,
)
from bot.texts import t
from conversations.eligibility import Outcome
from conversations.lifecycle import Status
from conversations.protocol import BY_ID

#: The data dictionary's header, exactly as REDCap writes and reads it.
DICTIONARY_HEADER = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
RECORD_ID = "record_id"
DAG = "redcap_data_access_group"


def _record_id_field(lang: str) -> Field:
    return Field(RECORD_ID, FORMS[0], "text", t(lang, "exp.col.number"), "number")


def fields_of(lang: str) -> list[Field]:
    return [_record_id_field(lang), *catalogue(lang)]


def _code(fields: Mapping[str, Field], name: str, value: str) -> str:
    return fields[name].code_of(value)


def branching_logic(fields: Sequence[Field]) -> dict[str, str]:
    """Field name → REDCap branching logic ("show the field only if…"), written from the
    fields' own codes so that a code can never point at the wrong choice."""
    by_name = {f.name: f for f in fields}
    by_source = {f.source: f.name for f in fields}
    logic: dict[str, str] = {}

    def show(source: str, condition: str) -> None:
        if source in by_source:
            logic[by_source[source]] = condition

    show("pregnant_or_breastfeeding", f"[sex] = '{_code(by_name, 'sex', 'female')}'")
    show("consent_by", f"[consent] = '{_code(by_name, 'consent', 'obtained')}'")
    status = by_name["status"]
    outcome = by_name["outcome"]
    show("failed", f"[outcome] = '{outcome.code_of(Outcome.NOT_ELIGIBLE)}'")
    show("pending", f"[outcome] = '{outcome.code_of(Outcome.PENDING)}'")
    show("withdrawn_reason", f"[status] = '{status.code_of(Status.WITHDRAWN)}'")
    show("d0_override_reason", "[injected_at] <> ''")
    show("injected_by", "[injected_at] <> ''")
    still = by_source.get(FOLLOW_UP_PREFIX + "still_hospitalised")
    if still is not None:
        show(FOLLOW_UP_PREFIX + "discharge_date", f"[{still}] = '0'")
    return logic


def required(field: Field) -> bool:
    """DESIGN.md: every protocol question is required (pregnancy only when shown, i.e. for
    women), except the consent's signatory; the record id too."""
    if field.name == RECORD_ID:
        return True
    question = BY_ID.get(field.source)
    return question is not None and question.required


def _choices_text(field: Field) -> str:
    return " | ".join(f"{c.code}, {c.label.replace('|', '/')}" for c in field.choices)


def _section(lang: str, form: str, previous: str | None) -> str:
    if form == previous:
        return ""
    key = f"rc.form.{form}"
    text = t(lang, key)
    return "" if text == key else text


def render_dictionary(lang: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(DICTIONARY_HEADER)
    previous: str | None = None
    fields = fields_of(lang)
    logic = branching_logic(fields)
    for field in fields:
        annotation = f"LYSYME id: {field.source}"
        if field.name == "clinician_id" or field.name == "injected_by":
            annotation += " (Telegram user id of the staff member)"
        writer.writerow(
            [
                field.name,
                field.form,
                _section(lang, field.form, previous),
                field.kind,
                field.label,
                _choices_text(field),
                field.note,
                field.validation,
                field.minimum,
                field.maximum,
                "y" if field.identifier else "",
                logic.get(field.name, ""),
                "y" if required(field) else "",
                "",
                "",
                "",
                "",
                annotation,
            ]
        )
        previous = field.form
    return buffer.getvalue().encode("utf-8")


def record_header(fields: Sequence[Field], data_access_group: bool = False) -> list[str]:
    header = [RECORD_ID, DAG] if data_access_group else [RECORD_ID]
    for position, field in enumerate(fields):
        if field.name != RECORD_ID:
            if field.kind == "checkbox":
                header += [f"{field.name}___{c.code}" for c in field.choices]
            else:
                header.append(field.name)
        last_of_form = position == len(fields) - 1 or fields[position + 1].form != field.form
        if last_of_form:
            header.append(f"{field.form}_complete")
    return header


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")  # dot decimal, never an exponent
    return "0" if text in ("-0", "") else text


def encode(field: Field, value: object, zone: ZoneInfo) -> str:
    """One value as REDCap's import expects it ("" when unknown)."""
    if value is None:
        return ""
    if field.kind == "yesno":
        return "1" if value else "0"
    if field.kind == "radio":
        try:
            return field.code_of(str(value))
        except KeyError:
            return ""
    if field.validation == "date_ymd" and isinstance(value, dt.date):
        return value.isoformat()
    if field.validation == "datetime_ymd" and isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if field.validation == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if field.validation == "number" and isinstance(value, int | float):
        return _number(float(value))
    if field.validation:
        return ""  # a value of the wrong type is left out rather than refused by REDCap
    return " ".join(str(value).split())  # notes and text: one line


def _complete(form: str, values: Mapping[str, object], fields: Sequence[Field]) -> str:
    """2 complete / 1 partly filled ("unverified") / 0 nothing, from the form's values."""
    own = [f for f in fields if f.form == form and f.name != RECORD_ID]
    filled = [bool(values.get(f.source)) if f.kind == "checkbox" else
              values.get(f.source) is not None for f in own]  # fmt: skip
    if not any(filled):
        return "0"
    finished = {
        "screening": values.get("status") != Status.IN_SCREENING,
        "eligibility": values.get("outcome") is not None,
        "injection": values.get("injected_at") is not None,
        "severity": values.get("scorten_partial") is False,
        # Every time point answered, the discharge with its date.
        "follow_up": all(values.get(f.source) is not None for f in own
                         if not f.name.startswith("fu_still")),
    }  # fmt: skip
    return "2" if finished.get(form, False) else "1"


def render_records(
    screenings: Sequence[ScreeningRecord],
    values: Mapping[int, Mapping[str, str]],
    zone: ZoneInfo,
    lang: str,
    *,
    data_access_group: bool = False,
) -> bytes:
    """`values`: screening id → its current stored answers (storage.queries.latest_values).
    `data_access_group`: add the `redcap_data_access_group` column (the site code), for a
    project where that group already exists."""
    fields = fields_of(lang)
    header = record_header(fields, data_access_group)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for s in sorted(screenings, key=lambda x: (x.site, x.sequence)):
        typed = record(s, values.get(s.id, {}))
        row: list[str] = [s.number, s.site.lower()] if data_access_group else [s.number]
        for position, field in enumerate(fields):
            if field.name != RECORD_ID:
                if field.kind == "checkbox":
                    chosen = typed.get(field.source) or set()
                    assert isinstance(chosen, set)
                    row += ["1" if c.value in chosen else "0" for c in field.choices]
                else:
                    row.append(encode(field, typed.get(field.source), zone))
            last_of_form = position == len(fields) - 1 or fields[position + 1].form != field.form
            if last_of_form:
                row.append(_complete(field.form, typed, fields))
        assert len(row) == len(header)  # never a ragged row
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")
