"""An independent checker of REDCap's documented rules for a data dictionary and a records
import file ("records as rows", raw values), used by the tests of `lysyme-bot export --format
redcap`. It knows nothing of the bot: only REDCap's rules.

Dictionary (Project Designer → Data Dictionary upload):
- the 18 column headers, exactly, in order;
- variable names: lowercase letters, digits and underscores, starting with a letter, unique,
  at most 26 characters (REDCap's recommendation; 100 is the hard limit), no "___" (reserved
  for checkbox columns), not a reserved name;
- form names: same alphabet; each form's fields contiguous; the first field is the record id;
- field types among REDCap's; choices `code, label | code, label` for radio, dropdown and
  checkbox (codes unique; checkbox codes letters, digits, underscores), none for the others;
- validation only on text fields, among REDCap's names; min / max in the validation's format
  and min ≤ max; Identifier?, Required Field? and Matrix Ranking? are "y" or blank; Custom
  Alignment one of LV, LH, RV, RH or blank;
- branching logic: balanced brackets, parentheses and quotes; every `[variable]` a field of
  the dictionary (a checkbox as `[name(code)]`), never the field itself; each `[x] = 'c'` (or
  `<>`) on a radio, dropdown, yesno or truefalse field names one of its codes; only REDCap's
  operators (=, <>, <, >, <=, >=, and, or, not).

Records (Data Import Tool, CSV, raw codes):
- UTF-8, no ragged row, unique column names; the record id first, then optionally
  `redcap_data_access_group`; every other column a field of the dictionary, a checkbox option
  `name___code`, or `<form>_complete`; every field of the dictionary present;
- values: yesno 0/1, truefalse 0/1, radio/dropdown a defined code, checkbox 0/1,
  `<form>_complete` 0/1/2, text per its validation (date_ymd YYYY-MM-DD, datetime_ymd
  YYYY-MM-DD HH:MM, integer, number with a dot decimal) and within min / max; blank allowed;
- record ids unique and non-blank; DAG names lowercase letters, digits and underscores, and
  each one a group that exists in the project (`groups`; none in a fresh project built from
  the dictionary alone: a dictionary cannot create groups, so REDCap refuses such rows).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from dataclasses import dataclass, field

HEADER = (
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
FIELD_TYPES = {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc",
               "file", "slider", "descriptive", "sql"}  # fmt: skip
WITH_CHOICES = {"dropdown", "radio", "checkbox"}
VALIDATIONS = {"date_ymd", "date_mdy", "date_dmy", "datetime_ymd", "datetime_mdy", "datetime_dmy",
               "datetime_seconds_ymd", "integer", "number", "email", "phone", "time",
               "alpha_only", "zipcode"}  # fmt: skip
RESERVED = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
            "redcap_data_access_group", "redcap_survey_identifier", "event_name", "record",
            "arm", "instance", "event_id", "hidden_edit_flag", "new", "class", "return",
            "var", "switch", "case", "default", "this", "function", "if", "else"}  # fmt: skip
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CHECKBOX_CODE = re.compile(r"^[A-Za-z0-9_]+$")
DAG_NAME = re.compile(r"^[a-z0-9_]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
INTEGER = re.compile(r"^-?\d+$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass
class DictionaryField:
    name: str
    form: str
    type: str
    choices: dict[str, str]
    validation: str
    minimum: str
    maximum: str


BRANCH_VARIABLE = re.compile(r"\[([a-z][a-z0-9_]*)(?:\(([A-Za-z0-9_]+)\))?\]")
BRANCH_COMPARISON = re.compile(
    r"\[([a-z][a-z0-9_]*)\]\s*(=|<>|!=)\s*(?:'([^']*)'|\"([^\"]*)\"|(-?\d+(?:\.\d+)?))"
)


def check_branching(
    where: str, name: str, logic: str, known: dict[str, DictionaryField], report: Report
) -> None:
    """One field's branching logic against REDCap's syntax and the fields defined."""
    if logic.count("[") != logic.count("]") or logic.count("(") != logic.count(")"):
        report.add(f"{where}: unbalanced brackets in branching logic")
    if logic.count("'") % 2 or logic.count('"') % 2:
        report.add(f"{where}: unbalanced quotes in branching logic")
    for match in BRANCH_VARIABLE.finditer(logic):
        variable, code = match.group(1), match.group(2)
        target = known.get(variable)
        if variable == name:
            report.add(f"{where}: branching logic on the field itself")
        elif target is None:
            report.add(f"{where}: branching logic names an unknown field [{variable}]")
        elif code is not None and (target.type != "checkbox" or code not in target.choices):
            report.add(f"{where}: [{variable}({code})] is not a checkbox option")
    for match in BRANCH_COMPARISON.finditer(logic):
        variable = match.group(1)
        value = next((g for g in match.groups()[2:] if g is not None), "")
        target = known.get(variable)
        if target is None or value == "":
            continue
        if target.type in ("radio", "dropdown") and value not in target.choices:
            report.add(f"{where}: [{variable}] has no code {value!r}")
        if target.type in ("yesno", "truefalse") and value not in ("0", "1"):
            report.add(f"{where}: [{variable}] is {target.type}: 0 or 1, not {value!r}")
    rest = BRANCH_VARIABLE.sub(" V ", re.sub(r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?", " V ", logic))
    tokens = re.findall(r"<>|!=|<=|>=|[=<>()]|[A-Za-z]+|\S", rest)
    comparisons = {"=", "<>", "!=", "<", ">", "<=", ">="}
    allowed = {"V", "(", ")", "and", "or", "not", *comparisons}
    doubled = any(a in comparisons and b in comparisons for a, b in itertools.pairwise(tokens))
    if doubled or any(token not in allowed for token in tokens):
        report.add(f"{where}: branching logic {logic!r} is not REDCap syntax")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def _read(data: bytes, report: Report, what: str) -> list[list[str]]:
    if data.startswith(b"\xef\xbb\xbf"):
        report.add(f"{what}: starts with a byte-order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.add(f"{what}: not UTF-8")
        return []
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if rows:
        width = len(rows[0])
        for number, row in enumerate(rows[1:], start=2):
            if len(row) != width:
                report.add(f"{what}: line {number} has {len(row)} values, header {width}")
    return rows


def _parse_choices(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split("|"):
        code, sep, label = part.strip().partition(",")
        pairs.append((code.strip(), label.strip() if sep else ""))
    return pairs


def _valid_bound(validation: str, bound: str) -> bool:
    return _valid_value(validation, bound)


def _valid_value(validation: str, value: str) -> bool:
    try:
        if validation == "date_ymd":
            return bool(DATE.match(value)) and dt.date.fromisoformat(value) is not None
        if validation == "datetime_ymd":
            return bool(DATETIME.match(value)) and bool(dt.datetime.fromisoformat(value))
        if validation == "integer":
            return bool(INTEGER.match(value))
        if validation == "number":
            return bool(NUMBER.match(value))
    except ValueError:
        return False
    return True


def _as_comparable(validation: str, value: str) -> object:
    if validation in ("integer", "number"):
        return float(value)
    return value  # ISO dates and date-times compare as text


def check_dictionary(data: bytes) -> tuple[list[DictionaryField], list[str]]:
    report = Report()
    rows = _read(data, report, "dictionary")
    if not rows:
        return [], [*report.problems, "dictionary: empty"]
    if tuple(rows[0]) != HEADER:
        report.add(f"dictionary: header {rows[0]!r} is not REDCap's 18 columns")
        return [], report.problems
    fields: list[DictionaryField] = []
    logics: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    finished_forms: set[str] = set()
    current_form = None
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER):
            continue
        name, form, _, kind, label, choices, _, validation, low, high = row[:10]
        identifier, branching, required, alignment, _, _, ranking, _ = row[10:]
        where = f"dictionary line {number} ({name})"
        if not NAME.match(name):
            report.add(f"{where}: invalid variable name")
        if len(name) > 26:
            report.add(f"{where}: variable name longer than 26 characters")
        if "___" in name:
            report.add(f"{where}: '___' is reserved for checkbox columns")
        if name in RESERVED or name.endswith("_complete"):
            report.add(f"{where}: reserved variable name")
        if name in seen:
            report.add(f"{where}: duplicate variable name")
        seen.add(name)
        if not NAME.match(form):
            report.add(f"{where}: invalid form name {form!r}")
        if form != current_form:
            if form in finished_forms:
                report.add(f"{where}: form {form} is not contiguous")
            if current_form is not None:
                finished_forms.add(current_form)
            current_form = form
        if kind not in FIELD_TYPES:
            report.add(f"{where}: unknown field type {kind!r}")
        if not label.strip():
            report.add(f"{where}: empty field label")
        parsed: dict[str, str] = {}
        if kind in WITH_CHOICES:
            pairs = _parse_choices(choices) if choices.strip() else []
            if not pairs:
                report.add(f"{where}: a {kind} field needs choices")
            for code, choice_label in pairs:
                if not code or not choice_label:
                    report.add(f"{where}: choice {code!r} needs 'code, label'")
                if code in parsed:
                    report.add(f"{where}: duplicate choice code {code}")
                if kind == "checkbox" and not CHECKBOX_CODE.match(code):
                    report.add(f"{where}: checkbox code {code!r} not letters/digits/_")
                parsed[code] = choice_label
        elif choices.strip() and kind not in ("calc", "slider", "sql"):
            report.add(f"{where}: choices on a {kind} field")
        if validation:
            if kind != "text":
                report.add(f"{where}: validation on a {kind} field")
            if validation not in VALIDATIONS:
                report.add(f"{where}: unknown validation {validation!r}")
        for bound in (low, high):
            if bound and not validation:
                report.add(f"{where}: min/max without a validation")
            elif bound and not _valid_bound(validation, bound):
                report.add(f"{where}: bound {bound!r} is not a {validation}")
        both = bool(low and high and validation)
        if both and _valid_bound(validation, low) and _valid_bound(validation, high):
            lower, upper = _as_comparable(validation, low), _as_comparable(validation, high)
            if lower > upper:  # type: ignore[operator]
                report.add(f"{where}: min > max")
        for column, value in (("Identifier?", identifier), ("Required Field?", required),
                              ("Matrix Ranking?", ranking)):  # fmt: skip
            if value not in ("", "y"):
                report.add(f"{where}: {column} must be 'y' or blank")
        if alignment not in ("", "LV", "LH", "RV", "RH"):
            report.add(f"{where}: bad custom alignment {alignment!r}")
        fields.append(DictionaryField(name, form, kind, parsed, validation, low, high))
        if branching.strip():
            logics.append((where, name, branching))
    known = {f.name: f for f in fields}
    for where, name, logic in logics:
        check_branching(where, name, logic, known, report)
    if fields and rows[1][0] != fields[0].name:
        report.add("dictionary: first field missing")
    return fields, report.problems


def check_records(
    dictionary: bytes, records: bytes, groups: frozenset[str] = frozenset()
) -> list[str]:
    """`groups`: the data access groups that exist in the project (none in a fresh one)."""
    fields, problems = check_dictionary(dictionary)
    report = Report(list(problems))
    rows = _read(records, report, "records")
    if not fields or not rows:
        return [*report.problems, "records: nothing to check"]
    header = rows[0]
    by_name = {f.name: f for f in fields}
    forms = {f.form for f in fields}
    record_id = fields[0].name
    if header[:1] != [record_id]:
        report.add(f"records: the first column must be the record id {record_id}")
    if len(set(header)) != len(header):
        report.add("records: duplicate column names")
    columns: list[tuple[str, DictionaryField | None, str | None]] = []
    for column in header:
        if column == "redcap_data_access_group":
            columns.append(("dag", None, None))
        elif column.endswith("_complete") and column[: -len("_complete")] in forms:
            columns.append(("complete", None, None))
        elif "___" in column:
            name, _, code = column.partition("___")
            f = by_name.get(name)
            if f is None or f.type != "checkbox" or code not in f.choices:
                report.add(f"records: column {column} is not a checkbox option")
            columns.append(("checkbox", f, code))
        elif column in by_name:
            f = by_name[column]
            if f.type == "checkbox":
                report.add(f"records: checkbox {column} must be split in {column}___code")
            columns.append(("field", f, None))
        else:
            report.add(f"records: column {column} is not in the dictionary")
            columns.append(("unknown", None, None))
    for f in fields:
        expected = [f"{f.name}___{c}" for c in f.choices] if f.type == "checkbox" else [f.name]
        for column in expected:
            if column not in header and f.type != "descriptive":
                report.add(f"records: dictionary field {column} has no column")
    ids: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            continue
        if not row[0].strip():
            report.add(f"records line {number}: blank record id")
        if row[0] in ids:
            report.add(f"records line {number}: duplicate record {row[0]}")
        ids.add(row[0])
        for (kind, f, _code), column, value in zip(columns, header, row, strict=True):
            where = f"records line {number} ({row[0]}), {column}={value!r}"
            if kind == "dag" and value and not DAG_NAME.match(value):
                report.add(f"{where}: not a data access group name")
            elif kind == "dag" and value and value not in groups:
                report.add(f"{where}: no data access group {value!r} in the project")
            elif kind == "complete" and value not in ("", "0", "1", "2"):
                report.add(f"{where}: form status must be 0, 1 or 2")
            elif kind == "checkbox" and value not in ("", "0", "1"):
                report.add(f"{where}: checkbox value must be 0 or 1")
            elif kind == "field" and f is not None and value != "":
                if f.type in ("yesno", "truefalse") and value not in ("0", "1"):
                    report.add(f"{where}: {f.type} must be 0 or 1")
                elif f.type in ("radio", "dropdown") and value not in f.choices:
                    report.add(f"{where}: not a code of {f.name}")
                elif f.type == "text" and f.validation:
                    if not _valid_value(f.validation, value):
                        report.add(f"{where}: not a valid {f.validation}")
                    else:
                        comparable = _as_comparable(f.validation, value)
                        if f.minimum and comparable < _as_comparable(f.validation, f.minimum):  # type: ignore[operator]
                            report.add(f"{where}: below the minimum {f.minimum}")
                        if f.maximum and comparable > _as_comparable(f.validation, f.maximum):  # type: ignore[operator]
                            report.add(f"{where}: above the maximum {f.maximum}")
    return report.problems
