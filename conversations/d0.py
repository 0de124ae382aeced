"""What was done at D0 is a fact (DESIGN.md "After day one the record stays true").

`/d0` records, in its transaction and audited, the weight used, the dose given, the clinician
who confirmed eligibility and the protocol version. They are kept as answer rows under their
own ids (`d0:weight_kg`, …) — append-only like every answer, never a question: `/correct` does
not reach them, so a later correction of the weight re-evaluates the *planned* dose but never
rewrites the dose given. A dose given more than 10 % away from 2 × 10⁶/kg of the (corrected)
current weight is a dose deviation. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from conversations.eligibility import dose_cells

D0_PREFIX: Final = "d0:"
WEIGHT: Final = D0_PREFIX + "weight_kg"
DOSE: Final = D0_PREFIX + "dose_cells"
CONFIRMED_BY: Final = D0_PREFIX + "confirmed_by"
PROTOCOL_VERSION: Final = D0_PREFIX + "protocol_version"
#: The facts' ids, in the order they are recorded and shown.
FACT_IDS: Final = (WEIGHT, DOSE, CONFIRMED_BY, PROTOCOL_VERSION)
#: More than this relative gap between the dose given and 2 × 10⁶/kg of the current weight.
DEVIATION_LIMIT: Final = 0.10


@dataclass(frozen=True)
class D0Facts:
    weight_kg: float | None
    dose_given_cells: int | None
    confirmed_by: int | None
    protocol_version: str | None

    def stored(self) -> dict[str, str]:
        """id → stored JSON text (the answer rows `/d0` writes)."""
        return {
            WEIGHT: json.dumps(self.weight_kg),
            DOSE: json.dumps(self.dose_given_cells),
            CONFIRMED_BY: json.dumps(self.confirmed_by),
            PROTOCOL_VERSION: json.dumps(self.protocol_version),
        }


def facts_at_d0(
    weight_kg: float | None, planned_dose: int | None, confirmed_by: int, protocol_version: str
) -> D0Facts:
    """The facts of an injection: the weight and the dose as they stood when it was given
    (the dose from the weight when none was planned)."""
    dose = planned_dose
    if dose is None and weight_kg is not None:
        dose = dose_cells(weight_kg)
    return D0Facts(weight_kg, dose, confirmed_by, protocol_version)


def stored_value(stored: str | None) -> object:
    """A stored answer's JSON text as its value, None when absent or unreadable."""
    if stored is None:
        return None
    try:
        value: object = json.loads(stored)
    except ValueError:
        return None
    return value


def read_facts(values: Mapping[str, str]) -> D0Facts | None:
    """The D0 facts among a screening's current stored values; None when none was recorded."""
    if not any(k in values for k in FACT_IDS):
        return None
    weight = stored_value(values.get(WEIGHT))
    dose = stored_value(values.get(DOSE))
    by = stored_value(values.get(CONFIRMED_BY))
    version = stored_value(values.get(PROTOCOL_VERSION))
    return D0Facts(
        float(weight) if isinstance(weight, int | float) and not isinstance(weight, bool) else None,
        int(dose) if isinstance(dose, int) and not isinstance(dose, bool) else None,
        int(by) if isinstance(by, int) and not isinstance(by, bool) else None,
        version if isinstance(version, str) else None,
    )


def dose_deviation(dose_given: int | None, weight_kg: float | None) -> float | None:
    """Relative gap of the dose given to 2 × 10⁶/kg of `weight_kg` (+0.04 = 4 % more); None
    when either is unknown."""
    if dose_given is None or weight_kg is None or weight_kg <= 0:
        return None
    expected = dose_cells(weight_kg)
    return dose_given / expected - 1


def expected_dose(weight_kg: float) -> int:
    """2 × 10⁶ cells per kg of `weight_kg`: the dose the protocol plans for that weight."""
    return dose_cells(weight_kg)


def is_dose_deviation(dose_given: int | None, weight_kg: float | None) -> bool:
    gap = dose_deviation(dose_given, weight_kg)
    return gap is not None and abs(gap) > DEVIATION_LIMIT + 1e-12
