"""Where a patient stands — status, outcome, and the reasons behind it — derived once, for
every view (/status, /patient, CSV, XLSX, REDCap, ODM, the CONSORT counts and the charts).

`failed` holds only criteria that failed (outcome not eligible), `pending` only pending ones,
`missing` only unanswered ones (outcome incomplete): a missing answer is never reported as a
failed criterion. `category` is the word of the /status summary and the counts sheet. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from conversations.eligibility import Outcome
from conversations.lifecycle import Status


class Recorded(Protocol):
    """What a standing needs of a screening (storage's Screening has it)."""

    @property
    def status(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...
    @property
    def injected_at(self) -> dt.datetime | None: ...


@dataclass(frozen=True)
class Standing:
    status: str
    outcome: str | None  # None: never closed yet
    failed: tuple[str, ...]
    pending: tuple[str, ...]
    missing: tuple[str, ...]
    category: str

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.failed or self.missing or self.pending


def standing(s: Recorded) -> Standing:
    """The one reading of a screening's status, outcome and reasons."""
    outcome = s.outcome
    if s.status == Status.IN_SCREENING and outcome != Outcome.INCOMPLETE:
        outcome = None  # a screening in progress has no outcome yet (a reopened one: incomplete)
    reasons = tuple(s.reasons)
    failed = reasons if outcome == Outcome.NOT_ELIGIBLE else ()
    pending = reasons if outcome == Outcome.PENDING else ()
    missing = reasons if outcome == Outcome.INCOMPLETE else ()
    return Standing(s.status, outcome, failed, pending, missing, _category(s))


def _category(s: Recorded) -> str:
    if s.status == Status.INJECTED or s.injected_at is not None:
        return "injected"
    if s.status in (Status.IN_SCREENING, Status.WITHDRAWN, Status.WINDOW_MISSED, Status.ABANDONED):
        return str(s.status)  # (the word of the category: plain text)
    if s.outcome == Outcome.PENDING:
        return "pending"
    if s.outcome == Outcome.ELIGIBLE:
        return "eligible"
    return "not_eligible"
