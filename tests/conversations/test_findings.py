"""The facts behind each verdict (value and rule, stated by bot/criteria.py), the order
criteria are listed in, and a progress total that never grows mid-way."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from conversations.eligibility import Verdict, finding
from conversations.flow import progress
from conversations.protocol import QUESTIONS, in_question_order

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=PARIS)


def test_age_finding_carries_the_value_and_the_bounds() -> None:
    found = finding("age", {"age": 80}, NOW, PARIS)
    assert found.verdict is Verdict.FAILED
    assert found.facts == {"value": 80, "minimum": 18, "maximum": 75}


def test_admission_delay_finding() -> None:
    answers = {"index_date": dt.date(2026, 11, 10), "admission_date": dt.date(2026, 11, 22)}
    found = finding("admission_date", answers, NOW, PARIS)
    assert found.verdict is Verdict.FAILED
    assert found.facts["delay_days"] == 12 and found.facts["maximum"] == 10


def test_d0_window_finding_carries_the_deadline() -> None:
    found = finding("d0_window", {"admission_date": dt.date(2026, 11, 24)}, NOW, PARIS)
    assert found.verdict is Verdict.FAILED
    assert found.facts["deadline"] == dt.datetime(2026, 11, 27, 23, 59, 59, tzinfo=PARIS)


def test_bsa_finding_pending_then_failed() -> None:
    answers = {"index_date": dt.date(2026, 11, 25), "max_bsa_percent": 8.0}
    pending = finding("max_bsa_percent", answers, NOW, PARIS)
    assert pending.verdict is Verdict.PENDING
    assert pending.facts["observation_end"] == dt.date(2026, 12, 5)
    later = NOW + dt.timedelta(days=7)
    assert finding("max_bsa_percent", answers, later, PARIS).verdict is Verdict.FAILED


def test_lists_follow_the_question_order() -> None:
    ids = ["weight_kg", "consent", "age", "d0_window", "hiv_positive", "admission_date"]
    assert in_question_order(ids) == [
        "admission_date", "d0_window", "age", "hiv_positive", "consent", "weight_kg"
    ]  # fmt: skip


def test_the_question_total_never_grows() -> None:
    answers: dict = {}
    totals = []
    for q in QUESTIONS:
        totals.append(progress(answers, q.id)[1])
        answers[q.id] = {"sex": "female", "consent": "obtained", "consent_by": "patient"}.get(
            q.id, 1
        )
    assert totals == sorted(totals, reverse=True)
    assert totals[0] == len(QUESTIONS)
    male = {"sex": "male", "consent": "pending"}
    assert progress(male, "weight_kg") == (len(QUESTIONS) - 2, len(QUESTIONS) - 2)
