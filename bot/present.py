"""How values look to a person: answers, dates, deadlines, time left, doses (per language)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import t
from conversations import d0
from conversations.answers import AnswerError
from conversations.protocol import BY_ID, AnswerValue, Kind
from conversations.scorten import classify


def number_text(lang: str, value: float, decimals: int | None = None) -> str:
    """A number as a person reads it: decimal comma in French (62,2), no trailing zeros."""
    if decimals is not None:
        value = round(value, decimals)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, float) and "e" in text:  # keep plain digits for big or tiny values
        text = f"{value:.{decimals or 6}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "fr" else text


def date_text(value: dt.date) -> str:
    """dd/mm/yyyy, day first in both languages."""
    return value.strftime("%d/%m/%Y")


def date_with_weekday(lang: str, value: dt.date) -> str:
    """`30/11/2025 (dimanche)`: the echo of a date answer, so nobody misreads the year."""
    return f"{date_text(value)} ({t(lang, f'day.{value.weekday()}')})"


def answer_text(lang: str, question_id: str, value: AnswerValue | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t(lang, "c.yes" if value else "c.no")
    if isinstance(value, dt.date):
        return date_text(value)
    question = BY_ID.get(question_id)
    if question is not None and question.kind is Kind.CHOICE:
        return t(lang, f"c.{value}")
    if isinstance(value, int | float):
        text = number_text(lang, value)
        unit = t(lang, f"unit.{question.unit}") if question is not None and question.unit else ""
        return f"{text} {unit}" if unit and not unit.startswith("unit.") else text
    return str(value)


def echo_text(lang: str, question_id: str, value: AnswerValue) -> str:
    """How an accepted answer is shown back: dates with their weekday, numbers with unit."""
    if isinstance(value, dt.date):
        return date_with_weekday(lang, value)
    return answer_text(lang, question_id, value)


def error_text(lang: str, exc: AnswerError) -> str:
    """An AnswerError in the user's language: dates as dd/mm/yyyy, the expected unit in words."""
    params: dict[str, Any] = {}
    for name, value in exc.params.items():
        if isinstance(value, dt.date):
            params[name] = date_text(value)
        elif name == "expected" and exc.code == "wrong_unit":
            params[name] = t(lang, f"expect.{value}")
        elif isinstance(value, float):
            params[name] = number_text(lang, value)
        else:
            params[name] = value
    return t(lang, f"err.{exc.code}", **params)


def local_time(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def time_left(lang: str, deadline: dt.datetime, now: dt.datetime) -> str:
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "0"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return t(lang, "left.days_hours", days=days, hours=hours)
    return t(lang, "left.hours_minutes", hours=hours, minutes=rest // 60)


def dose_line(lang: str, dose_cells: int, weight_kg: float) -> str:
    millions = number_text(lang, dose_cells / 1_000_000)
    return t(lang, "result.dose", millions=millions, weight=number_text(lang, float(weight_kg)))


def deadline_line(lang: str, deadline: dt.datetime, now: dt.datetime, zone: ZoneInfo) -> str:
    if deadline <= now:
        return t(lang, "result.deadline_past", deadline=local_time(deadline, zone))
    return t(
        lang,
        "result.deadline",
        deadline=local_time(deadline, zone),
        left=time_left(lang, deadline, now),
    )


def classification(lang: str, bsa: AnswerValue | None) -> str | None:
    if not isinstance(bsa, int | float) or isinstance(bsa, bool):
        return None
    cls = classify(float(bsa))
    return None if cls is None else t(lang, f"class.{cls.value}")


def dose_deviation_line(lang: str, values: Mapping[str, str]) -> str:
    """ "⚠️ Dose deviation: …" when the dose given is more than 10 % away from 2 × 10⁶/kg of
    the current weight; "" otherwise."""
    facts = d0.read_facts(values)
    current = d0.stored_value(values.get("weight_kg"))
    if facts is None or not isinstance(current, int | float) or isinstance(current, bool):
        return ""
    if not d0.is_dose_deviation(facts.dose_given_cells, float(current)):
        return ""
    gap = d0.dose_deviation(facts.dose_given_cells, float(current))
    assert gap is not None and facts.dose_given_cells is not None
    expected = d0.expected_dose(float(current))
    return t(
        lang, "pt.dose_deviation",
        given=number_text(lang, facts.dose_given_cells / 1_000_000),
        expected=number_text(lang, expected / 1_000_000),
        weight=number_text(lang, float(current)),
        gap=("+" if gap > 0 else "") + number_text(lang, gap * 100, 1),
    )  # fmt: skip
