"""Read models for the coordinators' views (/status, /patient, /export, /stats).

All the SQL behind those views lives here; storage returns rows, and the pure core counts
them (patients, the CONSORT flow: `conversations.consort`). Nothing here formats text or knows
a language.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from conversations.replay import Record, replay
from storage.audit import parse_timestamp
from storage.screenings import IN_SCREENING, SCREENED, Screening
from storage.sql import execute, fetch_all, listed
from storage.timefmt import from_db, to_db

FOLLOW_UP_PREFIX = "follow_up:"
SCORTEN_PREFIX = "scorten:"


# --- screenings -----------------------------------------------------------------------------


def open_screenings(conn: Connection) -> list[Screening]:
    """Patients someone still has to act on: in screening, or screened eligible / pending
    with no injection recorded (ordered by number; the view sorts by deadline)."""
    rows = fetch_all(
        conn,
        """SELECT * FROM screenings
           WHERE status = :in_screening
              OR (status = :screened AND outcome IN ('eligible', 'pending')
                  AND injected_at IS NULL)
           ORDER BY site, sequence""",
        {"in_screening": IN_SCREENING, "screened": SCREENED},
    )
    return [Screening.from_row(r) for r in rows]


def all_screenings(conn: Connection) -> list[Screening]:
    rows = fetch_all(conn, "SELECT * FROM screenings ORDER BY site, sequence")
    return [Screening.from_row(r) for r in rows]


# --- answers ------------------------------------------------------------------------------


def latest_values(
    conn: Connection, question_ids: Sequence[str] | None = None
) -> dict[int, dict[str, str]]:
    """The current value (JSON text) of each answer of every screening, in one query:
    screening id → {question id → value}. Withdrawn answers (value NULL) are absent."""
    sql = """SELECT screening_id, question_id, value FROM answers
             WHERE id IN (SELECT MAX(id) FROM answers GROUP BY screening_id, question_id)"""
    params: dict[str, object] = {}
    if question_ids is not None:
        if not question_ids:
            return {}
        marks, params = listed("question_id", question_ids)
        sql += f" AND question_id IN ({marks})"
    values: dict[int, dict[str, str]] = {}
    for row in fetch_all(conn, sql, params):
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


def answer_history(conn: Connection, screening_id: int | None = None) -> list[HistoryRow]:
    """Every answer row (of one screening, or of all), in screening then entry order."""
    sql = """SELECT a.*, s.number AS number FROM answers a
             JOIN screenings s ON s.id = a.screening_id"""
    params: dict[str, object] = {}
    if screening_id is not None:
        sql += " WHERE a.screening_id = :screening_id"
        params = {"screening_id": screening_id}
    rows = fetch_all(conn, sql + " ORDER BY s.site, s.sequence, a.id", params)
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


def screening_audit(conn: Connection, number: str, actions: Sequence[str]) -> list[AuditRow]:
    """The audit rows of one screening with the given actions, oldest first."""
    if not actions:
        return []
    marks, params = listed("action", actions)
    rows = fetch_all(
        conn,
        f"""SELECT id, at, actor, action, field, old_value, new_value, reason FROM audit
            WHERE screening = :screening AND action IN ({marks}) ORDER BY id""",
        {"screening": number, **params},
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


@dataclass(frozen=True)
class TrailRow:
    """One audit row about a screening, with its chain hash (what `verify-audit` checks)."""

    id: int
    at: dt.datetime
    actor: str
    screening: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    hash: str


def screenings_trail(conn: Connection) -> list[TrailRow]:
    """Every audit row about a screening, oldest first (the exports tie to the chain)."""
    rows = fetch_all(
        conn,
        """SELECT id, at, actor, screening, action, field, old_value, new_value, reason, hash
           FROM audit WHERE screening IS NOT NULL ORDER BY id""",
    )
    return [
        TrailRow(
            id=int(r["id"]),
            at=parse_timestamp(r["at"]),
            actor=str(r["actor"]),
            screening=str(r["screening"]),
            action=str(r["action"]),
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
            reason=r["reason"],
            hash=str(r["hash"]),
        )
        for r in rows
    ]


def replayed_records(conn: Connection) -> dict[str, Record]:
    """Each screening's current answers, status, outcome and D0 facts rebuilt from the audit
    trail alone (`conversations.replay`): screening number → record."""
    return replay(screenings_trail(conn))


def stored_records(conn: Connection) -> dict[str, Record]:
    """The same as stored (the screenings and their latest answer rows), to compare with
    `replayed_records`: screening number → record."""
    values = latest_values(conn)
    return {
        s.number: Record(s.status, s.outcome, dict(values.get(s.id, {})))
        for s in all_screenings(conn)
    }


# --- reminders ----------------------------------------------------------------------------


def move_reminder(conn: Connection, reminder_id: int, due: dt.datetime) -> bool:
    """Move a still-scheduled reminder to a new time (a corrected injection time moves its
    follow-ups). False if it was sent, claimed or cancelled meanwhile."""
    cursor = execute(
        conn,
        "UPDATE reminders SET due_at=:due_at, next_attempt_at=NULL "
        "WHERE id=:reminder_id AND state='scheduled'",
        {"due_at": to_db(due), "reminder_id": reminder_id},
    )
    return cursor.rowcount == 1
