"""Eligibility: what the protocol's rules say about a set of answers at a given moment.

Outcome precedence (DESIGN.md): `not_eligible` if any rule fails (every failing id listed);
else `incomplete` if a required answer is missing; else `pending` if any rule is pending;
else `eligible`. The answers must already be valid values (see `parsing` / `validation`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from conversations.protocol import BSA_OBSERVATION_DAYS, CELLS_PER_KG, D0_WINDOW, QUESTIONS, Answers
from conversations.versions import LYSYME_1_0, ProtocolVersion, Rules, in_force
from conversations.windows import as_aware, bsa_observation_end, d0_deadline, local_today


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    PENDING = "pending"
    NOT_ELIGIBLE = "not_eligible"
    INCOMPLETE = "incomplete"


class Verdict(StrEnum):
    MET = "met"
    FAILED = "failed"
    PENDING = "pending"
    UNKNOWN = "unknown"  # not answered, or depends on an unanswered question


# The rule sets of LYSYME 1.0, under their historical names (each version has its own in
# `conversations.versions`).
EXCLUDING_WHEN_TRUE = LYSYME_1_0.rules.excluding_when_true
EXCLUDING_WHEN_FALSE = LYSYME_1_0.rules.excluding_when_false
EXCLUDING_WHEN_YES = LYSYME_1_0.rules.excluding_when_yes


@dataclass(frozen=True)
class Evaluation:
    outcome: Outcome
    failed: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    dose_cells: int | None = None
    d0_deadline: dt.datetime | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict, compare=False)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The ids behind the outcome (the one non-empty list, DESIGN.md `check`)."""
        return self.failed or self.missing or self.pending


def dose_cells(weight_kg: float, cells_per_kg: int = CELLS_PER_KG) -> int:
    """2 × 10⁶ cells per kg, rounded to a whole cell (decimal arithmetic: 70.3 kg is exact)."""
    cells = Decimal(repr(float(weight_kg))) * cells_per_kg
    return int(cells.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def criterion_verdict(
    question_id: str,
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    rules: Rules = LYSYME_1_0.rules,
) -> Verdict:
    """The verdict of the rule attached to one question (met when the question has no rule)."""
    value = answers.get(question_id)
    if value is None:
        return Verdict.UNKNOWN
    if question_id == "age":
        assert isinstance(value, int)
        return Verdict.FAILED if value < rules.age_min or value > rules.age_max else Verdict.MET
    if question_id == "admission_date":
        index_date = answers.get("index_date")
        if not isinstance(index_date, dt.date) or not isinstance(value, dt.date):
            return Verdict.UNKNOWN
        delay = (value - index_date).days
        return Verdict.FAILED if delay > rules.max_admission_delay_days else Verdict.MET
    if question_id == "ward":
        return Verdict.FAILED if value == "other" else Verdict.MET
    if question_id == "max_bsa_percent":
        assert isinstance(value, int | float)
        if value >= rules.bsa_threshold_percent:
            return Verdict.MET
        index_date = answers.get("index_date")
        if not isinstance(index_date, dt.date):
            return Verdict.PENDING
        in_observation = local_today(now, zone) <= bsa_observation_end(index_date)
        return Verdict.PENDING if in_observation else Verdict.FAILED
    if question_id in rules.excluding_when_true:
        return Verdict.FAILED if value is True else Verdict.MET
    if question_id in rules.excluding_when_false:
        return Verdict.FAILED if value is False else Verdict.MET
    if question_id in rules.excluding_when_yes:
        if value == "yes":
            return Verdict.FAILED
        return Verdict.PENDING if value == "pending" else Verdict.MET
    if question_id == "consent":
        if value == "refused":
            return Verdict.FAILED
        return Verdict.PENDING if value == "pending" else Verdict.MET
    return Verdict.MET


def d0_window_verdict(
    answers: Answers, now: dt.datetime, zone: ZoneInfo, *, injected: bool = False
) -> Verdict:
    """Fails once *now* is past the deadline, unless the injection is already recorded."""
    admission = answers.get("admission_date")
    if not isinstance(admission, dt.date):
        return Verdict.UNKNOWN
    if injected:
        return Verdict.MET
    return Verdict.FAILED if as_aware(now, zone) > d0_deadline(admission, zone) else Verdict.MET


def evaluate(
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    injected: bool = False,
    version: ProtocolVersion | None = None,
) -> Evaluation:
    """Apply the rules of `version` to `answers` at `now` (aware, or naive = local time).
    Without `version`: the version in force on now's local date (a new screening's)."""
    now = as_aware(now, zone)
    rules = (version or in_force(local_today(now, zone))).rules
    verdicts: dict[str, Verdict] = {}
    missing: list[str] = []
    for q in QUESTIONS:
        if not q.applies(answers):
            continue
        verdict = criterion_verdict(q.id, answers, now, zone, rules)
        verdicts[q.id] = verdict
        if answers.get(q.id) is None and q.required:
            missing.append(q.id)
    verdicts[D0_WINDOW] = d0_window_verdict(answers, now, zone, injected=injected)

    failed = sorted(k for k, v in verdicts.items() if v is Verdict.FAILED)
    pending = sorted(k for k, v in verdicts.items() if v is Verdict.PENDING)
    admission = answers.get("admission_date")
    deadline = d0_deadline(admission, zone) if isinstance(admission, dt.date) else None

    if failed:
        return Evaluation(Outcome.NOT_ELIGIBLE, failed=tuple(failed), d0_deadline=deadline,
                          verdicts=verdicts)  # fmt: skip
    if missing:
        return Evaluation(Outcome.INCOMPLETE, missing=tuple(sorted(missing)),
                          d0_deadline=deadline, verdicts=verdicts)  # fmt: skip
    weight = answers.get("weight_kg")
    dose = dose_cells(weight, rules.cells_per_kg) if isinstance(weight, int | float) else None
    outcome = Outcome.PENDING if pending else Outcome.ELIGIBLE
    return Evaluation(outcome, pending=tuple(pending), dose_cells=dose, d0_deadline=deadline,
                      verdicts=verdicts)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One criterion's verdict and the facts its sentence states: the value and the rule
    (e.g. age 80, from 18 to 75). The words are the bot's (bot/criteria.py); the numbers and
    dates are the protocol's, here."""

    criterion: str
    verdict: Verdict
    facts: dict[str, Any]


def finding(
    criterion_id: str,
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    injected: bool = False,
    version: ProtocolVersion | None = None,
) -> Finding:
    """The verdict of `criterion_id` (a question id or `d0_window`) at `now`, with its facts,
    under the rules of `version` (default: the version in force on now's local date)."""
    now = as_aware(now, zone)
    rules = (version or in_force(local_today(now, zone))).rules
    value = answers.get(criterion_id)
    facts: dict[str, Any] = {"value": value}
    if criterion_id == D0_WINDOW:
        admission = answers.get("admission_date")
        if isinstance(admission, dt.date):
            facts["deadline"] = d0_deadline(admission, zone)
            facts["admission_date"] = admission
        return Finding(criterion_id, d0_window_verdict(answers, now, zone, injected=injected),
                       facts)  # fmt: skip
    if criterion_id == "age":
        facts.update(minimum=rules.age_min, maximum=rules.age_max)
    elif criterion_id == "admission_date":
        index_date = answers.get("index_date")
        if isinstance(index_date, dt.date) and isinstance(value, dt.date):
            facts["delay_days"] = (value - index_date).days
        facts["maximum"] = rules.max_admission_delay_days
    elif criterion_id == "max_bsa_percent":
        facts["threshold"] = rules.bsa_threshold_percent
        facts["observation_days"] = BSA_OBSERVATION_DAYS
        index_date = answers.get("index_date")
        if isinstance(index_date, dt.date):
            facts["observation_end"] = bsa_observation_end(index_date)
    verdict = criterion_verdict(criterion_id, answers, now, zone, rules)
    return Finding(criterion_id, verdict, facts)
