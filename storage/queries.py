"""Read models for the coordinators' views (/status, /patient, /export, /stats).

All the SQL behind those views lives here, plus the small pure functions that turn screenings
into *patients* (a re-screen, `rescreen_of` set, is the same patient and counts once) and into
the CONSORT-style counts. Nothing here formats text or knows a language.

Which screening speaks for a patient (`Patient.chosen`): an injected one if any; else the most
recent closed one that was not abandoned; else the most recent abandoned one. A patient whose
only screenings are still in progress has none yet and is not counted as screened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from storage.audit import parse_timestamp
from storage.db import fetch_all
from storage.screenings import (
    ABANDONED,
    IN_SCREENING,
    INJECTED,
    SCREENED,
    WINDOW_MISSED,
    WITHDRAWN,
    Screening,
)
from storage.timefmt import from_db, to_db

#: Summary categories of /status and the counts sheet, in display order.
CATEGORIES = (
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
STATUS_REASONS = (WITHDRAWN, WINDOW_MISSED, ABANDONED)

FOLLOW_UP_PREFIX = "follow_up:"
SCORTEN_PREFIX = "scorten:"


# --- screenings -----------------------------------------------------------------------------


async def open_screenings(conn: aiosqlite.Connection) -> list[Screening]:
    """Patients someone still has to act on: in screening, or screened eligible / pending
    with no injection recorded (ordered by number; the view sorts by deadline)."""
    rows = await fetch_all(
        conn,
        """SELECT * FROM screenings
           WHERE status = ?
              OR (status = ? AND outcome IN ('eligible', 'pending') AND injected_at IS NULL)
           ORDER BY site, sequence""",
        (IN_SCREENING, SCREENED),
    )
    return [Screening.from_row(r) for r in rows]


async def all_screenings(conn: aiosqlite.Connection) -> list[Screening]:
    rows = await fetch_all(conn, "SELECT * FROM screenings ORDER BY site, sequence")
    return [Screening.from_row(r) for r in rows]


# --- answers ------------------------------------------------------------------------------


async def latest_values(
    conn: aiosqlite.Connection, question_ids: Sequence[str] | None = None
) -> dict[int, dict[str, str]]:
    """The current value (JSON text) of each answer of every screening, in one query:
    screening id → {question id → value}. Withdrawn answers (value NULL) are absent."""
    sql = """SELECT screening_id, question_id, value FROM answers
             WHERE id IN (SELECT MAX(id) FROM answers GROUP BY screening_id, question_id)"""
    params: tuple[object, ...] = ()
    if question_ids is not None:
        if not question_ids:
            return {}
        sql += f" AND question_id IN ({','.join('?' * len(question_ids))})"
        params = tuple(question_ids)
    values: dict[int, dict[str, str]] = {}
    for row in await fetch_all(conn, sql, params):
        if row["value"] is not None:
            values.setdefault(int(row["screening_id"]), {})[str(row["question_id"])] = str(
                row["value"]
            )
    return values


@dataclass(frozen=True)
class HistoryRow:
    """One answer row as given (never overwritten), with its screening number."""

    answer_id: int
    screening_id: int
    number: str
    question_id: str
    value: str | None  # JSON text; None = withdrawn (no longer applies)
    answered_by: int
    answered_at: dt.datetime
    source: str  # screening, correction, update, scorten, not_applicable, follow_up…
    reason: str | None


async def answer_history(
    conn: aiosqlite.Connection, screening_id: int | None = None
) -> list[HistoryRow]:
    """Every answer row (of one screening, or of all), in screening then entry order."""
    sql = """SELECT a.*, s.number AS number FROM answers a
             JOIN screenings s ON s.id = a.screening_id"""
    params: tuple[object, ...] = ()
    if screening_id is not None:
        sql += " WHERE a.screening_id = ?"
        params = (screening_id,)
    rows = await fetch_all(conn, sql + " ORDER BY s.site, s.sequence, a.id", params)
    return [
        HistoryRow(
            answer_id=int(r["id"]),
            screening_id=int(r["screening_id"]),
            number=str(r["number"]),
            question_id=str(r["question_id"]),
            value=r["value"],
            answered_by=int(r["answered_by"]),
            answered_at=from_db(r["answered_at"]),
            source=str(r["source"]),
            reason=r["reason"],
        )
        for r in rows
    ]


def json_value(stored: str | None) -> object:
    """A stored JSON answer value; text that is not JSON is returned as it is (tolerant of
    rows written by other features)."""
    if stored is None:
        return None
    try:
        parsed: object = json.loads(stored)
    except ValueError:
        return stored
    return parsed


# --- the audit trail, read back for one screening -------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None


async def screening_audit(
    conn: aiosqlite.Connection, number: str, actions: Sequence[str]
) -> list[AuditRow]:
    """The audit rows of one screening with the given actions, oldest first."""
    if not actions:
        return []
    marks = ",".join("?" * len(actions))
    rows = await fetch_all(
        conn,
        f"""SELECT id, at, actor, action, field, old_value, new_value, reason FROM audit
            WHERE screening = ? AND action IN ({marks}) ORDER BY id""",
        (number, *actions),
    )
    return [
        AuditRow(
            id=int(r["id"]),
            at=parse_timestamp(r["at"]),
            actor=str(r["actor"]),
            action=str(r["action"]),
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
            reason=r["reason"],
        )
        for r in rows
    ]


# --- reminders ----------------------------------------------------------------------------


async def move_reminder(conn: aiosqlite.Connection, reminder_id: int, due: dt.datetime) -> bool:
    """Move a still-scheduled reminder to a new time (a corrected injection time moves its
    follow-ups). False if it was sent, claimed or cancelled meanwhile."""
    cursor = await conn.execute(
        "UPDATE reminders SET due_at=?, next_attempt_at=NULL WHERE id=? AND state='scheduled'",
        (to_db(due), reminder_id),
    )
    return cursor.rowcount == 1


# --- patients and counts (pure) -----------------------------------------------------------


@dataclass(frozen=True)
class Patient:
    """The screenings of one patient (a first screening and its re-screens)."""

    root: str  # number of the first screening
    screenings: tuple[Screening, ...]
    chosen: Screening | None  # the screening that speaks for the patient (module docstring)


def root_number(number: str, parents: dict[str, str | None], order: dict[str, int]) -> str:
    """Follow `rescreen_of` links to the first screening. Only a link to an earlier screening
    (`order`: position by sequence) is followed, so a dangling or forward link stops."""
    current = number
    while True:
        parent = parents.get(current)
        if parent is None or order.get(parent, len(order)) >= order[current]:
            return current
        current = parent


def choose(screenings: Sequence[Screening]) -> Screening | None:
    closed = [s for s in screenings if s.status != IN_SCREENING]
    injected = [s for s in closed if s.status == INJECTED or s.injected_at is not None]
    if injected:
        return injected[-1]
    kept = [s for s in closed if s.status != ABANDONED]
    if kept:
        return kept[-1]
    return closed[-1] if closed else None


def group_patients(screenings: Iterable[Screening]) -> list[Patient]:
    """Screenings grouped by patient, in order of their first screening."""
    ordered = sorted(screenings, key=lambda s: (s.site, s.sequence))
    parents = {s.number: s.rescreen_of for s in ordered}
    order = {s.number: position for position, s in enumerate(ordered)}
    groups: dict[str, list[Screening]] = {}
    for s in ordered:
        groups.setdefault(root_number(s.number, parents, order), []).append(s)
    return [Patient(root, tuple(group), choose(group)) for root, group in groups.items()]


def category(screening: Screening) -> str:
    """Where one screening stands, in the words of the summary line (CATEGORIES)."""
    if screening.status == INJECTED or screening.injected_at is not None:
        return "injected"
    if screening.status in (IN_SCREENING, WITHDRAWN, WINDOW_MISSED, ABANDONED):
        return screening.status
    if screening.outcome == "pending":
        return "pending"
    if screening.outcome == "eligible":
        return "eligible"
    return "not_eligible"


def summary_counts(screenings: Sequence[Screening]) -> dict[str, int]:
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


def passed_screening(screening: Screening) -> bool:
    """Eligible or pending at screening (after corrections); injected or window missed
    patients had passed it."""
    if screening.status in (INJECTED, WINDOW_MISSED) or screening.injected_at is not None:
        return True
    return screening.status != ABANDONED and screening.outcome in ("eligible", "pending")


def funnel(screenings: Sequence[Screening]) -> Funnel:
    """CONSORT-style counts per patient. Reasons for non-inclusion: every failing criterion of
    a not-eligible patient, or the status that ended an eligible one (withdrawn, window
    missed) or the screening (abandoned). Patients still awaiting D0 have no reason yet."""
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
            reasons.update(s.reasons or ("unknown",))
    return Funnel(screened, eligible, injected, dict(reasons))
