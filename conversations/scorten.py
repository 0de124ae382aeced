"""Severity at inclusion: SCORTEN (Bastuji-Garin 2000) and the SJS / overlap / TEN class.

One point each: age ≥ 40; malignancy (0 for included patients: cancer within 10 years
excludes); heart rate ≥ 120 /min; urea > 10 mmol/L; detached BSA > 10 %; bicarbonate
< 20 mmol/L; glucose > 14 mmol/L. A missing value is reported as missing, never counted as 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from conversations.answers import AnswerError, has_non_ascii_digits, normalise


class Unit(StrEnum):
    MMOL_L = "mmol/L"
    G_L = "g/L"
    PER_MIN = "/min"


@dataclass(frozen=True)
class Measure:
    id: str
    units: tuple[Unit, ...]
    minimum: float  # plausible range, in the first unit
    maximum: float


#: The four values the bot asks after an eligible or pending screening.
MEASURES: Final[tuple[Measure, ...]] = (
    Measure("heart_rate", (Unit.PER_MIN,), 20, 300),
    Measure("urea", (Unit.MMOL_L, Unit.G_L), 0.1, 150),
    Measure("bicarbonate", (Unit.MMOL_L,), 1, 60),
    Measure("glucose", (Unit.MMOL_L, Unit.G_L), 0.5, 100),
)
MEASURE_BY_ID: Final = {m.id: m for m in MEASURES}
MEASURE_IDS: Final = tuple(m.id for m in MEASURES)

#: g/L → mmol/L (molar masses: urea 60.06 g/mol, glucose 180.16 g/mol).
G_L_TO_MMOL_L: Final = {"urea": 16.65, "glucose": 5.55}


def to_mmol_per_l(measure_id: str, value: float, unit: Unit) -> float:
    """Convert a lab value to the unit SCORTEN uses (mmol/L; heart rate unchanged). Never
    rounded: 2.523 g/L of glucose is 14.0027 mmol/L, above the > 14 threshold."""
    if unit is Unit.G_L:
        return value * G_L_TO_MMOL_L[measure_id]
    return value


#: Decimals a value is measured with, in the unit SCORTEN uses (issue 25): what the exports
#: and the views show, so that 0,35 g/L of urea reads 5.83 mmol/L, not 5.827499999999999.
#: The score itself uses the unrounded value (a threshold is never crossed by rounding).
MEASURED_DECIMALS: Final = {"heart_rate": 0, "urea": 2, "bicarbonate": 1, "glucose": 2}


def as_measured(measure_id: str, value: float) -> float | int:
    """`value` (mmol/L or /min) rounded to the precision it was measured with."""
    decimals = MEASURED_DECIMALS.get(measure_id, 2)
    rounded = round(value, decimals)
    return int(rounded) if decimals == 0 else rounded


#: Values a lab plausibly reports, per measure and unit (as typed, before conversion). A value
#: outside its unit's range but inside the other unit's is a unit slip (urea 0,4 "mmol/L" is
#: 0,4 g/L): the bot asks which unit was meant instead of storing it.
PLAUSIBLE: Final[dict[tuple[str, Unit], tuple[float, float]]] = {
    ("heart_rate", Unit.PER_MIN): (30, 250),
    ("urea", Unit.MMOL_L): (1.0, 100),
    ("urea", Unit.G_L): (0.06, 6.0),
    ("bicarbonate", Unit.MMOL_L): (5, 45),
    ("glucose", Unit.MMOL_L): (3.0, 60),
    ("glucose", Unit.G_L): (0.5, 11),
}

#: Unit words a clinician may type after the number.
UNIT_WORDS: Final[dict[Unit, frozenset[str]]] = {
    Unit.PER_MIN: frozenset({"/min", "min", "/mn", "mn", "bpm", "par min", "per min", "/ min"}),
    Unit.MMOL_L: frozenset({"mmol/l", "mmol", "mm", "mmol / l"}),
    Unit.G_L: frozenset({"g/l", "g", "g / l"}),
}

_READING = re.compile(r"^(?P<number>[0-9]{1,6}(?:[.,][0-9]{1,6})?)\s*(?P<unit>[^0-9].*)?$")


def plausible(measure_id: str, number: float, unit: Unit) -> bool:
    low, high = PLAUSIBLE[(measure_id, unit)]
    return low <= number <= high


@dataclass(frozen=True)
class Reading:
    """A typed SCORTEN value: the number as typed, the unit it was read in, the value SCORTEN
    uses (mmol/L or /min, unrounded), and `ask_unit` when the number is implausible in `unit`
    but plausible in that other unit (then nothing is stored until the clinician says)."""

    measure: str
    number: float
    unit: Unit
    value: float
    ask_unit: Unit | None = None


def reading_in(measure_id: str, number: float, unit: Unit) -> Reading:
    """`number` in `unit`, said explicitly (typed with its unit, or a unit button): only the
    hard limits apply."""
    if unit not in MEASURE_BY_ID[measure_id].units:
        raise AnswerError(measure_id, "wrong_unit", typed=unit.value,
                          expected=MEASURE_BY_ID[measure_id].units[0].value)  # fmt: skip
    value = check_measure(measure_id, to_mmol_per_l(measure_id, number, unit))
    return Reading(measure_id, number, unit, value)


def read_measure(measure_id: str, text: str, unit: Unit) -> Reading:
    """Parse a typed value for `measure_id` shown in `unit` (decimal comma, ASCII digits, an
    optional unit such as `120/min` or `2,6 g/L`)."""
    cleaned = normalise(text)
    if has_non_ascii_digits(cleaned):
        raise AnswerError(measure_id, "non_ascii_digits")
    match = _READING.match(cleaned)
    if not match:
        raise AnswerError(measure_id, "not_a_number")
    number = float(match["number"].replace(",", "."))
    typed_unit = (match["unit"] or "").strip().rstrip(".")
    measure = MEASURE_BY_ID[measure_id]
    if typed_unit:
        said = next((u for u in Unit if typed_unit in UNIT_WORDS[u]), None)
        if said is None:  # "1e3", "12 abc": not a value with a unit
            raise AnswerError(measure_id, "not_a_number")
        if said not in measure.units:
            raise AnswerError(measure_id, "wrong_unit", typed=typed_unit, expected=unit.value)
        return reading_in(measure_id, number, said)
    if not plausible(measure_id, number, unit):
        for other in measure.units:
            if other is not unit and plausible(measure_id, number, other):
                value = to_mmol_per_l(measure_id, number, unit)
                return Reading(measure_id, number, unit, value, ask_unit=other)
    return reading_in(measure_id, number, unit)


def check_measure(measure_id: str, value: float) -> float:
    """Plausibility check after conversion (an urea of 500 mmol/L is a typo)."""
    measure = MEASURE_BY_ID[measure_id]
    if not math.isfinite(value) or not (measure.minimum <= value <= measure.maximum):
        raise AnswerError(
            measure_id,
            "out_of_range",
            minimum=f"{measure.minimum:g}",
            maximum=f"{measure.maximum:g}",
        )
    return value


@dataclass(frozen=True)
class Scorten:
    score: int  # points from the known values
    missing: tuple[str, ...]  # values not available
    points: dict[str, int]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def predicted_mortality(self) -> float | None:
        """Only for a complete score: a partial one would understate the risk."""
        return mortality(self.score) if self.complete else None


def mortality(score: int) -> float:
    """Predicted mortality = 1 / (1 + e^−(−4.448 + 1.237 × score))."""
    return 1.0 / (1.0 + math.exp(-(-4.448 + 1.237 * score)))


def scorten(
    age: int | None,
    bsa_percent: float | None,
    measures: Mapping[str, float | None],
) -> Scorten:
    """Score from age, BSA and the measures (in mmol/L and /min; None = not available)."""
    points: dict[str, int] = {"malignancy": 0}  # excluded patients only have cancer
    missing: list[str] = []

    def point(name: str, value: float | None, condition: bool) -> None:
        if value is None:
            missing.append(name)
        else:
            points[name] = int(condition)

    point("age", age, age is not None and age >= 40)
    point("bsa", bsa_percent, bsa_percent is not None and bsa_percent > 10)
    hr = measures.get("heart_rate")
    point("heart_rate", hr, hr is not None and hr >= 120)
    urea = measures.get("urea")
    point("urea", urea, urea is not None and urea > 10)
    bicarbonate = measures.get("bicarbonate")
    point("bicarbonate", bicarbonate, bicarbonate is not None and bicarbonate < 20)
    glucose = measures.get("glucose")
    point("glucose", glucose, glucose is not None and glucose > 14)
    return Scorten(sum(points.values()), tuple(missing), points)


class Classification(StrEnum):
    SJS = "sjs"
    OVERLAP = "overlap"
    TEN = "ten"


def classify(max_bsa_percent: float | None) -> Classification | None:
    """< 10 % SJS, 10–30 % SJS/TEN overlap, > 30 % TEN."""
    if max_bsa_percent is None:
        return None
    if max_bsa_percent < 10:
        return Classification.SJS
    if max_bsa_percent <= 30:
        return Classification.OVERLAP
    return Classification.TEN
