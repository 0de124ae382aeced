"""How values look to a person: answers, dates, deadlines, time left, doses (per language)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from bot.texts import t
from conversations.protocol import BY_ID, AnswerValue, Kind
from conversations.scorten import classify


def answer_text(lang: str, question_id: str, value: AnswerValue | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t(lang, "c.yes" if value else "c.no")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    question = BY_ID.get(question_id)
    if question is not None and question.kind is Kind.CHOICE:
        return t(lang, f"c.{value}")
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace(".", ",") if lang == "fr" else text
    return str(value)


def criterion_names(lang: str, ids: Iterable[str]) -> str:
    return "; ".join(t(lang, f"q.{i}") for i in ids)


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
    millions = dose_cells / 1_000_000
    millions_text = f"{millions:g}"
    weight_text = f"{weight_kg:g}"
    if lang == "fr":
        millions_text, weight_text = millions_text.replace(".", ","), weight_text.replace(".", ",")
    return t(lang, "result.dose", millions=millions_text, weight=weight_text)


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
