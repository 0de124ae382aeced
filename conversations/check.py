"""`lysyme-bot check`: the machine-checkable form of the rules (DESIGN.md).

Input: `{"answers": {id: value}, "now": "2026-11-21T10:00:00+01:00"}` (now optional). Output:
status, failed/pending/missing (sorted; only the list behind the status is filled),
dose_cells and d0_deadline. Uses the same `evaluate` as the bot.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from conversations.answers import MAX_YEAR, MIN_YEAR, AnswerError, validate_answer_set
from conversations.eligibility import Outcome, evaluate
from conversations.windows import as_aware, format_deadline, local_today


def parse_now(raw: Any, default_now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if raw is None:
        return default_now
    if not isinstance(raw, str):
        raise AnswerError("now", "wrong_type", expected="an ISO 8601 date-time string")
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise AnswerError(
            "now", "wrong_type", expected="an ISO 8601 date-time such as 2026-11-21T10:00:00+01:00"
        ) from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise AnswerError("now", "wrong_type", expected=f"a year between {MIN_YEAR} and {MAX_YEAR}")
    return as_aware(moment, zone)


def run_check(document: Any, default_now: dt.datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Evaluate a `check` document; raise AnswerError (field + problem) on invalid input."""
    if not isinstance(document, dict):
        raise AnswerError("input", "wrong_type", expected="a JSON object")
    unknown = sorted(set(document) - {"answers", "now"})
    if unknown:
        raise AnswerError(unknown[0], "unknown_field")
    answers_raw = document.get("answers")
    if not isinstance(answers_raw, dict):
        raise AnswerError("answers", "wrong_type", expected="a JSON object of answers")
    now = parse_now(document.get("now"), default_now, zone)
    answers = validate_answer_set(answers_raw, local_today(now, zone))
    evaluation = evaluate(answers, now, zone)
    dose = evaluation.dose_cells
    if evaluation.outcome not in (Outcome.ELIGIBLE, Outcome.PENDING):
        dose = None
    return {
        "status": evaluation.outcome.value,
        "failed": list(evaluation.failed),
        "pending": list(evaluation.pending),
        "missing": list(evaluation.missing),
        "dose_cells": dose,
        "d0_deadline": format_deadline(evaluation.d0_deadline) if evaluation.d0_deadline else None,
    }
