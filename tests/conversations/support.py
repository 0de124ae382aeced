"""Shared test data for the pure core: a complete, eligible answer set and helpers.

Values are the ones DESIGN.md describes (ids, enums, types); no real patient data.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC

#: Every id of DESIGN.md "Clinical rules".
ALL_IDS = (
    "age",
    "sex",
    "index_date",
    "admission_date",
    "diagnosis_confirmed",
    "ward",
    "max_bsa_percent",
    "pregnant_or_breastfeeding",
    "malignancy_10y_or_metastasis",
    "hiv_positive",
    "active_hepatitis_b_or_c",
    "sars_cov2_positive",
    "decompensated_heart_failure",
    "uncontrolled_epilepsy",
    "prior_allogeneic_bmt",
    "other_interventional_trial",
    "deprived_of_liberty",
    "compliance_concern",
    "tutorship_or_curatorship",
    "psychiatric_care_l1121_6",
    "social_security",
    "consent",
    "consent_by",
    "weight_kg",
)

#: yes/no questions that exclude when answered yes (true).
EXCLUDING_WHEN_TRUE = (
    "malignancy_10y_or_metastasis",
    "decompensated_heart_failure",
    "uncontrolled_epilepsy",
    "prior_allogeneic_bmt",
    "other_interventional_trial",
    "deprived_of_liberty",
    "compliance_concern",
    "tutorship_or_curatorship",
    "psychiatric_care_l1121_6",
)
#: yes/no questions that exclude when answered no (false).
EXCLUDING_WHEN_FALSE = ("diagnosis_confirmed", "social_security")
#: yes / no / pending questions ("yes" excludes, "pending" waits).
TRI_STATE = (
    "pregnant_or_breastfeeding",
    "hiv_positive",
    "active_hepatitis_b_or_c",
    "sars_cov2_positive",
)

INDEX = dt.date(2026, 11, 18)
ADMISSION = dt.date(2026, 11, 20)
#: 10:00 local on the day after admission: inside the D0 window and the BSA observation period.
NOW = dt.datetime(2026, 11, 21, 10, 0, tzinfo=PARIS)


def eligible_answers(sex: str = "female", **overrides: object) -> dict[str, object]:
    """A complete answer set that meets every criterion at NOW (female by default)."""
    answers: dict[str, object] = {
        "age": 58,
        "sex": sex,
        "index_date": INDEX,
        "admission_date": ADMISSION,
        "diagnosis_confirmed": True,
        "ward": "dermatology",
        "max_bsa_percent": 35.0,
        "malignancy_10y_or_metastasis": False,
        "hiv_positive": "no",
        "active_hepatitis_b_or_c": "no",
        "sars_cov2_positive": "no",
        "decompensated_heart_failure": False,
        "uncontrolled_epilepsy": False,
        "prior_allogeneic_bmt": False,
        "other_interventional_trial": False,
        "deprived_of_liberty": False,
        "compliance_concern": False,
        "tutorship_or_curatorship": False,
        "psychiatric_care_l1121_6": False,
        "social_security": True,
        "consent": "obtained",
        "consent_by": "patient",
        "weight_kg": 70.0,
    }
    if sex == "female":
        answers["pregnant_or_breastfeeding"] = "no"
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    """An aware datetime at a wall-clock time in Europe/Paris."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)
