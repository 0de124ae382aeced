"""The screening conversation as a state machine (DESIGN.md "Who uses it", "Clinical rules":
one question at a time, a failing answer is confirmed before it closes the screening, /back)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from conversations.eligibility import Outcome
from conversations.flow import (
    Move,
    apply_answer,
    first_question,
    next_question,
    previous_question,
)
from tests.conversations.support import ALL_IDS, NOW, PARIS, eligible_answers


def walk(script: dict[str, object], now: dt.datetime = NOW) -> tuple[list[str], object, dict]:
    """Answer each question the flow asks from `script` until it stops; return the questions
    asked in order, the last step and the answers."""
    answers: dict[str, object] = {}
    asked: list[str] = []
    question_id: str | None = first_question()
    step = None
    while question_id is not None:
        assert question_id not in asked, f"{question_id} asked twice"
        asked.append(question_id)
        answers, step = apply_answer(answers, question_id, script[question_id], now, PARIS)
        if step.move is not Move.ASK:
            break
        question_id = step.question_id
    return asked, step, answers


def test_first_question_is_the_index_date() -> None:
    assert first_question() == "index_date"
    assert next_question({}) == "index_date"


def test_dates_diagnosis_and_age_come_early() -> None:
    asked, _, _ = walk(eligible_answers("female"))
    assert asked[0] == "index_date"
    assert asked.index("admission_date") < 5
    assert asked.index("diagnosis_confirmed") < 5
    assert asked.index("age") < 5


@pytest.mark.parametrize("sex", ["female", "male"])
def test_every_applicable_question_is_asked_once_then_the_summary(sex: str) -> None:
    script = eligible_answers(sex)
    asked, step, answers = walk(script)
    assert step.move is Move.SUMMARY
    assert step.question_id is None
    assert step.evaluation.outcome is Outcome.ELIGIBLE
    expected = set(ALL_IDS)
    if sex == "male":
        expected.discard("pregnant_or_breastfeeding")
    assert set(asked) == expected
    assert answers == script


def test_pregnancy_is_skipped_for_men() -> None:
    asked, _, _ = walk(eligible_answers("male"))
    assert "pregnant_or_breastfeeding" not in asked
    answers = {"sex": "male"}
    assert next_question(answers, "sex") != "pregnant_or_breastfeeding"


def test_pregnancy_is_asked_for_women_right_after_sex() -> None:
    asked, _, _ = walk(eligible_answers("female"))
    assert asked[asked.index("sex") + 1] == "pregnant_or_breastfeeding"
    _, step = apply_answer({}, "sex", "female", NOW, PARIS)
    assert step.move is Move.ASK
    assert step.question_id == "pregnant_or_breastfeeding"


def test_consent_by_is_asked_only_when_consent_is_obtained() -> None:
    asked, _, _ = walk(eligible_answers(consent="obtained"))
    assert asked[asked.index("consent") + 1] == "consent_by"

    script = eligible_answers(consent="pending", consent_by=None)
    asked, step, _answers = walk(script)
    assert "consent_by" not in asked
    assert step.move is Move.SUMMARY
    assert step.evaluation.outcome is Outcome.PENDING
    assert step.evaluation.pending == ("consent",)


def test_changing_consent_away_from_obtained_drops_consent_by() -> None:
    answers = eligible_answers(consent="obtained", consent_by="support_person")
    updated, step = apply_answer(answers, "consent", "pending", NOW, PARIS)
    assert "consent_by" not in updated
    assert step.move is Move.SUMMARY


@pytest.mark.parametrize(
    ("question_id", "value", "failing"),
    [
        ("age", 17, "age"),
        ("age", 76, "age"),
        ("diagnosis_confirmed", False, "diagnosis_confirmed"),
        ("ward", "other", "ward"),
        ("hiv_positive", "yes", "hiv_positive"),
        ("pregnant_or_breastfeeding", "yes", "pregnant_or_breastfeeding"),
        ("uncontrolled_epilepsy", True, "uncontrolled_epilepsy"),
        ("social_security", False, "social_security"),
        ("consent", "refused", "consent"),
        ("index_date", dt.date(2026, 11, 9), "admission_date"),  # admitted 11 days later
    ],
)
def test_a_failing_answer_asks_for_confirmation(question_id, value, failing) -> None:
    script = eligible_answers()
    script[question_id] = value
    assert walk(script)[2][question_id] == value
    if question_id == "index_date":
        question_id = "admission_date"  # the delay is known once the admission date is given
    asked, step, _ = walk(script)
    assert asked[-1] == question_id  # the conversation stops at the failing answer
    assert step.move is Move.CONFIRM_EXCLUSION
    assert step.question_id == question_id
    assert failing in step.excluding
    assert step.evaluation.outcome is Outcome.NOT_ELIGIBLE


def test_an_admission_whose_d0_window_has_closed_asks_for_confirmation() -> None:
    script = eligible_answers(
        index_date=dt.date(2026, 11, 10), admission_date=dt.date(2026, 11, 15)
    )
    asked, step, _ = walk(script, now=dt.datetime(2026, 11, 21, 10, tzinfo=PARIS))
    assert asked == ["index_date", "admission_date"]
    assert step.move is Move.CONFIRM_EXCLUSION
    assert "d0_window" in step.excluding


def test_a_pending_answer_does_not_stop_the_conversation() -> None:
    for question_id, value in [("max_bsa_percent", 8.0), ("hiv_positive", "pending")]:
        _, step = apply_answer(
            {k: v for k, v in eligible_answers().items() if k in ("index_date", "admission_date")},
            question_id,
            value,
            NOW,
            PARIS,
        )
        assert step.move is Move.ASK


def test_changing_a_failing_answer_continues_the_conversation() -> None:
    answers, step = apply_answer({}, "index_date", dt.date(2026, 11, 18), NOW, PARIS)
    answers, step = apply_answer(answers, "admission_date", dt.date(2026, 11, 20), NOW, PARIS)
    answers, step = apply_answer(answers, "diagnosis_confirmed", False, NOW, PARIS)
    assert step.move is Move.CONFIRM_EXCLUSION
    answers, step = apply_answer(answers, "diagnosis_confirmed", True, NOW, PARIS)
    assert step.move is Move.ASK
    assert step.question_id not in ("index_date", "admission_date", "diagnosis_confirmed")


def test_back_from_the_summary_gives_the_last_question() -> None:
    asked, step, answers = walk(eligible_answers("male"))
    assert step.move is Move.SUMMARY
    assert previous_question(answers, None) == asked[-1]


def test_back_from_the_first_question_gives_none() -> None:
    assert previous_question({}, first_question()) is None
    assert previous_question(eligible_answers(), first_question()) is None


def test_back_follows_the_questions_asked_in_reverse() -> None:
    for sex in ("female", "male"):
        asked, _, answers = walk(eligible_answers(sex))
        for before, current in itertools.pairwise(asked):
            assert previous_question(answers, current) == before, (sex, current)


def test_back_skips_pregnancy_for_men() -> None:
    asked, _, answers = walk(eligible_answers("male"))
    after_sex = asked[asked.index("sex") + 1]
    assert previous_question(answers, after_sex) == "sex"


def test_changing_sex_from_female_to_male_drops_the_pregnancy_answer() -> None:
    answers = eligible_answers("female", pregnant_or_breastfeeding="pending")
    updated, step = apply_answer(answers, "sex", "male", NOW, PARIS)
    assert "pregnant_or_breastfeeding" not in updated
    assert updated["sex"] == "male"
    assert step.move is Move.SUMMARY
    assert step.evaluation.outcome is Outcome.ELIGIBLE


def test_changing_sex_from_female_to_male_drops_an_excluding_pregnancy_answer() -> None:
    answers = eligible_answers("female", pregnant_or_breastfeeding="yes")
    updated, step = apply_answer(answers, "sex", "male", NOW, PARIS)
    assert "pregnant_or_breastfeeding" not in updated
    assert step.move is Move.SUMMARY


def test_changing_sex_from_male_to_female_asks_the_pregnancy_question() -> None:
    answers = eligible_answers("male")
    _updated, step = apply_answer(answers, "sex", "female", NOW, PARIS)
    assert step.move is Move.ASK
    assert step.question_id == "pregnant_or_breastfeeding"


def test_all_answered_is_the_summary() -> None:
    answers = eligible_answers("female")
    _, step = apply_answer(answers, "weight_kg", 81.5, NOW, PARIS)
    assert step.move is Move.SUMMARY
    assert step.evaluation.dose_cells == 163_000_000
    assert next_question(answers) is None


def test_after_an_answer_the_next_unanswered_question_is_asked() -> None:
    answers = eligible_answers()
    del answers["age"]
    del answers["weight_kg"]
    _, step = apply_answer(answers, "ward", "icu", NOW, PARIS)
    assert step.move is Move.ASK
    assert step.question_id in ("age", "weight_kg")
    # From the end, the flow comes back to the earlier unanswered question.
    without_age = eligible_answers()
    del without_age["age"]
    _, step = apply_answer(without_age, "weight_kg", 70.0, NOW, PARIS)
    assert step.move is Move.ASK
    assert step.question_id == "age"


def test_apply_answer_does_not_modify_the_given_answers() -> None:
    answers = eligible_answers("female")
    snapshot = dict(answers)
    apply_answer(answers, "sex", "male", NOW, PARIS)
    assert answers == snapshot
