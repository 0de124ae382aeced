"""SCORTEN and classification (DESIGN.md "Severity at inclusion (SCORTEN) and classification")."""

from __future__ import annotations

import pytest

from conversations.scorten import Classification, Unit, classify, mortality, scorten, to_mmol_per_l

#: Values that score no point at all.
LOW = {"heart_rate": 80, "urea": 5.0, "bicarbonate": 25.0, "glucose": 6.0}


@pytest.mark.parametrize(
    ("score", "percent"),
    [(0, 1.2), (1, 3.9), (2, 12.2), (3, 32.4), (4, 62.2), (5, 85.0)],
)
def test_predicted_mortality(score: int, percent: float) -> None:
    assert mortality(score) * 100 == pytest.approx(percent, abs=0.1)


def test_mortality_increases_with_the_score() -> None:
    values = [mortality(score) for score in range(8)]
    assert values == sorted(values)
    assert all(0 < value < 1 for value in values)


def test_no_point_at_all() -> None:
    result = scorten(39, 10, LOW)
    assert result.score == 0
    assert result.missing == ()
    assert result.predicted_mortality == pytest.approx(mortality(0))
    assert result.predicted_mortality * 100 == pytest.approx(1.2, abs=0.1)


def test_every_point() -> None:
    result = scorten(70, 60, {"heart_rate": 130, "urea": 15, "bicarbonate": 15, "glucose": 20})
    assert result.score == 6  # malignancy is 0 for included patients
    assert result.predicted_mortality == pytest.approx(mortality(6))


@pytest.mark.parametrize(
    ("age", "bsa", "measures", "score"),
    [
        # age ≥ 40
        (39, 10, {}, 0),
        (40, 10, {}, 1),
        (41, 10, {}, 1),
        # detached BSA > 10 %
        (18, 10.0, {}, 0),
        (18, 10.1, {}, 1),
        # heart rate ≥ 120
        (18, 10, {"heart_rate": 119}, 0),
        (18, 10, {"heart_rate": 120}, 1),
        # urea > 10 mmol/L
        (18, 10, {"urea": 10}, 0),
        (18, 10, {"urea": 10.01}, 1),
        # bicarbonate < 20 mmol/L
        (18, 10, {"bicarbonate": 20}, 0),
        (18, 10, {"bicarbonate": 19.9}, 1),
        # glucose > 14 mmol/L
        (18, 10, {"glucose": 14}, 0),
        (18, 10, {"glucose": 14.1}, 1),
    ],
)
def test_point_thresholds(age: int, bsa: float, measures: dict, score: int) -> None:
    result = scorten(age, bsa, {**LOW, **measures})
    assert result.score == score
    assert result.missing == ()


def test_three_points_is_32_percent() -> None:
    result = scorten(45, 40, {**LOW, "heart_rate": 125})
    assert result.score == 3
    assert result.predicted_mortality * 100 == pytest.approx(32.4, abs=0.1)


def test_five_points_is_85_percent() -> None:
    result = scorten(45, 40, {"heart_rate": 125, "urea": 12, "bicarbonate": 18, "glucose": 5})
    assert result.score == 5
    assert result.predicted_mortality * 100 == pytest.approx(85.0, abs=0.1)


@pytest.mark.parametrize("missing", ["heart_rate", "urea", "bicarbonate", "glucose"])
def test_a_missing_measure_is_listed_and_no_probability_is_given(missing: str) -> None:
    measures = {**LOW, missing: None}
    result = scorten(45, 40, measures)
    assert missing in " ".join(result.missing)
    assert len(result.missing) == 1
    assert result.predicted_mortality is None


def test_an_absent_measure_is_missing_too() -> None:
    measures = dict(LOW)
    del measures["glucose"]
    result = scorten(45, 40, measures)
    assert len(result.missing) == 1
    assert "glucose" in result.missing[0]
    assert result.predicted_mortality is None


def test_all_measures_missing_are_all_listed_and_not_counted_as_zero() -> None:
    result = scorten(45, 40, {})
    assert len(result.missing) == 4
    assert result.predicted_mortality is None
    # What is known still counts: age and BSA give 2 points.
    assert result.score == 2


def test_missing_age_or_bsa_is_listed() -> None:
    result = scorten(None, None, LOW)
    assert len(result.missing) == 2
    assert result.predicted_mortality is None


@pytest.mark.parametrize(
    ("measure", "grams_per_litre", "mmol_per_litre"),
    [
        ("urea", 0.5, 0.5 * 16.65),
        ("urea", 0.6, 9.99),
        ("urea", 0.61, 0.61 * 16.65),
        ("urea", 1.2, 1.2 * 16.65),
        ("glucose", 1.0, 5.55),
        ("glucose", 2.5, 2.5 * 5.55),
        ("glucose", 2.6, 2.6 * 5.55),
    ],
)
def test_grams_per_litre_are_converted(
    measure: str, grams_per_litre: float, mmol_per_litre: float
) -> None:
    assert to_mmol_per_l(measure, grams_per_litre, Unit.G_L) == pytest.approx(
        mmol_per_litre, abs=0.01
    )


@pytest.mark.parametrize("measure", ["urea", "glucose", "bicarbonate"])
def test_millimoles_are_unchanged(measure: str) -> None:
    assert to_mmol_per_l(measure, 12.3, Unit.MMOL_L) == pytest.approx(12.3)


def test_heart_rate_is_unchanged() -> None:
    assert to_mmol_per_l("heart_rate", 118, Unit.PER_MIN) == 118


def test_converted_values_score_like_millimoles() -> None:
    # 0.6 g/L urea = 9.99 mmol/L: no point; 0.61 g/L = 10.16 mmol/L: one point.
    # 2.5 g/L glucose = 13.9 mmol/L: no point; 2.6 g/L = 14.4 mmol/L: one point.
    def score(urea_g_l: float, glucose_g_l: float) -> int:
        measures = {
            "heart_rate": 80,
            "bicarbonate": 25,
            "urea": to_mmol_per_l("urea", urea_g_l, Unit.G_L),
            "glucose": to_mmol_per_l("glucose", glucose_g_l, Unit.G_L),
        }
        return scorten(18, 5, measures).score

    assert score(0.6, 2.5) == 0
    assert score(0.61, 2.5) == 1
    assert score(0.6, 2.6) == 1
    assert score(0.61, 2.6) == 2


@pytest.mark.parametrize(
    ("bsa", "expected"),
    [
        (0, Classification.SJS),
        (5, Classification.SJS),
        (9.9, Classification.SJS),
        (10, Classification.OVERLAP),
        (20, Classification.OVERLAP),
        (30, Classification.OVERLAP),
        (30.1, Classification.TEN),
        (100, Classification.TEN),
    ],
)
def test_classification_by_highest_detached_bsa(bsa: float, expected: Classification) -> None:
    assert classify(bsa) is expected


def test_no_classification_without_bsa() -> None:
    assert classify(None) is None
