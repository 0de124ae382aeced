"""Versions of the LYSYME protocol: which eligibility rules a screening is judged under.

A multi-year trial gets amended. A screening records the version in force when it was opened
(`storage` keeps its name) and is re-evaluated (`/update`, `/correct`) under that version's
rules, never under a later one. Every version stays addressable in `REGISTRY`, even when a
newer one is in force: changing a rule means adding a version (docs/PROTOCOL_VERSIONS.md),
never editing a shipped one.

The questions (`protocol.QUESTIONS`) are shared by all versions; what a version carries is the
thresholds and the meaning of each answer (`Rules`), which is what an amendment changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from conversations import protocol


@dataclass(frozen=True)
class Rules:
    """The eligibility rules of one protocol version (DESIGN.md "Clinical rules")."""

    age_min: int = protocol.AGE_MIN
    age_max: int = protocol.AGE_MAX
    max_admission_delay_days: int = protocol.MAX_ADMISSION_DELAY_DAYS
    bsa_threshold_percent: float = protocol.BSA_THRESHOLD_PERCENT
    cells_per_kg: int = protocol.CELLS_PER_KG
    #: Boolean questions that exclude when answered "yes" (true).
    excluding_when_true: frozenset[str] = frozenset(
        {
            "malignancy_10y_or_metastasis",
            "decompensated_heart_failure",
            "uncontrolled_epilepsy",
            "prior_allogeneic_bmt",
            "other_interventional_trial",
            "deprived_of_liberty",
            "compliance_concern",
            "tutorship_or_curatorship",
            "psychiatric_care_l1121_6",
        }
    )
    #: Boolean questions that exclude when answered "no" (false).
    excluding_when_false: frozenset[str] = frozenset({"diagnosis_confirmed", "social_security"})
    #: Tri-state questions: "yes" excludes, "pending" waits.
    excluding_when_yes: frozenset[str] = frozenset(
        {
            "pregnant_or_breastfeeding",
            "hiv_positive",
            "active_hepatitis_b_or_c",
            "sars_cov2_positive",
        }
    )


@dataclass(frozen=True)
class ProtocolVersion:
    name: str  # "LYSYME 1.0": stored with each screening, shown in every view and export
    effective: dt.date  # the first day a screening opened is judged under this version
    rules: Rules

    @property
    def oid(self) -> str:
        """The name as an XML/ODM identifier: "LYSYME 1.0" → "LYSYME_1.0"."""
        return self.name.replace(" ", "_")

    def amended(self, name: str, effective: dt.date, **changes: object) -> ProtocolVersion:
        """A new version: this one's rules with `changes` (how an amendment is written)."""
        return ProtocolVersion(name, effective, dataclasses.replace(self.rules, **changes))  # type: ignore[arg-type]


class UnknownVersion(KeyError):
    """A stored version name that this program does not know."""


#: LYSYME 1.0: the rules of the protocol as registered (NCT04711200). The effective date is a
#: placeholder before the first screening the bot can hold; set the real date of an amendment.
LYSYME_1_0: Final = ProtocolVersion("LYSYME 1.0", dt.date(2021, 1, 1), Rules())

#: Every version this program knows, oldest first. Append only.
REGISTRY: dict[str, ProtocolVersion] = {LYSYME_1_0.name: LYSYME_1_0}


def all_versions() -> list[ProtocolVersion]:
    return sorted(REGISTRY.values(), key=lambda v: (v.effective, v.name))


def get(name: str) -> ProtocolVersion:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownVersion(f"unknown protocol version {name!r}") from None


def in_force(on: dt.date, versions: Iterable[ProtocolVersion] | None = None) -> ProtocolVersion:
    """The version a screening opened on `on` (a local date) is judged under: the latest whose
    effective date is not after `on` (the oldest one before any took effect)."""
    ordered = sorted(versions or REGISTRY.values(), key=lambda v: (v.effective, v.name))
    chosen = ordered[0]
    for version in ordered:
        if version.effective <= on:
            chosen = version
    return chosen


def current() -> ProtocolVersion:
    """The most recent version (what `lysyme-bot check` applies)."""
    return all_versions()[-1]
