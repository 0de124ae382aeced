"""Properties of the eligibility rules over generated answer sets (DESIGN.md "Clinical rules").

The answers are generated within the valid domain (types and ranges of the table, admission
not before the index date, dates not after today), with any subset left unanswered, at an
arbitrary *now*. An independent reading of DESIGN.md (`expected`) is compared with `evaluate`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conversations.eligibility import Outcome, dose_cells, evaluate
from conversations.windows import d0_deadline
from tests.conversations.support import (
    ALL_IDS,
    EXCLUDING_WHEN_FALSE,
    EXCLUDING_WHEN_TRUE,
    PARIS,
    TRI_STATE,
    UTC,
)

SETTINGS = settings(max_examples=100, deadline=None)
#: "pending" now and then among the answers that do not exclude.
MOSTLY_NO = ["no", "no", "no", "no", "no", "pending"]


@st.composite
def screenings(draw: st.DrawFn, complete: bool | None = None) -> tuple[dict, dt.datetime]:
    """(answers, now): valid values, some possibly unanswered, now at or after admission."""
    index = draw(st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)))
    admission = index + dt.timedelta(days=draw(st.integers(0, 14)))
    # now: from the admission day to a few weeks later, any time of day, in UTC or local.
    # Mostly inside the D0 window, sometimes well after it.
    horizon = draw(st.sampled_from([4, 4, 4, 25]))
    local_now = dt.datetime.combine(admission, dt.time()) + dt.timedelta(
        seconds=draw(st.integers(0, horizon * 86400))
    )
    now = local_now.replace(tzinfo=PARIS)
    if draw(st.booleans()):
        now = now.astimezone(UTC)
    # Bias towards values that meet the criteria, so eligible and pending outcomes are common.
    meets = draw(st.sampled_from([0.8, 0.95, 1.0]))

    def choose(good, bad):
        return draw(st.sampled_from(good)) if draw(st.floats(0, 1)) < meets else draw(bad)

    answers: dict[str, object] = {
        "age": choose([18, 40, 58, 75], st.integers(0, 120)),
        "sex": draw(st.sampled_from(["female", "male"])),
        "index_date": index,
        "admission_date": admission,
        "diagnosis_confirmed": choose([True], st.booleans()),
        "ward": choose(["dermatology", "icu"], st.sampled_from(["dermatology", "icu", "other"])),
        "max_bsa_percent": choose([10, 35.5, 100, 100, 9.9], st.floats(0, 100)),
        "pregnant_or_breastfeeding": choose(MOSTLY_NO, st.sampled_from(["yes", "no", "pending"])),
        "hiv_positive": choose(MOSTLY_NO, st.sampled_from(["yes", "no", "pending"])),
        "active_hepatitis_b_or_c": choose(MOSTLY_NO, st.sampled_from(["yes", "no", "pending"])),
        "sars_cov2_positive": choose(
            [*MOSTLY_NO, "not_tested"], st.sampled_from(["yes", "no", "not_tested", "pending"])
        ),
        "consent": choose(
            ["obtained"] * 4 + ["pending"], st.sampled_from(["obtained", "pending", "refused"])
        ),
        "consent_by": draw(st.sampled_from(["patient", "support_person"])),
        "weight_kg": draw(st.floats(30, 250)),
    }
    for question_id in EXCLUDING_WHEN_TRUE:
        answers[question_id] = choose([False], st.booleans())
    for question_id in EXCLUDING_WHEN_FALSE:
        answers[question_id] = choose([True], st.booleans())
    assert set(answers) == set(ALL_IDS)
    if answers["sex"] == "male" and draw(st.booleans()):
        del answers["pregnant_or_breastfeeding"]
    if answers["consent"] != "obtained" and draw(st.booleans()):
        del answers["consent_by"]
    if complete is not True:
        dropped = draw(
            st.sets(st.sampled_from(ALL_IDS), min_size=1 if complete is False else 0, max_size=4)
        )
        for question_id in dropped:
            answers.pop(question_id, None)
    return answers, now


def expected(answers: dict, now: dt.datetime) -> tuple[str, list[str], list[str], list[str]]:
    """DESIGN.md's rules, written out independently: (status, failed, pending, missing)."""
    today = now.astimezone(PARIS).date()
    failed, pending, missing = [], [], []
    male = answers.get("sex") == "male"
    required = [q for q in ALL_IDS if q != "consent_by"]
    if male:
        required.remove("pregnant_or_breastfeeding")
    missing = [q for q in required if q not in answers]

    age = answers.get("age")
    if age is not None and not 18 <= age <= 75:
        failed.append("age")
    index, admission = answers.get("index_date"), answers.get("admission_date")
    if index and admission and (admission - index).days > 10:
        failed.append("admission_date")
    if answers.get("ward") == "other":
        failed.append("ward")
    bsa = answers.get("max_bsa_percent")
    if bsa is not None and bsa < 10:
        if index is None or today <= index + dt.timedelta(days=10):
            pending.append("max_bsa_percent")
        else:
            failed.append("max_bsa_percent")
    for q in EXCLUDING_WHEN_TRUE:
        if answers.get(q) is True:
            failed.append(q)
    for q in EXCLUDING_WHEN_FALSE:
        if answers.get(q) is False:
            failed.append(q)
    for q in TRI_STATE:
        if q == "pregnant_or_breastfeeding" and male:
            continue
        if answers.get(q) == "yes":
            failed.append(q)
        elif answers.get(q) == "pending":
            pending.append(q)
    if answers.get("consent") == "refused":
        failed.append("consent")
    elif answers.get("consent") == "pending":
        pending.append("consent")
    if admission is not None:
        deadline = dt.datetime.combine(
            admission + dt.timedelta(days=3), dt.time(23, 59, 59), tzinfo=PARIS
        )
        if now > deadline:
            failed.append("d0_window")
    if failed:
        return "not_eligible", sorted(failed), [], []
    if missing:
        return "incomplete", [], [], sorted(missing)
    if pending:
        return "pending", [], sorted(pending), []
    return "eligible", [], [], []


def _is_pending_by_design(answers: dict, now: dt.datetime) -> bool:
    return bool(expected(answers, now)[2]) or any(
        answers.get(q) == "pending" for q in (*TRI_STATE, "consent")
        if not (q == "pregnant_or_breastfeeding" and answers.get("sex") == "male")
    )  # fmt: skip


@SETTINGS
@given(screenings())
def test_evaluation_matches_the_rules_of_design(screening: tuple[dict, dt.datetime]) -> None:
    answers, now = screening
    result = evaluate(answers, now, PARIS)
    status, failed, pending, missing = expected(answers, now)
    assert result.outcome.value == status
    if status == "not_eligible":
        assert list(result.failed) == failed
    if status == "incomplete":
        assert list(result.missing) == missing
    if status == "pending":
        assert list(result.pending) == pending


@SETTINGS
@given(screenings(complete=False))
def test_never_eligible_while_a_required_answer_is_missing(screening) -> None:
    answers, now = screening
    required = [q for q in ALL_IDS if q != "consent_by"]
    if answers.get("sex") == "male":
        required.remove("pregnant_or_breastfeeding")
    assume(any(q not in answers for q in required))
    result = evaluate(answers, now, PARIS)
    assert result.outcome is not Outcome.ELIGIBLE
    assert result.outcome in (Outcome.INCOMPLETE, Outcome.NOT_ELIGIBLE)


@SETTINGS
@given(screenings(complete=True))
def test_never_eligible_while_a_rule_is_pending(screening) -> None:
    answers, now = screening
    result = evaluate(answers, now, PARIS)
    if any(
        answers.get(q) == "pending"
        for q in ("hiv_positive", "active_hepatitis_b_or_c", "sars_cov2_positive", "consent")
    ):
        assert result.outcome is not Outcome.ELIGIBLE
    if answers.get("sex") != "male" and answers.get("pregnant_or_breastfeeding") == "pending":
        assert result.outcome is not Outcome.ELIGIBLE
    if answers["max_bsa_percent"] < 10:
        assert result.outcome is not Outcome.ELIGIBLE


@SETTINGS
@given(screenings())
def test_eligible_means_nothing_failed_pending_or_missing_and_a_dose(screening) -> None:
    answers, now = screening
    result = evaluate(answers, now, PARIS)
    if result.outcome is Outcome.ELIGIBLE:
        assert result.failed == result.pending == result.missing == ()
        assert not _is_pending_by_design(answers, now)
        assert result.dose_cells == round(Decimal(repr(answers["weight_kg"])) * 2_000_000)
        assert result.d0_deadline is not None
        assert now <= result.d0_deadline


@SETTINGS
@given(screenings())
def test_the_list_behind_the_outcome_is_non_empty_and_sorted(screening) -> None:
    answers, now = screening
    result = evaluate(answers, now, PARIS)
    behind = {
        Outcome.NOT_ELIGIBLE: result.failed,
        Outcome.INCOMPLETE: result.missing,
        Outcome.PENDING: result.pending,
        Outcome.ELIGIBLE: (),
    }[result.outcome]
    assert list(behind) == sorted(set(behind))
    assert (result.outcome is Outcome.ELIGIBLE) == (not behind)
    if result.outcome in (Outcome.NOT_ELIGIBLE, Outcome.INCOMPLETE):
        assert result.dose_cells is None


@settings(max_examples=200, deadline=None)
@given(st.floats(30, 250), st.floats(30, 250))
def test_dose_is_non_decreasing_in_weight(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert dose_cells(low) <= dose_cells(high)


@settings(max_examples=200, deadline=None)
@given(st.floats(30, 250))
def test_dose_is_two_million_per_kg_rounded_to_a_whole_cell(weight: float) -> None:
    cells = dose_cells(weight)
    assert isinstance(cells, int)
    assert abs(cells - weight * 2_000_000) <= 0.5 + 1e-6


@settings(max_examples=200, deadline=None)
@given(st.integers(3000, 25000).map(lambda hundredths: hundredths / 100))
def test_dose_for_weights_as_typed_is_exact(weight: float) -> None:
    # A weight typed with up to two decimals gives an exact whole number of cells.
    assert dose_cells(weight) == int(Decimal(str(weight)) * 2_000_000)


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)))
def test_deadline_is_always_23_59_59_local_on_admission_plus_3(admission: dt.date) -> None:
    deadline = d0_deadline(admission, PARIS)
    local = deadline.astimezone(PARIS)
    assert local.time() == dt.time(23, 59, 59)
    assert local.date() == admission + dt.timedelta(days=3)
    assert deadline.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))
    # Through evaluate as well: the deadline reported with the outcome.
    result = evaluate({"admission_date": admission}, local - dt.timedelta(days=1), PARIS)
    assert result.d0_deadline == deadline
    # One second later the window is closed.
    later = evaluate({"admission_date": admission}, deadline + dt.timedelta(seconds=1), PARIS)
    assert "d0_window" in later.failed
    at = evaluate({"admission_date": admission}, deadline, PARIS)
    assert "d0_window" not in at.failed
