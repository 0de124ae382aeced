"""SCORTEN values as typed: unrounded conversion, plausible ranges per unit (a unit slip is
asked about, never stored silently), units typed after the number (`120/min`)."""

from __future__ import annotations

import pytest

from conversations.answers import AnswerError
from conversations.scorten import (
    PLAUSIBLE,
    Unit,
    plausible,
    read_measure,
    reading_in,
    scorten,
    to_mmol_per_l,
)


def test_converted_glucose_is_compared_unrounded() -> None:
    """2.523 g/L × 5.55 = 14.00265 mmol/L: above 14, one point (it was rounded to 14.0)."""
    value = to_mmol_per_l("glucose", 2.523, Unit.G_L)
    assert value > 14
    assert scorten(30, 5, {"glucose": value}).points["glucose"] == 1
    reading = read_measure("glucose", "2,523", Unit.G_L)
    assert reading.value == pytest.approx(14.00265)
    assert scorten(30, 5, {"glucose": reading.value}).points["glucose"] == 1


@pytest.mark.parametrize(
    ("measure", "text", "shown", "other"),
    [("urea", "0,4", Unit.MMOL_L, Unit.G_L), ("glucose", "2,6", Unit.MMOL_L, Unit.G_L),
     ("urea", "40", Unit.G_L, Unit.MMOL_L), ("glucose", "14", Unit.G_L, Unit.MMOL_L)],
)  # fmt: skip
def test_implausible_in_the_unit_shown_but_plausible_in_the_other_asks(
    measure: str, text: str, shown: Unit, other: Unit
) -> None:
    reading = read_measure(measure, text, shown)
    assert reading.ask_unit is other


@pytest.mark.parametrize(
    ("measure", "text", "unit", "expected"),
    [("urea", "6,7", Unit.MMOL_L, 6.7), ("glucose", "5,5", Unit.MMOL_L, 5.5),
     ("urea", "0,4", Unit.G_L, 0.4 * 16.65), ("glucose", "1,2", Unit.G_L, 1.2 * 5.55),
     ("bicarbonate", "18", Unit.MMOL_L, 18), ("heart_rate", "120", Unit.PER_MIN, 120)],
)  # fmt: skip
def test_plausible_values_are_read_in_the_unit_shown(
    measure: str, text: str, unit: Unit, expected: float
) -> None:
    reading = read_measure(measure, text, unit)
    assert reading.ask_unit is None
    assert reading.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("measure", "text", "expected"),
    [("heart_rate", "120/min", 120), ("heart_rate", "120 /min", 120), ("heart_rate", "95 bpm", 95),
     ("glucose", "2,6 g/L", 2.6 * 5.55), ("urea", "12 mmol/L", 12)],
)  # fmt: skip
def test_a_unit_typed_after_the_number_is_understood(
    measure: str, text: str, expected: float
) -> None:
    shown = Unit.PER_MIN if measure == "heart_rate" else Unit.MMOL_L
    reading = read_measure(measure, text, shown)
    assert reading.ask_unit is None
    assert reading.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("measure", "text", "code"),
    [("heart_rate", "120 g/L", "wrong_unit"), ("bicarbonate", "2 g/L", "wrong_unit"),
     ("heart_rate", "১২০", "non_ascii_digits"), ("urea", "abc", "not_a_number"),
     ("glucose", "500", "out_of_range"), ("heart_rate", "1e3", "not_a_number")],
)  # fmt: skip
def test_what_cannot_be_a_value_is_refused(measure: str, text: str, code: str) -> None:
    shown = Unit.PER_MIN if measure == "heart_rate" else Unit.MMOL_L
    with pytest.raises(AnswerError) as caught:
        read_measure(measure, text, shown)
    assert caught.value.code == code


def test_a_unit_chosen_with_a_button_is_taken_even_if_unusual() -> None:
    """The clinician said 2.6 was mmol/L (a true hypoglycaemia): stored as such."""
    assert reading_in("glucose", 2.6, Unit.MMOL_L).value == pytest.approx(2.6)
    with pytest.raises(AnswerError):
        reading_in("glucose", 2.6, Unit.PER_MIN)


def test_plausible_ranges_cover_both_units_of_each_measure() -> None:
    for (measure, unit), (low, high) in PLAUSIBLE.items():
        assert low < high
        assert plausible(measure, low, unit) and plausible(measure, high, unit)
        assert not plausible(measure, high * 2, unit)
