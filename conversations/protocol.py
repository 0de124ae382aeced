"""The LYSYME screening protocol as data.

Every question of DESIGN.md ("Clinical rules") is one `Question`: its stable id, the kind of
answer it takes, the values or range it accepts, and when it applies. The order of `QUESTIONS`
is the order the bot asks them in: the criteria that exclude most often and earliest (dates and
the D0 window, diagnosis, age, ward) come first, so a clinician learns at once when a patient
cannot be included. Rules live in `eligibility`; this module only describes the questions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """How an answer is given and stored."""

    INTEGER = "integer"  # typed, whole number
    NUMBER = "number"  # typed, decimal comma or point
    DATE = "date"  # typed or today/yesterday buttons
    BOOLEAN = "boolean"  # yes/no buttons, stored as true/false
    CHOICE = "choice"  # buttons, stored as one of `choices`


AnswerValue = int | float | bool | str | dt.date
Answers = Mapping[str, AnswerValue]


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = True
    unit: str = ""

    def applies(self, answers: Answers) -> bool:
        """Whether the question is asked (and required) given the answers so far."""
        if self.id == "pregnant_or_breastfeeding":
            return answers.get("sex") != "male"
        if self.id == "consent_by":
            return answers.get("consent") == "obtained"
        return True

    def may_apply(self, answers: Answers) -> bool:
        """Whether the question is or may still be asked: a conditional question counts until
        the answer it depends on rules it out (so a progress total never grows mid-way)."""
        if self.id == "pregnant_or_breastfeeding":
            return answers.get("sex") != "male"
        if self.id == "consent_by":
            return answers.get("consent") in (None, "obtained")
        return True


YES_NO_PENDING: Final = ("yes", "no", "pending")

QUESTIONS: Final[tuple[Question, ...]] = (
    Question("index_date", Kind.DATE),
    Question("admission_date", Kind.DATE),
    Question("diagnosis_confirmed", Kind.BOOLEAN),
    Question("age", Kind.INTEGER, minimum=0, maximum=120, unit="years"),
    Question("ward", Kind.CHOICE, choices=("dermatology", "icu", "other")),
    Question("max_bsa_percent", Kind.NUMBER, minimum=0, maximum=100, unit="%"),
    Question("sex", Kind.CHOICE, choices=("female", "male")),
    Question("pregnant_or_breastfeeding", Kind.CHOICE, choices=YES_NO_PENDING),
    Question("malignancy_10y_or_metastasis", Kind.BOOLEAN),
    Question("hiv_positive", Kind.CHOICE, choices=YES_NO_PENDING),
    Question("active_hepatitis_b_or_c", Kind.CHOICE, choices=YES_NO_PENDING),
    Question("sars_cov2_positive", Kind.CHOICE, choices=("yes", "no", "not_tested", "pending")),
    Question("decompensated_heart_failure", Kind.BOOLEAN),
    Question("uncontrolled_epilepsy", Kind.BOOLEAN),
    Question("prior_allogeneic_bmt", Kind.BOOLEAN),
    Question("other_interventional_trial", Kind.BOOLEAN),
    Question("deprived_of_liberty", Kind.BOOLEAN),
    Question("compliance_concern", Kind.BOOLEAN),
    Question("tutorship_or_curatorship", Kind.BOOLEAN),
    Question("psychiatric_care_l1121_6", Kind.BOOLEAN),
    Question("social_security", Kind.BOOLEAN),
    Question("consent", Kind.CHOICE, choices=("obtained", "pending", "refused")),
    Question("consent_by", Kind.CHOICE, choices=("patient", "support_person"), required=False),
    Question("weight_kg", Kind.NUMBER, minimum=30, maximum=250, unit="kg"),
)

BY_ID: Final[dict[str, Question]] = {q.id: q for q in QUESTIONS}
QUESTION_IDS: Final[tuple[str, ...]] = tuple(q.id for q in QUESTIONS)

#: Criteria that can be "pending" and are re-answered with /update.
UPDATABLE: Final = frozenset(
    {
        "max_bsa_percent",
        "pregnant_or_breastfeeding",
        "hiv_positive",
        "active_hepatitis_b_or_c",
        "sars_cov2_positive",
        "consent",
    }
)

#: The id of the D0-window rule, reported like a criterion.
D0_WINDOW: Final = "d0_window"

#: Days after admission within which D0 must happen (DESIGN.md "D0 window").
D0_WINDOW_DAYS: Final = 3
#: Maximum days between the index date and admission.
MAX_ADMISSION_DELAY_DAYS: Final = 10
#: BSA observation period after the index date, in days.
BSA_OBSERVATION_DAYS: Final = 10
BSA_THRESHOLD_PERCENT: Final = 10.0
AGE_MIN: Final = 18
AGE_MAX: Final = 75
CELLS_PER_KG: Final = 2_000_000


#: The order criteria are listed in, everywhere a person reads them (the question order; the
#: D0 window, which depends on the admission date, right after it). `check` sorts its own.
CRITERION_ORDER: Final[tuple[str, ...]] = tuple(
    x for q in QUESTIONS for x in ((q.id, D0_WINDOW) if q.id == "admission_date" else (q.id,))
)


def in_question_order(ids: Iterable[str]) -> list[str]:
    """Criterion ids as a clinician reads them: in the order of the questions."""
    rank = {criterion: n for n, criterion in enumerate(CRITERION_ORDER)}
    return sorted(ids, key=lambda i: (rank.get(i, len(rank)), i))


def question(question_id: str) -> Question:
    try:
        return BY_ID[question_id]
    except KeyError:
        raise KeyError(f"unknown question id {question_id!r}") from None


def applicable_questions(answers: Answers) -> list[Question]:
    return [q for q in QUESTIONS if q.applies(answers)]
