"""The screening log's counts, as a trial monitor reads them (CONSORT 2025, SEAR framework).

Pure: storage returns the screenings (any object with the attributes of `ScreeningLike`), this
module counts. A re-screen (`rescreen_of`) is the same patient and counts once; the screening
that speaks for a patient (`Patient.chosen`) is an injected one if any; else the most recent
closed one that was not abandoned; else the most recent abandoned one. A patient whose only
screenings are still in progress has none yet.

The flow (every stage counts patients, each patient once):

    screened  (every patient)
      → eligible        (met every criterion other than consent)
      → consent discussed (approached: the consent question answered)
      → consented       (consent obtained)
      → injected

and every patient ends in exactly one final box (`FINAL_BOXES`): injected; criteria not met
(with the criteria by id: a patient failing several is counted once in the box and once under
each criterion); consent refused; D0 window missed; withdrawn; screening abandoned; still in
progress (in screening, pending criteria, eligible awaiting D0).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from conversations.eligibility import Outcome
from conversations.lifecycle import Status
from conversations.standing import Recorded, standing

# Statuses (DESIGN.md "Lifecycle"): the core's members, equal to what storage writes.
IN_SCREENING: Final = Status.IN_SCREENING
SCREENED: Final = Status.SCREENED
INJECTED: Final = Status.INJECTED
WITHDRAWN: Final = Status.WITHDRAWN
WINDOW_MISSED: Final = Status.WINDOW_MISSED
ABANDONED: Final = Status.ABANDONED
CONSENT: Final = "consent"

#: Summary categories of /status and the counts sheet, in display order.
CATEGORIES: Final = (
    "screened",
    "in_screening",
    "pending",
    "eligible",
    "injected",
    "not_eligible",
    "withdrawn",
    "window_missed",
    "abandoned",
)

#: Non-inclusion reasons that are not a criterion id (they are statuses).
STATUS_REASONS: Final = (WITHDRAWN, WINDOW_MISSED, ABANDONED)

#: The final boxes of the flow, in the order a diagram shows them. Every patient is in one.
FINAL_BOXES: Final = (
    "injected",
    "criteria_not_met",
    "consent_refused",
    "window_missed",
    "withdrawn",
    "abandoned",
    "in_progress",
)
#: What "still in progress" holds, in order.
IN_PROGRESS_KINDS: Final = ("in_screening", "pending", "awaiting_d0")
#: The stages of the flow, in order.
STAGES: Final = ("screened", "eligible", "consent_discussed", "consented", "injected")


class ScreeningLike(Recorded, Protocol):
    """What the counts need of a screening (storage.screenings.Screening has it)."""

    @property
    def number(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def rescreen_of(self) -> str | None: ...


@dataclass(frozen=True)
class Patient:
    """The screenings of one patient (a first screening and its re-screens)."""

    root: str  # number of the first screening
    screenings: tuple[ScreeningLike, ...]
    chosen: ScreeningLike | None  # the screening that speaks for the patient


def root_number(number: str, parents: dict[str, str | None], order: dict[str, int]) -> str:
    """Follow `rescreen_of` links to the first screening. Only a link to an earlier screening
    (`order`: position by sequence) is followed, so a dangling or forward link stops."""
    current = number
    while True:
        parent = parents.get(current)
        if parent is None or order.get(parent, len(order)) >= order[current]:
            return current
        current = parent


def choose(screenings: Sequence[ScreeningLike]) -> ScreeningLike | None:
    closed = [s for s in screenings if s.status != IN_SCREENING]
    injected = [s for s in closed if s.status == INJECTED or s.injected_at is not None]
    if injected:
        return injected[-1]
    kept = [s for s in closed if s.status != ABANDONED]
    if kept:
        return kept[-1]
    return closed[-1] if closed else None


def group_patients(screenings: Iterable[ScreeningLike]) -> list[Patient]:
    """Screenings grouped by patient, in order of their first screening."""
    ordered = sorted(screenings, key=lambda s: (s.site, s.sequence))
    parents = {s.number: s.rescreen_of for s in ordered}
    order = {s.number: position for position, s in enumerate(ordered)}
    groups: dict[str, list[ScreeningLike]] = {}
    for s in ordered:
        groups.setdefault(root_number(s.number, parents, order), []).append(s)
    return [Patient(root, tuple(group), choose(group)) for root, group in groups.items()]


def category(screening: ScreeningLike) -> str:
    """Where one screening stands, in the words of the summary line (CATEGORIES): the one
    reading of `conversations.standing`."""
    return standing(screening).category


def summary_counts(screenings: Sequence[ScreeningLike]) -> dict[str, int]:
    """The /status summary: patients by the category of their chosen screening, `screened`
    = distinct patients with a closed screening, `in_screening` = screenings in progress."""
    counts = dict.fromkeys(CATEGORIES, 0)
    counts["in_screening"] = sum(1 for s in screenings if s.status == IN_SCREENING)
    for patient in group_patients(screenings):
        if patient.chosen is None:
            continue
        counts["screened"] += 1
        counts[category(patient.chosen)] += 1
    return counts


@dataclass(frozen=True)
class Funnel:
    screened: int  # distinct patients with a closed screening
    eligible: int  # … whose screening said eligible or pending (or who were injected)
    injected: int
    reasons: dict[str, int]  # criterion id, or withdrawn / window_missed / abandoned → patients


def passed_screening(screening: ScreeningLike) -> bool:
    """Eligible or pending at screening (after corrections); injected or window missed
    patients had passed it."""
    if screening.status in (INJECTED, WINDOW_MISSED) or screening.injected_at is not None:
        return True
    return screening.status != ABANDONED and screening.outcome in (
        Outcome.ELIGIBLE,
        Outcome.PENDING,
    )


def funnel(screenings: Sequence[ScreeningLike]) -> Funnel:
    """Counts per patient with a closed screening. Reasons for non-inclusion: every failing
    criterion of a not-eligible patient, or the status that ended an eligible one (withdrawn,
    window missed) or the screening (abandoned). Patients still awaiting D0 have none yet."""
    screened = eligible = injected = 0
    reasons: Counter[str] = Counter()
    for patient in group_patients(screenings):
        s = patient.chosen
        if s is None:
            continue
        screened += 1
        eligible += passed_screening(s)
        kind = category(s)
        if kind == "injected":
            injected += 1
        elif kind in STATUS_REASONS:
            reasons[kind] += 1
        elif kind == "not_eligible":
            reasons.update(standing(s).failed or ("unknown",))
    return Funnel(screened, eligible, injected, dict(reasons))


# --- the CONSORT / SEAR screening log ---------------------------------------------------------


@dataclass(frozen=True)
class Consort:
    """The flow's counts. `boxes[b]` for b in FINAL_BOXES sums to `stages["screened"]`."""

    stages: dict[str, int]  # STAGES → patients
    boxes: dict[str, int]  # FINAL_BOXES → patients
    criteria: dict[str, int]  # criterion id → patients in "criteria not met" failing it
    in_progress: dict[str, int]  # IN_PROGRESS_KINDS → patients
    withdrawn_after: dict[str, int]  # outcome when withdrawn (eligible / pending) → patients
    box_of: dict[str, str] = field(default_factory=dict)  # patient (root number) → final box
    #: The last stage each patient reached → where they ended (a final box, or
    #: "in_progress:<kind>") → patients: the side boxes of a CONSORT diagram.
    stopped_at: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def screened(self) -> int:
        return self.stages["screened"]


def _box(chosen: ScreeningLike | None) -> tuple[str, str | None]:
    """The final box of a patient, and its in-progress kind when it is still in progress."""
    if chosen is None:
        return "in_progress", "in_screening"
    if chosen.status == INJECTED or chosen.injected_at is not None:
        return "injected", None
    if chosen.status == ABANDONED:
        return "abandoned", None
    if chosen.status == WITHDRAWN:
        return "withdrawn", None
    if chosen.status == WINDOW_MISSED:
        return "window_missed", None
    if chosen.outcome == Outcome.NOT_ELIGIBLE:
        failed = set(chosen.reasons)
        if failed and failed <= {CONSENT}:
            return "consent_refused", None
        return "criteria_not_met", None
    if chosen.outcome == Outcome.ELIGIBLE:
        return "in_progress", "awaiting_d0"
    return "in_progress", "pending"  # pending, or incomplete after a correction


def _criteria_met(chosen: ScreeningLike | None, box: str) -> bool:
    """Met every criterion other than consent (the SEAR "eligible" stage)."""
    if chosen is None or box in ("criteria_not_met", "abandoned"):
        return False
    if box in ("injected", "consent_refused", "window_missed"):
        return True
    if chosen.outcome == Outcome.ELIGIBLE:
        return True
    # Pending (also when withdrawn while pending): eligible only if consent alone is pending.
    return (
        chosen.outcome == Outcome.PENDING
        and bool(chosen.reasons)
        and set(chosen.reasons) <= {CONSENT}
    )


def consort(
    screenings: Sequence[ScreeningLike], consent: Mapping[str, str | None] | None = None
) -> Consort:
    """The CONSORT counts. `consent`: screening number → its current consent answer
    (obtained / pending / refused), for the consent stages."""
    consent = consent or {}
    stages = dict.fromkeys(STAGES, 0)
    boxes = dict.fromkeys(FINAL_BOXES, 0)
    in_progress = dict.fromkeys(IN_PROGRESS_KINDS, 0)
    criteria: Counter[str] = Counter()
    withdrawn_after: Counter[str] = Counter()
    box_of: dict[str, str] = {}
    stopped_at: dict[str, Counter[str]] = {stage: Counter() for stage in STAGES}
    for patient in group_patients(screenings):
        chosen = patient.chosen
        box, kind = _box(chosen)
        box_of[patient.root] = box
        where = f"in_progress:{kind}" if kind else box
        last = _last_stage(chosen, box, consent)
        stopped_at[last][where] += 1
        boxes[box] += 1
        stages["screened"] += 1
        if kind is not None:
            in_progress[kind] += 1
        if box == "criteria_not_met" and chosen is not None:
            criteria.update(set(chosen.reasons) - {CONSENT} or {"unknown"})
        if box == "withdrawn" and chosen is not None:
            withdrawn_after[chosen.outcome or "unknown"] += 1
        if not _criteria_met(chosen, box):
            continue
        stages["eligible"] += 1
        answer = consent.get(chosen.number) if chosen is not None else None
        injected = box == "injected"
        if answer in ("obtained", "pending", "refused") or injected:
            stages["consent_discussed"] += 1
        if answer == "obtained" or injected:
            stages["consented"] += 1
        stages["injected"] += injected
    return Consort(stages, boxes, dict(criteria), in_progress, dict(withdrawn_after), box_of,
                   {stage: dict(c) for stage, c in stopped_at.items() if c})  # fmt: skip


def _last_stage(chosen: ScreeningLike | None, box: str, consent: Mapping[str, str | None]) -> str:
    if box == "injected":
        return "injected"
    if not _criteria_met(chosen, box) or chosen is None:
        return "screened"
    answer = consent.get(chosen.number)
    if answer == "obtained":
        return "consented"
    return "consent_discussed" if answer in ("pending", "refused") else "eligible"


@dataclass(frozen=True)
class RecruitmentPoint:
    day: dt.date
    screened: int  # cumulative patients
    eligible: int
    injected: int


class DatedScreening(ScreeningLike, Protocol):
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def closed_at(self) -> dt.datetime | None: ...


def recruitment(
    screenings: Sequence[DatedScreening], zone: dt.tzinfo, until: dt.date | None = None
) -> list[RecruitmentPoint]:
    """Cumulative patients screened (first screening opened), eligible (criteria met, consent
    aside, on the day the speaking screening closed) and injected, one point per local day from
    the first screening to `until` (default: the last event)."""
    screened: list[dt.date] = []
    eligible: list[dt.date] = []
    injected: list[dt.date] = []
    for patient in group_patients(screenings):
        # Screened from the day the first screening opened (as in the flow: every patient).
        opened = [s.created_at for s in patient.screenings]  # type: ignore[attr-defined]
        screened.append(min(opened).astimezone(zone).date())
        chosen = patient.chosen
        if chosen is None:
            continue
        box, _ = _box(chosen)
        if _criteria_met(chosen, box):
            moment = getattr(chosen, "closed_at", None) or getattr(chosen, "created_at")  # noqa: B009
            eligible.append(moment.astimezone(zone).date())
        if chosen.injected_at is not None:
            injected.append(chosen.injected_at.astimezone(zone).date())
    events = screened + eligible + injected
    if not events:
        return []
    first, last = min(events), max(events)
    if until is not None and until > last:
        last = until
    points = []
    day = first
    while day <= last:
        points.append(RecruitmentPoint(
            day,
            sum(d <= day for d in screened),
            sum(d <= day for d in eligible),
            sum(d <= day for d in injected),
        ))  # fmt: skip
        day += dt.timedelta(days=1)
    return points


@dataclass(frozen=True)
class Mortality:
    """Observed D30 deaths against the sum of SCORTEN's predicted probabilities (/stats)."""

    followed: int  # patients with a D30 vital status
    observed: int  # … dead at D30
    expected: float  # sum of SCORTEN predicted probabilities (complete scores only)
    complete: int  # patients whose SCORTEN is complete


def d30_mortality(
    patients: Iterable[tuple[str | None, float | None]],
) -> Mortality | None:
    """From each patient's D30 vital status ("alive", "dead" or unknown) and SCORTEN-predicted
    mortality (None when the score is incomplete: never counted as 0). None: nobody followed."""
    followed = observed = complete = 0
    expected = 0.0
    for vital, predicted in patients:
        if vital not in ("dead", "alive"):
            continue
        followed += 1
        observed += vital == "dead"
        if predicted is not None:
            complete += 1
            expected += predicted
    return Mortality(followed, observed, expected, complete) if followed else None
