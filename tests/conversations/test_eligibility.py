"""Eligibility rules of DESIGN.md "Clinical rules", each at and around its boundary."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations.eligibility import Outcome, dose_cells, evaluate
from tests.conversations.support import (
    ADMISSION,
    EXCLUDING_WHEN_FALSE,
    EXCLUDING_WHEN_TRUE,
    INDEX,
    NOW,
    PARIS,
    TRI_STATE,
    eligible_answers,
    local,
    utc,
)


def check(answers, now=NOW, **kwargs):
    return evaluate(answers, now, PARIS, **kwargs)


def assert_eligible(result) -> None:
    assert result.outcome is Outcome.ELIGIBLE, result
    assert result.failed == ()
    assert result.pending == ()
    assert result.missing == ()


def assert_fails_only(result, *ids: str) -> None:
    assert result.outcome is Outcome.NOT_ELIGIBLE, result
    assert list(result.failed) == sorted(ids)


# --- the baseline ----------------------------------------------------------------------------


@pytest.mark.parametrize("sex", ["female", "male"])
def test_complete_answer_set_meeting_every_criterion_is_eligible(sex: str) -> None:
    result = check(eligible_answers(sex))
    assert_eligible(result)
    assert result.dose_cells == 140_000_000
    assert result.d0_deadline == local(2026, 11, 23, 23, 59, 59)


# --- age ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "eligible"),
    [(0, False), (17, False), (18, True), (19, True), (74, True), (75, True), (76, False),
     (120, False)],
)  # fmt: skip
def test_age_must_be_between_18_and_75_inclusive(age: int, eligible: bool) -> None:
    result = check(eligible_answers(age=age))
    if eligible:
        assert_eligible(result)
    else:
        assert_fails_only(result, "age")


# --- admission delay ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "eligible"), [(0, True), (1, True), (9, True), (10, True), (11, False), (12, False)]
)
def test_admission_at_most_10_days_after_the_index_date(delay: int, eligible: bool) -> None:
    index = ADMISSION - dt.timedelta(days=delay)
    result = check(eligible_answers(index_date=index))
    if eligible:
        assert_eligible(result)
    else:
        assert_fails_only(result, "admission_date")


# --- body surface area -------------------------------------------------------------------------


@pytest.mark.parametrize("bsa", [10, 10.0, 10.1, 35, 100])
def test_bsa_of_10_percent_or_more_is_met(bsa: float) -> None:
    assert_eligible(check(eligible_answers(max_bsa_percent=bsa)))


@pytest.mark.parametrize("bsa", [0, 5, 9.9, 9.99])
def test_bsa_below_10_percent_is_pending_during_the_observation_period(bsa: float) -> None:
    result = check(eligible_answers(max_bsa_percent=bsa))
    assert result.outcome is Outcome.PENDING
    assert result.pending == ("max_bsa_percent",)
    assert result.failed == ()


def _late_admission(bsa: float) -> dict[str, object]:
    # Admitted 8 days after the index date: the D0 window (to 2026-11-29 23:59:59) is still
    # open on the last day of the BSA observation period (index + 10 = 2026-11-28).
    return eligible_answers(
        index_date=INDEX, admission_date=INDEX + dt.timedelta(days=8), max_bsa_percent=bsa
    )


def test_bsa_below_10_is_still_pending_on_the_last_day_of_observation() -> None:
    last_day = INDEX + dt.timedelta(days=10)
    for now in (
        local(last_day.year, last_day.month, last_day.day, 0, 0, 0),
        local(last_day.year, last_day.month, last_day.day, 23, 59, 59),
    ):
        result = check(_late_admission(9.9), now)
        assert result.outcome is Outcome.PENDING, now
        assert result.pending == ("max_bsa_percent",)


def test_bsa_below_10_fails_the_day_after_the_observation_period() -> None:
    day_after = INDEX + dt.timedelta(days=11)
    for now in (
        local(day_after.year, day_after.month, day_after.day, 0, 0, 0),
        local(day_after.year, day_after.month, day_after.day, 12, 0, 0),
    ):
        assert_fails_only(check(_late_admission(9.9), now), "max_bsa_percent")


def test_bsa_of_10_is_met_even_after_the_observation_period() -> None:
    assert_eligible(check(_late_admission(10), local(2026, 11, 29, 12)))


def test_bsa_observation_period_uses_the_local_date_of_a_utc_now() -> None:
    # 2026-11-28T23:30Z is already 2026-11-29 00:30 in Paris: the day after index + 10.
    assert_fails_only(check(_late_admission(9.9), utc(2026, 11, 28, 23, 30)), "max_bsa_percent")
    # 2026-11-28T22:59:59Z is 23:59:59 in Paris, still index + 10.
    result = check(_late_admission(9.9), utc(2026, 11, 28, 22, 59, 59))
    assert result.outcome is Outcome.PENDING


# --- yes / no criteria -------------------------------------------------------------------------


@pytest.mark.parametrize("question_id", EXCLUDING_WHEN_TRUE)
def test_yes_excludes(question_id: str) -> None:
    assert_fails_only(check(eligible_answers(**{question_id: True})), question_id)
    assert_eligible(check(eligible_answers(**{question_id: False})))


@pytest.mark.parametrize("question_id", EXCLUDING_WHEN_FALSE)
def test_no_excludes(question_id: str) -> None:
    assert_fails_only(check(eligible_answers(**{question_id: False})), question_id)
    assert_eligible(check(eligible_answers(**{question_id: True})))


# --- tri-state criteria ------------------------------------------------------------------------


@pytest.mark.parametrize("question_id", TRI_STATE)
def test_tri_state_yes_excludes(question_id: str) -> None:
    assert_fails_only(check(eligible_answers(**{question_id: "yes"})), question_id)


@pytest.mark.parametrize("question_id", TRI_STATE)
def test_tri_state_no_is_met(question_id: str) -> None:
    assert_eligible(check(eligible_answers(**{question_id: "no"})))


@pytest.mark.parametrize("question_id", TRI_STATE)
def test_tri_state_pending_is_pending(question_id: str) -> None:
    result = check(eligible_answers(**{question_id: "pending"}))
    assert result.outcome is Outcome.PENDING
    assert result.pending == (question_id,)
    assert result.failed == ()
    assert result.missing == ()


def test_sars_cov2_not_tested_is_met() -> None:
    assert_eligible(check(eligible_answers(sars_cov2_positive="not_tested")))


def test_several_pending_criteria_are_all_listed_sorted() -> None:
    result = check(
        eligible_answers(
            sars_cov2_positive="pending",
            hiv_positive="pending",
            consent="pending",
            max_bsa_percent=8,
            pregnant_or_breastfeeding="pending",
            active_hepatitis_b_or_c="pending",
        )
    )
    assert result.outcome is Outcome.PENDING
    assert list(result.pending) == [
        "active_hepatitis_b_or_c",
        "consent",
        "hiv_positive",
        "max_bsa_percent",
        "pregnant_or_breastfeeding",
        "sars_cov2_positive",
    ]


# --- consent, ward -----------------------------------------------------------------------------


def test_consent_refused_excludes() -> None:
    assert_fails_only(check(eligible_answers(consent="refused", consent_by=None)), "consent")


def test_consent_pending_is_pending() -> None:
    result = check(eligible_answers(consent="pending", consent_by=None))
    assert result.outcome is Outcome.PENDING
    assert result.pending == ("consent",)


@pytest.mark.parametrize("consent_by", [None, "patient", "support_person"])
def test_consent_by_is_optional(consent_by: str | None) -> None:
    assert_eligible(check(eligible_answers(consent="obtained", consent_by=consent_by)))


def test_ward_other_excludes() -> None:
    assert_fails_only(check(eligible_answers(ward="other")), "ward")


@pytest.mark.parametrize("ward", ["dermatology", "icu"])
def test_dermatology_or_icu_is_met(ward: str) -> None:
    assert_eligible(check(eligible_answers(ward=ward)))


# --- pregnancy and sex -------------------------------------------------------------------------


def test_pregnancy_is_not_required_for_men() -> None:
    answers = eligible_answers("male")
    assert "pregnant_or_breastfeeding" not in answers
    assert_eligible(check(answers))


def test_pregnancy_is_required_for_women() -> None:
    answers = eligible_answers("female", pregnant_or_breastfeeding=None)
    result = check(answers)
    assert result.outcome is Outcome.INCOMPLETE
    assert result.missing == ("pregnant_or_breastfeeding",)


def test_pregnancy_is_required_when_sex_is_unknown() -> None:
    answers = eligible_answers("female", pregnant_or_breastfeeding=None)
    del answers["sex"]
    result = check(answers)
    assert result.outcome is Outcome.INCOMPLETE
    assert list(result.missing) == ["pregnant_or_breastfeeding", "sex"]


def test_pregnancy_answer_is_enough_when_sex_is_unknown_but_sex_is_still_missing() -> None:
    answers = eligible_answers("female")
    del answers["sex"]
    result = check(answers)
    assert result.outcome is Outcome.INCOMPLETE
    assert result.missing == ("sex",)


# --- outcome precedence ------------------------------------------------------------------------


def test_every_failing_id_is_listed_sorted() -> None:
    answers = eligible_answers(
        ward="other",
        age=80,
        uncontrolled_epilepsy=True,
        consent="refused",
        consent_by=None,
        hiv_positive="yes",
        social_security=False,
        diagnosis_confirmed=False,
    )
    result = check(answers)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert list(result.failed) == [
        "age",
        "consent",
        "diagnosis_confirmed",
        "hiv_positive",
        "social_security",
        "uncontrolled_epilepsy",
        "ward",
    ]


def test_failed_beats_missing_and_pending() -> None:
    answers = eligible_answers(age=17, weight_kg=None, hiv_positive="pending")
    result = check(answers)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.failed == ("age",)
    assert result.dose_cells is None


def test_missing_beats_pending() -> None:
    answers = eligible_answers(weight_kg=None, hiv_positive="pending", ward=None)
    result = check(answers)
    assert result.outcome is Outcome.INCOMPLETE
    assert list(result.missing) == ["ward", "weight_kg"]
    assert result.dose_cells is None


def test_nothing_answered_is_incomplete_with_every_required_id() -> None:
    result = check({})
    assert result.outcome is Outcome.INCOMPLETE
    expected = [
        "active_hepatitis_b_or_c", "admission_date", "age", "compliance_concern", "consent",
        "decompensated_heart_failure", "deprived_of_liberty", "diagnosis_confirmed",
        "hiv_positive", "index_date", "malignancy_10y_or_metastasis", "max_bsa_percent",
        "other_interventional_trial", "pregnant_or_breastfeeding", "prior_allogeneic_bmt",
        "psychiatric_care_l1121_6", "sars_cov2_positive", "sex", "social_security",
        "tutorship_or_curatorship", "uncontrolled_epilepsy", "ward", "weight_kg",
    ]  # fmt: skip
    assert list(result.missing) == expected
    assert result.d0_deadline is None


@pytest.mark.parametrize("question_id", ["age", "weight_kg", "consent", "index_date", "ward"])
def test_a_single_missing_answer_is_incomplete(question_id: str) -> None:
    answers = eligible_answers(**{question_id: None})
    if question_id == "consent":
        answers.pop("consent_by")
    result = check(answers)
    assert result.outcome is Outcome.INCOMPLETE
    assert result.missing == (question_id,)


def test_pending_outcome_has_a_dose() -> None:
    result = check(eligible_answers(hiv_positive="pending", weight_kg=68))
    assert result.outcome is Outcome.PENDING
    assert result.dose_cells == 136_000_000


# --- dose --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "cells"),
    [
        (70, 140_000_000),
        (70.0, 140_000_000),
        (68, 136_000_000),
        (81.5, 163_000_000),
        (70.3, 140_600_000),
        (30, 60_000_000),
        (250, 500_000_000),
        (72.25, 144_500_000),
        (65.4321, 130_864_200),
    ],
)
def test_dose_is_two_million_cells_per_kg(weight: float, cells: int) -> None:
    assert dose_cells(weight) == cells
    assert isinstance(dose_cells(weight), int)
    result = check(eligible_answers(weight_kg=weight))
    assert result.dose_cells == cells


# --- D0 window ---------------------------------------------------------------------------------


def test_d0_deadline_is_end_of_the_third_day_after_admission() -> None:
    deadline = check(eligible_answers()).d0_deadline
    assert deadline == local(2026, 11, 23, 23, 59, 59)
    assert deadline.isoformat() == "2026-11-23T23:59:59+01:00"
    assert deadline.utcoffset() == dt.timedelta(hours=1)


def test_d0_window_not_failing_at_the_deadline_itself() -> None:
    assert_eligible(check(eligible_answers(), local(2026, 11, 23, 23, 59, 59)))


def test_d0_window_fails_at_midnight_after_the_deadline() -> None:
    assert_fails_only(check(eligible_answers(), local(2026, 11, 24, 0, 0, 0)), "d0_window")


def test_d0_window_fails_days_after_the_deadline_alongside_other_failures() -> None:
    result = check(eligible_answers(age=90), local(2026, 12, 5, 9))
    assert list(result.failed) == ["age", "d0_window"]


def test_d0_window_on_admission_day_is_open() -> None:
    assert_eligible(check(eligible_answers(), local(2026, 11, 20, 0, 0, 1)))


def test_d0_window_with_a_utc_now_that_is_already_the_next_local_day() -> None:
    # 23:30 UTC on the 23rd is 00:30 on the 24th in Paris (UTC+1 in November).
    assert_fails_only(check(eligible_answers(), utc(2026, 11, 23, 23, 30)), "d0_window")
    # 22:59:59 UTC is exactly the deadline: not yet past.
    assert_eligible(check(eligible_answers(), utc(2026, 11, 23, 22, 59, 59)))
    assert_fails_only(check(eligible_answers(), utc(2026, 11, 23, 23, 0, 0)), "d0_window")


def test_a_naive_now_is_local_time() -> None:
    assert_eligible(check(eligible_answers(), dt.datetime(2026, 11, 23, 23, 59, 59)))
    assert_fails_only(check(eligible_answers(), dt.datetime(2026, 11, 24, 0, 0)), "d0_window")


def test_injected_means_the_d0_window_cannot_fail() -> None:
    for now in (local(2026, 11, 24, 0, 0, 0), local(2027, 1, 15, 12)):
        result = check(eligible_answers(), now, injected=True)
        assert "d0_window" not in result.failed
        assert result.outcome is Outcome.ELIGIBLE


def test_injected_does_not_hide_other_failures() -> None:
    result = check(eligible_answers(ward="other"), local(2026, 12, 1), injected=True)
    assert list(result.failed) == ["ward"]


def test_no_deadline_without_admission_date() -> None:
    result = check(eligible_answers(admission_date=None))
    assert result.d0_deadline is None
    assert result.outcome is Outcome.INCOMPLETE
    assert result.missing == ("admission_date",)


@pytest.mark.parametrize(
    ("admission", "deadline_iso"),
    [
        # Winter time (UTC+1) and summer time (UTC+2).
        (dt.date(2026, 11, 20), "2026-11-23T23:59:59+01:00"),
        (dt.date(2026, 7, 1), "2026-07-04T23:59:59+02:00"),
        # Spring forward on Sunday 2026-03-29: the deadline falls after the change.
        (dt.date(2026, 3, 27), "2026-03-30T23:59:59+02:00"),
        (dt.date(2026, 3, 26), "2026-03-29T23:59:59+02:00"),
        (dt.date(2026, 3, 25), "2026-03-28T23:59:59+01:00"),
        # Fall back on Sunday 2026-10-25.
        (dt.date(2026, 10, 23), "2026-10-26T23:59:59+01:00"),
        (dt.date(2026, 10, 22), "2026-10-25T23:59:59+01:00"),
        (dt.date(2026, 10, 21), "2026-10-24T23:59:59+02:00"),
    ],
)
def test_d0_deadline_across_daylight_saving_changes(admission: dt.date, deadline_iso: str) -> None:
    answers = eligible_answers(
        index_date=admission - dt.timedelta(days=1), admission_date=admission
    )
    now = local(admission.year, admission.month, admission.day, 12)
    result = check(answers, now)
    expected = dt.datetime.fromisoformat(deadline_iso)
    assert result.d0_deadline == expected  # the same instant
    assert result.d0_deadline.utcoffset() == expected.utcoffset()  # the same local offset
    assert result.d0_deadline.astimezone(PARIS).time() == dt.time(23, 59, 59)


def test_d0_window_boundary_after_spring_forward() -> None:
    answers = eligible_answers(index_date=dt.date(2026, 3, 26), admission_date=dt.date(2026, 3, 27))
    # 2026-03-30T23:59:59+02:00 is 21:59:59 UTC.
    assert_eligible(check(answers, utc(2026, 3, 30, 21, 59, 59)))
    assert_fails_only(check(answers, utc(2026, 3, 30, 22, 0, 0)), "d0_window")


def test_d0_window_boundary_after_fall_back() -> None:
    answers = eligible_answers(
        index_date=dt.date(2026, 10, 22), admission_date=dt.date(2026, 10, 23)
    )
    # 2026-10-26T23:59:59+01:00 is 22:59:59 UTC.
    assert_eligible(check(answers, utc(2026, 10, 26, 22, 59, 59)))
    assert_fails_only(check(answers, utc(2026, 10, 26, 23, 0, 0)), "d0_window")
