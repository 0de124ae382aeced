"""The CONSORT / SEAR counts of the screening log, against hand-counted fixtures: every patient
in exactly one final box, re-screens counted once, a patient failing several criteria counted
once in "criteria not met" and once under each criterion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations import consort

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Row:
    number: str
    sequence: int
    status: str = "screened"
    outcome: str | None = "eligible"
    reasons: tuple[str, ...] = ()
    rescreen_of: str | None = None
    injected_at: dt.datetime | None = None
    site: str = "HMN"


def row(sequence: int, **fields: object) -> Row:
    return Row(f"HMN-{sequence:03d}", sequence, **fields)  # type: ignore[arg-type]


#: Hand-counted: 13 screenings, 12 patients (HMN-003 re-screens HMN-002).
TRIAL = [
    row(1),  # eligible, awaiting D0, consent obtained
    row(2, outcome="not_eligible", reasons=("age", "ward")),  # → re-screened as HMN-003
    row(
        3, outcome="pending", reasons=("consent",), rescreen_of="HMN-002"
    ),  # eligible, consent pending
    row(4, outcome="pending", reasons=("hiv_positive",)),  # not yet eligible
    row(5, status="injected", injected_at=T0),
    row(6, status="injected", injected_at=T0),
    row(7, status="withdrawn", outcome="eligible"),
    row(8, status="window_missed", outcome="eligible"),
    row(9, status="abandoned", outcome=None),
    row(10, status="in_screening", outcome=None),
    row(11, outcome="not_eligible", reasons=("consent",)),  # consent refused
    row(12, outcome="not_eligible", reasons=("age",)),
    row(13, outcome="not_eligible", reasons=("consent", "d0_window")),  # a criterion: not met
]
CONSENT = {
    "HMN-001": "obtained",
    "HMN-003": "pending",
    "HMN-004": "obtained",
    "HMN-005": "obtained",
    "HMN-006": "obtained",
    "HMN-007": "obtained",
    "HMN-008": "obtained",
    "HMN-011": "refused",
    "HMN-013": "refused",
}


def test_hand_counted_trial() -> None:
    counts = consort.consort(TRIAL, CONSENT)
    assert counts.boxes == {
        "injected": 2,  # 5, 6
        "criteria_not_met": 2,  # 12, 13
        "consent_refused": 1,  # 11
        "window_missed": 1,  # 8
        "withdrawn": 1,  # 7
        "abandoned": 1,  # 9
        "in_progress": 4,  # 1 (awaiting D0), 2→3 (pending consent), 4 (pending HIV), 10
    }
    assert sum(counts.boxes.values()) == counts.screened == 12
    assert counts.in_progress == {"in_screening": 1, "pending": 2, "awaiting_d0": 1}
    assert counts.criteria == {"age": 1, "d0_window": 1}  # 2's reasons are superseded by 3
    assert counts.withdrawn_after == {"eligible": 1}
    assert counts.stages == {
        "screened": 12,
        # 1, 3 (consent alone pending), 5, 6, 7, 8, 11 (refused consent only)
        "eligible": 7,
        "consent_discussed": 7,
        "consented": 5,  # 1, 5, 6, 7 (withdrawn later), 8
        "injected": 2,
    }
    assert counts.box_of["HMN-002"] == "in_progress"  # the patient is HMN-002 + HMN-003


def test_an_empty_trial() -> None:
    counts = consort.consort([])
    assert counts.screened == 0 and set(counts.boxes.values()) == {0}


STATUSES = ("in_screening", "screened", "injected", "withdrawn", "window_missed", "abandoned")
OUTCOMES = (None, "eligible", "pending", "not_eligible", "incomplete")
REASONS = ("age", "ward", "consent", "hiv_positive", "d0_window")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(STATUSES),
            st.sampled_from(OUTCOMES),
            st.lists(st.sampled_from(REASONS), max_size=3, unique=True),
            st.integers(min_value=0, max_value=30),
        ),
        max_size=30,
    )
)
def test_every_patient_is_in_exactly_one_final_box(
    drawn: list[tuple[str, str | None, list[str], int]],
) -> None:
    rows = [
        row(i, status=status, outcome=outcome, reasons=tuple(reasons),
            rescreen_of=f"HMN-{parent:03d}" if parent and parent < i else None,
            injected_at=T0 if status == "injected" else None)
        for i, (status, outcome, reasons, parent) in enumerate(drawn, start=1)
    ]  # fmt: skip
    counts = consort.consort(rows)
    assert sum(counts.boxes.values()) == counts.screened == len(counts.box_of)
    assert sum(counts.in_progress.values()) == counts.boxes["in_progress"]
    stages = [counts.stages[s] for s in consort.STAGES]
    assert stages == sorted(stages, reverse=True)  # a funnel never widens
    assert counts.stages["injected"] == counts.boxes["injected"]


def test_d30_mortality_counts_deaths_against_complete_scores_only() -> None:
    patients = [("dead", 0.324), ("alive", 0.012), ("dead", None), ("unknown", 0.85), (None, 0.5)]
    result = consort.d30_mortality(patients)
    assert result is not None
    assert (result.followed, result.observed, result.complete) == (3, 2, 2)
    assert result.expected == pytest.approx(0.336)  # a missing score is never counted as 0
    assert consort.d30_mortality([("unknown", 0.3)]) is None
