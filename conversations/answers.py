"""Answers in and out: parsing what a clinician types, validating machine input (`check`),
and the canonical text form stored in the database and shown in exports.

Every problem is an `AnswerError` naming the field and a stable code, so the bot can word it
in the user's language and the command line can print one line. Nothing here reads the clock:
*today* (the local date of *now*) is a parameter.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conversations.protocol import BY_ID, Answers, AnswerValue, Kind, Question

#: Dates outside these years are typing errors, and keep calendar arithmetic (deadline =
#: admission + 3 days) far from the ends of Python's date range.
MIN_YEAR = 1900
MAX_YEAR = 9000
#: A year a clinician types: four digits in this range (`01/01/0026` is a typo, not 2026).
TYPED_MIN_YEAR = 1900
TYPED_MAX_YEAR = 2100
#: A day/month in the future is last year's only this close to today (the turn of the year);
#: further back, the bot asks for the full date instead of guessing.
DAY_MONTH_LOOKBACK_DAYS = 31


class AnswerError(ValueError):
    """An answer that cannot be accepted: which field, what is wrong (stable `code`)."""

    def __init__(self, field: str, code: str, **params: Any) -> None:
        self.field = field
        self.code = code
        self.params = params
        super().__init__(f"{field}: {describe_error(code, params)}")


_ERROR_TEXTS = {
    "unknown_field": "unknown question id",
    "empty": "an answer is required",
    "not_a_number": "expected a number",
    "not_integer": "expected a whole number",
    "out_of_range": "expected a value between {minimum} and {maximum}",
    "not_a_date": "expected a date (dd/mm/yyyy, dd/mm, yyyy-mm-dd, today or yesterday)",
    "non_ascii_digits": "type the digits 0-9",
    "wrong_unit": "{typed} is not a unit for this answer (expected {expected})",
    "year_four_digits": "type the year with four digits",
    "year_out_of_range": "expected a year between {minimum} and {maximum}",
    "day_month_tomorrow": "{day_month} is tomorrow: type the full date",
    "day_month_future": "{day_month} is in the future ({date}): type the full date",
    "day_month_not_this_year": "{day_month} does not exist in {year}: type the full date",
    "future_date": "the date cannot be after today ({today})",
    "before_index": "the admission date cannot be before the index date ({index_date})",
    "after_admission": "the index date cannot be after the admission date ({admission_date})",
    "not_a_choice": "expected one of: {choices}",
    "not_a_boolean": "expected true or false",
    "wrong_type": "expected {expected}",
}


def describe_error(code: str, params: Mapping[str, Any]) -> str:
    """English wording, used by the command line and logs (the bot words it per language)."""
    template = _ERROR_TEXTS.get(code, code)
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


# --- free text, as typed on a phone -------------------------------------------------------

_YES = {"yes", "y", "oui", "o", "true", "vrai", "1"}
_NO = {"no", "n", "non", "false", "faux", "0"}
_PENDING = {"pending", "en attente", "attente", "awaited", "attendu", "en cours"}
_TODAY = {"today", "aujourd'hui", "aujourdhui", "auj", "now", "maintenant"}
_YESTERDAY = {"yesterday", "hier"}

#: Words a clinician may type for a choice, French or English, beyond the stored value itself.
CHOICE_SYNONYMS: dict[str, dict[str, str]] = {
    "sex": {
        "f": "female",
        "femme": "female",
        "woman": "female",
        "féminin": "female",
        "feminin": "female",
        "m": "male",
        "h": "male",
        "homme": "male",
        "man": "male",
        "masculin": "male",
    },
    "ward": {
        "dermato": "dermatology",
        "dermatologie": "dermatology",
        "derm": "dermatology",
        "réa": "icu",
        "rea": "icu",
        "réanimation": "icu",
        "reanimation": "icu",
        "intensive care": "icu",
        "soins intensifs": "icu",
        "autre": "other",
    },
    "sars_cov2_positive": {
        "not tested": "not_tested",
        "non testé": "not_tested",
        "non teste": "not_tested",
        "non fait": "not_tested",
        "not done": "not_tested",
    },
    "consent": {
        "obtenu": "obtained",
        "signé": "obtained",
        "signe": "obtained",
        "refusé": "refused",
        "refuse": "refused",
    },
    "consent_by": {
        "patient·e": "patient",
        "patiente": "patient",
        "support person": "support_person",
        "personne de confiance": "support_person",
        "proche": "support_person",
    },
}

# ASCII digits only: `\d` would read a Bengali ৪ (four, looks like 8) as a digit.
_NUMBER = re.compile(
    r"^(?P<sign>[-+])?(?P<int>[0-9]{1,6})(?:[.,](?P<frac>[0-9]{1,6}))?\s*(?P<unit>[^0-9\s].*)?$"
)
_DMY = re.compile(r"^(?P<d>[0-9]{1,2})[/.\-](?P<m>[0-9]{1,2})(?:[/.\-](?P<y>[0-9]+))?$")
_YMD = re.compile(r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})$")

#: The unit words accepted after a typed number, per question unit (protocol.Question.unit):
#: "54%" is not an age, "35 kg" is not a body surface area.
UNIT_WORDS: dict[str, frozenset[str]] = {
    "years": frozenset({"an", "ans", "a", "y", "yr", "yrs", "year", "years"}),
    "%": frozenset({"%", "pourcent", "pour cent", "percent"}),
    "kg": frozenset({"kg", "kgs", "kilo", "kilos"}),
}


def has_non_ascii_digits(text: str) -> bool:
    """A digit outside 0-9 (Bengali, Arabic-Indic, superscript…): never read as a number."""
    return any(ch.isdigit() and not ("0" <= ch <= "9") for ch in text)


def normalise(text: str) -> str:
    """Lower-case, NFC, single spaces, typographic apostrophes folded."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u00a0", " ")
    return " ".join(text.strip().lower().split())


def parse_text(
    question_id: str, text: str, today: dt.date, answers: Answers | None = None
) -> AnswerValue:
    """Parse what a clinician typed for `question_id`; raise AnswerError if it is not an answer."""
    q = _question(question_id)
    cleaned = normalise(text)
    if not cleaned:
        raise AnswerError(q.id, "empty")
    if has_non_ascii_digits(cleaned):
        raise AnswerError(q.id, "non_ascii_digits")
    if q.kind in (Kind.INTEGER, Kind.NUMBER):
        value: AnswerValue = _parse_number(q, cleaned)
    elif q.kind is Kind.DATE:
        value = _parse_date(q, cleaned, today)
    elif q.kind is Kind.BOOLEAN:
        if cleaned in _YES:
            value = True
        elif cleaned in _NO:
            value = False
        else:
            raise AnswerError(q.id, "not_a_choice", choices="yes, no")
    else:
        value = _parse_choice(q, cleaned)
    return validate_in_context(q.id, value, today, answers or {})


def _parse_number(q: Question, cleaned: str) -> int | float:
    match = _NUMBER.match(cleaned)
    if not match:
        raise AnswerError(q.id, "not_a_number")
    unit = (match["unit"] or "").rstrip(".").strip()
    if any(ch.isdigit() for ch in unit):
        raise AnswerError(q.id, "not_a_number")
    if unit and unit not in UNIT_WORDS.get(q.unit, frozenset()):
        if any(unit in words for words in UNIT_WORDS.values()):
            raise AnswerError(q.id, "wrong_unit", typed=unit, expected=q.unit)
        raise AnswerError(q.id, "not_a_number")  # "7O": a letter O for a zero
    negative = match["sign"] == "-"
    frac = match["frac"]
    if q.kind is Kind.INTEGER:
        if frac and int(frac) != 0:
            raise AnswerError(q.id, "not_integer")
        number: int | float = int(match["int"])
    else:
        number = float(f"{match['int']}.{frac or '0'}")
    if negative and number:
        number = -number
    return _check_range(q, number)


def _check_range(q: Question, number: int | float) -> int | float:
    assert q.minimum is not None and q.maximum is not None
    if not (q.minimum <= number <= q.maximum):
        raise AnswerError(
            q.id, "out_of_range", minimum=_fmt_bound(q.minimum), maximum=_fmt_bound(q.maximum)
        )
    return number


def _fmt_bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _parse_date(q: Question, cleaned: str, today: dt.date) -> dt.date:
    if cleaned in _TODAY:
        return today
    if cleaned in _YESTERDAY:
        return today - dt.timedelta(days=1)
    ymd = _YMD.match(cleaned)
    dmy = _DMY.match(cleaned)
    if ymd:
        return _typed_date(q, ymd["y"], int(ymd["m"]), int(ymd["d"]))
    if dmy:
        day, month = int(dmy["d"]), int(dmy["m"])
        if dmy["y"] is None:
            return day_month_date(q.id, day, month, today)
        return _typed_date(q, dmy["y"], month, day)
    raise AnswerError(q.id, "not_a_date")


def _typed_date(q: Question, year_text: str, month: int, day: int) -> dt.date:
    if len(year_text) != 4:
        raise AnswerError(q.id, "year_four_digits")
    year = int(year_text)
    if not TYPED_MIN_YEAR <= year <= TYPED_MAX_YEAR:
        raise AnswerError(q.id, "year_out_of_range", minimum=TYPED_MIN_YEAR, maximum=TYPED_MAX_YEAR)
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise AnswerError(q.id, "not_a_date") from None


def day_month_date(question_id: str, day: int, month: int, today: dt.date) -> dt.date:
    """A day/month typed without a year: this year's date; if that is still to come, last
    year's only when that is at most `DAY_MONTH_LOOKBACK_DAYS` ago (typed on 05/01, `28/12` is
    last December); otherwise refused with the reason, never silently a year back."""
    if not _valid(2000, month, day):  # no such day in any year (31/02, 32/01, 21/13)
        raise AnswerError(question_id, "not_a_date")
    day_month = f"{day:02d}/{month:02d}"
    if not _valid(today.year, month, day):  # 29/02 in a common year
        raise AnswerError(question_id, "day_month_not_this_year", day_month=day_month,
                          year=today.year)  # fmt: skip
    candidate = dt.date(today.year, month, day)
    if candidate <= today:
        return candidate
    if _valid(today.year - 1, month, day):
        last_year = dt.date(today.year - 1, month, day)
        if (today - last_year).days <= DAY_MONTH_LOOKBACK_DAYS:
            return last_year
    if candidate == today + dt.timedelta(days=1):
        raise AnswerError(question_id, "day_month_tomorrow", day_month=day_month, date=candidate)
    raise AnswerError(question_id, "day_month_future", day_month=day_month, date=candidate)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _parse_choice(q: Question, cleaned: str) -> str:
    candidate = cleaned.replace(" ", "_")
    if candidate in q.choices:
        return candidate
    synonyms = CHOICE_SYNONYMS.get(q.id, {})
    if cleaned in synonyms:
        return synonyms[cleaned]
    if "yes" in q.choices and cleaned in _YES:
        return "yes"
    if "no" in q.choices and cleaned in _NO:
        return "no"
    if "pending" in q.choices and cleaned in _PENDING:
        return "pending"
    raise AnswerError(q.id, "not_a_choice", choices=", ".join(q.choices))


# --- machine input (JSON), for `lysyme-bot check` and stored values ----------------------


def validate_json_value(question_id: str, raw: Any, today: dt.date) -> AnswerValue | None:
    """A JSON value as DESIGN.md's `check` defines it; None means unanswered."""
    q = _question(question_id)
    if raw is None:
        return None
    if q.kind is Kind.BOOLEAN:
        if not isinstance(raw, bool):
            raise AnswerError(q.id, "not_a_boolean")
        return raw
    if q.kind in (Kind.INTEGER, Kind.NUMBER):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise AnswerError(q.id, "wrong_type", expected="a number")
        if isinstance(raw, float) and not math.isfinite(raw):
            raise AnswerError(q.id, "not_a_number")
        if q.kind is Kind.INTEGER:
            if isinstance(raw, float) and not raw.is_integer():
                raise AnswerError(q.id, "not_integer")
            raw = int(raw)
        return _check_range(q, raw)
    if q.kind is Kind.DATE:
        if not isinstance(raw, str):
            raise AnswerError(q.id, "not_a_date")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            try:
                value = dt.date.fromisoformat(raw)
            except ValueError:
                raise AnswerError(q.id, "not_a_date") from None
        else:  # what the error lists as accepted: 30/11/2026, 30/11, today, yesterday…
            value = _parse_date(q, normalise(raw), today)
        if value > today:
            raise AnswerError(q.id, "future_date", today=today)
        if value.year < MIN_YEAR:
            raise AnswerError(q.id, "not_a_date")
        return value
    if not isinstance(raw, str) or raw not in q.choices:
        raise AnswerError(q.id, "not_a_choice", choices=", ".join(q.choices))
    return raw


def validate_in_context(
    question_id: str, value: AnswerValue, today: dt.date, answers: Answers
) -> AnswerValue:
    """Checks that involve today or other answers: dates not in the future, admission ≥ index."""
    if isinstance(value, dt.date):
        if value > today:
            raise AnswerError(question_id, "future_date", today=today)
        index_date = answers.get("index_date")
        admission = answers.get("admission_date")
        if (
            question_id == "admission_date"
            and isinstance(index_date, dt.date)
            and value < index_date
        ):
            raise AnswerError(question_id, "before_index", index_date=index_date)
        if question_id == "index_date" and isinstance(admission, dt.date) and value > admission:
            raise AnswerError(question_id, "after_admission", admission_date=admission)
    return value


def validate_answer_set(raw_answers: Mapping[str, Any], today: dt.date) -> dict[str, AnswerValue]:
    """Validate a whole JSON answer object (unknown ids, types, ranges, dates)."""
    answers: dict[str, AnswerValue] = {}
    for question_id, raw in raw_answers.items():
        if question_id not in BY_ID:
            raise AnswerError(question_id, "unknown_field")
        value = validate_json_value(question_id, raw, today)
        if value is not None:
            answers[question_id] = value
    index_date, admission = answers.get("index_date"), answers.get("admission_date")
    if (
        isinstance(index_date, dt.date)
        and isinstance(admission, dt.date)
        and admission < index_date
    ):
        raise AnswerError("admission_date", "before_index", index_date=index_date)
    if answers.get("sex") == "male":
        # A pregnancy answer given for a man is accepted and ignored (DESIGN.md).
        answers.pop("pregnant_or_breastfeeding", None)
    return answers


def to_json(value: AnswerValue) -> str:
    """Canonical stored form: JSON (dates as ISO strings)."""
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def from_json(question_id: str, stored: str) -> AnswerValue:
    """Inverse of `to_json`, typed by the question."""
    raw = json.loads(stored)
    q = _question(question_id)
    if q.kind is Kind.DATE:
        return dt.date.fromisoformat(raw)
    if q.kind is Kind.INTEGER:
        return int(raw)
    if q.kind is Kind.NUMBER:
        return float(raw)
    if q.kind is Kind.BOOLEAN:
        return bool(raw)
    return str(raw)


def _question(question_id: str) -> Question:
    try:
        return BY_ID[question_id]
    except KeyError:
        raise AnswerError(question_id, "unknown_field") from None


# --- a typed date and time (the injection time of /d0, a planned injection time) ------------

# ASCII digits only (a Bengali ৪ is not a 4), four-digit years.
_WALL_CLOCK = re.compile(
    r"^(?:(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})(?:/(?P<y>[0-9]{4}))?\s+)?"
    r"(?P<H>[0-9]{1,2})\s*[:hH]\s*(?P<M>[0-9]{2})$"
)
_WALL_CLOCK_ISO = re.compile(
    r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})[ T](?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})$"
)


@dataclass(frozen=True)
class WallClock:
    """A local date and time as typed; `day` None when only a time was typed (the caller
    says which day that means: today for /d0, the next such time for a plan)."""

    day: dt.date | None
    time: dt.time


def parse_wall_clock(text: str, today: dt.date) -> WallClock | None:
    """The one parser of a typed date and time: `dd/mm/yyyy hh:mm`, `dd/mm hh:mm` (this
    year), `yyyy-mm-dd hh:mm`, `hh:mm`, `14h30`; None if it is not a real date and time."""
    cleaned = " ".join(text.split())
    match = _WALL_CLOCK.match(cleaned) or _WALL_CLOCK_ISO.match(cleaned)
    if match is None:
        return None
    parts = match.groupdict()
    year = int(parts["y"]) if parts.get("y") else today.year
    if not TYPED_MIN_YEAR <= year <= TYPED_MAX_YEAR:
        return None
    try:
        clock = dt.time(int(parts["H"]), int(parts["M"]))
        day = dt.date(year, int(parts["m"]), int(parts["d"])) if parts.get("d") else None
    except ValueError:
        return None
    return WallClock(day, clock)
