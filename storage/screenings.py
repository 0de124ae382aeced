"""Screenings, their answers (one row per answer given, never overwritten) and the chat
sessions that say which screening a user is working on.

All functions are plain synchronous functions over a SQLAlchemy connection, run inside the
one transaction `Database.write` (writes) or `Database.read` (reads) opened for them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sqlalchemy import Connection, RowMapping

from conversations import versions
from conversations.eligibility import Outcome
from conversations.lifecycle import Stage, Status
from conversations.stored import Unrecognised, maybe_member, member
from storage.sql import dialect, execute, fetch_all, fetch_one, listed, value
from storage.timefmt import maybe_from_db, to_db
from storage.users import Reach, User, roles_from_text

#: Statuses (where a screening is) — DESIGN.md "Lifecycle"; the closed set is the core's
#: `Status` (its members are the stored strings).
IN_SCREENING = Status.IN_SCREENING
SCREENED = Status.SCREENED
INJECTED = Status.INJECTED
WITHDRAWN = Status.WITHDRAWN
WINDOW_MISSED = Status.WINDOW_MISSED
ABANDONED = Status.ABANDONED
OPEN_STATUSES = (IN_SCREENING, SCREENED)


@dataclass(frozen=True)
class Screening:
    id: int
    number: str
    site: str
    sequence: int
    rescreen_of: str | None
    clinician_id: int
    last_actor_id: int
    chat_id: int
    #: The core's members; `Unrecognised` for a text this program has no member for (written
    #: by a newer program): shown and exported as stored, and no rule acts on it.
    status: Status | Unrecognised
    outcome: Outcome | Unrecognised | None
    reasons: tuple[str, ...]
    stage: Stage | Unrecognised
    cursor: str | None
    proposed: str | None
    prompt_message_id: int | None
    admission_date: dt.date | None
    d0_deadline: dt.datetime | None
    dose_cells: int | None
    injected_at: dt.datetime | None
    injected_by: int | None
    d0_override_reason: str | None
    withdrawn_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    last_activity_at: dt.datetime
    idle_reminded: bool
    #: `prompt_key` of the last prompt Telegram accepted for this screening (None: none yet).
    shown: str | None = None
    protocol_version: str = "LYSYME 1.0"  # the rules it is judged under (conversations.versions)

    @classmethod
    def from_row(cls, row: RowMapping) -> Screening:
        admission = row["admission_date"]
        return cls(
            id=row["id"],
            number=row["number"],
            site=row["site"],
            sequence=row["sequence"],
            rescreen_of=row["rescreen_of"],
            clinician_id=row["clinician_id"],
            last_actor_id=row["last_actor_id"],
            chat_id=row["chat_id"],
            status=member(Status, row["status"]),
            outcome=maybe_member(Outcome, row["outcome"]),
            reasons=tuple(r for r in (row["reasons"] or "").split(",") if r),
            stage=member(Stage, row["stage"]),
            cursor=row["cursor"],
            proposed=row["proposed"],
            prompt_message_id=row["prompt_message_id"],
            admission_date=dt.date.fromisoformat(admission) if admission else None,
            d0_deadline=maybe_from_db(row["d0_deadline"]),
            dose_cells=row["dose_cells"],
            injected_at=maybe_from_db(row["injected_at"]),
            injected_by=row["injected_by"],
            d0_override_reason=row["d0_override_reason"],
            withdrawn_reason=row["withdrawn_reason"],
            created_at=maybe_from_db(row["created_at"]) or dt.datetime.min,
            updated_at=maybe_from_db(row["updated_at"]) or dt.datetime.min,
            closed_at=maybe_from_db(row["closed_at"]),
            last_activity_at=maybe_from_db(row["last_activity_at"]) or dt.datetime.min,
            idle_reminded=bool(row["idle_reminded"]),
            # (a database before migration 3 has no such column)
            shown=row.get("shown"),
            protocol_version=row["protocol_version"],
        )


def prompt_key(stage: str, cursor: str | None) -> str:
    """What a screening waits for, as recorded once its prompt was delivered:
    `question:<question id>` or `scorten:<measure>` (a SCORTEN cursor is `measure@unit`)."""
    if stage == Stage.SCORTEN:
        return f"scorten:{(cursor or '').partition('@')[0]}"
    return f"{stage}:{cursor or ''}"


def record_shown(conn: Connection, screening_id: int, shown: str, message_id: int | None) -> None:
    """Telegram accepted the prompt `shown` (message `message_id`): typed text now answers it.
    Not `update_screening`: delivery is not activity (`updated_at` stays)."""
    execute(
        conn,
        "UPDATE screenings SET shown=:shown, prompt_message_id=:message_id WHERE id=:screening_id",
        {"shown": shown, "message_id": message_id, "screening_id": screening_id},
    )


def format_number(site: str, sequence: int) -> str:
    """HMN-001 … HMN-999, HMN-1000: zero-padded to three digits, never reused."""
    return f"{site}-{sequence:03d}"


def create_screening(
    conn: Connection,
    *,
    site: str,
    clinician_id: int,
    chat_id: int,
    now: dt.datetime,
    first_question: str,
    rescreen_of: str | None = None,
    protocol_version: str | None = None,
) -> Screening:
    """A new screening, judged under `protocol_version` (default: the version in force on
    the day of `now`; the day is taken in UTC, as storage knows no trial time zone)."""
    if protocol_version is None:
        protocol_version = versions.in_force(now.astimezone(dt.UTC).date()).name
    next_sequence = value(
        conn,
        "SELECT COALESCE(MAX(sequence), 0) + 1 FROM screenings WHERE site=:site",
        {"site": site},
    )
    sequence = int(next_sequence) if next_sequence is not None else 1
    stamp = to_db(now)
    new_id = execute(
        conn,
        """INSERT INTO screenings(number, site, sequence, rescreen_of, clinician_id,
               last_actor_id, chat_id, status, stage, cursor, created_at, updated_at,
               last_activity_at, protocol_version)
           VALUES (:number, :site, :sequence, :rescreen_of, :clinician_id, :clinician_id,
               :chat_id, :status, :stage, :cursor, :now, :now, :now, :protocol_version)
           RETURNING id""",
        {
            "number": format_number(site, sequence),
            "site": site,
            "sequence": sequence,
            "rescreen_of": rescreen_of,
            "clinician_id": clinician_id,
            "chat_id": chat_id,
            "status": IN_SCREENING,
            "stage": Stage.QUESTION,
            "cursor": first_question,
            "now": stamp,
            "protocol_version": protocol_version,
        },
    ).scalar_one()
    screening = get_by_id(conn, int(new_id))
    assert screening is not None
    return screening


def get_by_id(conn: Connection, screening_id: int) -> Screening | None:
    row = fetch_one(
        conn, "SELECT * FROM screenings WHERE id=:screening_id", {"screening_id": screening_id}
    )
    return Screening.from_row(row) if row else None


def get_by_number(conn: Connection, number: str) -> Screening | None:
    row = fetch_one(
        conn, "SELECT * FROM screenings WHERE number=:number", {"number": number.upper()}
    )
    return Screening.from_row(row) if row else None


def list_screenings(
    conn: Connection, statuses: tuple[Status, ...] | None = None
) -> list[Screening]:
    if statuses is None:
        rows = fetch_all(conn, "SELECT * FROM screenings ORDER BY site, sequence")
    else:
        if not statuses:  # `IN ()` is no SQL: no status asked for, no screening
            return []
        marks, params = listed("status", statuses)
        rows = fetch_all(
            conn,
            f"SELECT * FROM screenings WHERE status IN ({marks}) ORDER BY site, sequence",
            params,
        )
    return [Screening.from_row(r) for r in rows]


def idle_screenings(
    conn: Connection, remind_before: dt.datetime, abandon_before: dt.datetime
) -> list[Screening]:
    """Screenings still waiting for an answer that the reminder sender must act on: silent
    since `remind_before` and not yet reminded, or silent since `abandon_before` (to be
    abandoned). Uses the (status, last_activity_at) index: cheap at every sweep."""
    rows = fetch_all(
        conn,
        """SELECT * FROM screenings
           WHERE status = :status AND last_activity_at <= :remind_before
             AND (idle_reminded = 0 OR last_activity_at <= :abandon_before)
           ORDER BY last_activity_at""",
        {
            "status": IN_SCREENING,
            "remind_before": to_db(remind_before),
            "abandon_before": to_db(abandon_before),
        },
    )
    return [Screening.from_row(r) for r in rows]


class NotGiven(Enum):
    """`update_screening`'s default: the field is left as it is (None is a value: empty)."""

    NOT_GIVEN = "not given"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


def _db_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return to_db(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def update_screening(
    conn: Connection,
    screening_id: int,
    now: dt.datetime,
    *,
    last_actor_id: int | NotGiven = NOT_GIVEN,
    chat_id: int | NotGiven = NOT_GIVEN,
    status: Status | NotGiven = NOT_GIVEN,
    outcome: Outcome | NotGiven | None = NOT_GIVEN,
    reasons: tuple[str, ...] | NotGiven = NOT_GIVEN,
    stage: Stage | NotGiven = NOT_GIVEN,
    cursor: str | NotGiven | None = NOT_GIVEN,
    proposed: str | NotGiven | None = NOT_GIVEN,
    prompt_message_id: int | NotGiven | None = NOT_GIVEN,
    admission_date: dt.date | NotGiven | None = NOT_GIVEN,
    d0_deadline: dt.datetime | NotGiven | None = NOT_GIVEN,
    dose_cells: int | NotGiven | None = NOT_GIVEN,
    injected_at: dt.datetime | NotGiven | None = NOT_GIVEN,
    injected_by: int | NotGiven | None = NOT_GIVEN,
    d0_override_reason: str | NotGiven | None = NOT_GIVEN,
    withdrawn_reason: str | NotGiven | None = NOT_GIVEN,
    closed_at: dt.datetime | NotGiven | None = NOT_GIVEN,
    last_activity_at: dt.datetime | NotGiven = NOT_GIVEN,
    idle_reminded: bool | NotGiven = NOT_GIVEN,
) -> None:
    """Set the given fields (and `updated_at` to `now`); a field not given is left as it is.
    Typed: a misspelt field, or a status, stage or outcome that is no member, fails mypy."""
    given: dict[str, object] = {
        "last_actor_id": last_actor_id,
        "chat_id": chat_id,
        "status": status,
        "outcome": outcome,
        "reasons": NOT_GIVEN if isinstance(reasons, NotGiven) else ",".join(reasons),
        "stage": stage,
        "cursor": cursor,
        "proposed": proposed,
        "prompt_message_id": prompt_message_id,
        "admission_date": admission_date,
        "d0_deadline": d0_deadline,
        "dose_cells": dose_cells,
        "injected_at": injected_at,
        "injected_by": injected_by,
        "d0_override_reason": d0_override_reason,
        "withdrawn_reason": withdrawn_reason,
        "closed_at": closed_at,
        "last_activity_at": last_activity_at,
        "idle_reminded": idle_reminded,
    }
    fields = {name: value for name, value in given.items() if value is not NOT_GIVEN}
    fields["updated_at"] = now
    assignments = ", ".join(f"{name}=:{name}" for name in fields)  # names are ours, not input
    values = {name: _db_value(v) for name, v in fields.items()}
    execute(
        conn,
        f"UPDATE screenings SET {assignments} WHERE id=:screening_id",
        {**values, "screening_id": screening_id},
    )


@dataclass(frozen=True)
class AnswerRow:
    id: int
    question_id: str
    value: str | None  # JSON text; None = withdrawn (no longer applies)
    answered_by: int
    answered_at: dt.datetime
    source: str
    reason: str | None


def add_answer(
    conn: Connection,
    screening_id: int,
    question_id: str,
    value_json: str | None,
    *,
    by: int,
    now: dt.datetime,
    source: str,
    reason: str | None = None,
) -> int:
    new_id = execute(
        conn,
        """INSERT INTO answers(screening_id, question_id, value, answered_by, answered_at,
               source, reason)
           VALUES (:screening_id, :question_id, :value, :answered_by, :answered_at, :source,
               :reason)
           RETURNING id""",
        {
            "screening_id": screening_id,
            "question_id": question_id,
            "value": value_json,
            "answered_by": by,
            "answered_at": to_db(now),
            "source": source,
            "reason": reason,
        },
    ).scalar_one()
    return int(new_id)


def current_answers(conn: Connection, screening_id: int) -> dict[str, str]:
    """The latest value of each question (JSON text); withdrawn answers are absent."""
    rows = fetch_all(
        conn,
        """SELECT question_id, value FROM answers
           WHERE id IN (SELECT MAX(id) FROM answers WHERE screening_id=:screening_id
                        GROUP BY question_id)""",
        {"screening_id": screening_id},
    )
    return {r["question_id"]: r["value"] for r in rows if r["value"] is not None}


def get_with_answers(
    conn: Connection, screening_id: int
) -> tuple[Screening, dict[str, str]] | None:
    """`get_by_id` and `current_answers` in one query: one hop to the database thread instead
    of two on every answer. The answers come back as one JSON object of JSON texts."""
    aggregate = (
        "json_object_agg(a.question_id, a.value)::text"
        if dialect(conn) == "postgresql"
        else "json_group_object(a.question_id, a.value)"
    )
    row = fetch_one(
        conn,
        f"""SELECT s.*, (SELECT {aggregate} FROM answers a
                        WHERE a.id IN (SELECT MAX(id) FROM answers WHERE screening_id = s.id
                                       GROUP BY question_id)
                          AND a.value IS NOT NULL) AS current_answers_json
           FROM screenings s WHERE s.id = :screening_id""",
        {"screening_id": screening_id},
    )
    if row is None:
        return None
    answers: dict[str, str] = json.loads(row["current_answers_json"] or "{}")
    return Screening.from_row(row), answers


def answer_history(conn: Connection, screening_id: int) -> list[AnswerRow]:
    rows = fetch_all(
        conn,
        "SELECT * FROM answers WHERE screening_id=:screening_id ORDER BY id",
        {"screening_id": screening_id},
    )
    return [
        AnswerRow(
            r["id"],
            r["question_id"],
            r["value"],
            r["answered_by"],
            maybe_from_db(r["answered_at"]) or dt.datetime.min,
            r["source"],
            r["reason"],
        )
        for r in rows
    ]


# --- sessions: which screening a user's chat is working on, and in which mode -------------


@dataclass(frozen=True)
class Session:
    user_id: int
    chat_id: int
    screening_id: int | None
    mode: str
    data: dict[str, Any]


def get_session(conn: Connection, user_id: int, chat_id: int) -> Session | None:
    row = fetch_one(
        conn,
        "SELECT * FROM sessions WHERE user_id=:user_id AND chat_id=:chat_id",
        {"user_id": user_id, "chat_id": chat_id},
    )
    if row is None:
        return None
    return Session(
        row["user_id"],
        row["chat_id"],
        row["screening_id"],
        row["mode"],
        json.loads(row["data"]) if row["data"] else {},
    )


def user_and_session(
    conn: Connection, user_id: int, chat_id: int, now: dt.datetime | None = None
) -> tuple[User | None, Session | None, Reach]:
    """The access gate's read on every update, in ONE query (one hop to the database thread):
    the active user (`users.get_user`), this chat's session (`get_session`) and how the person
    is reached (`ownership.reach`, which every update checks). Read afresh
    for each update — nothing is cached: a removed user is refused at their next update, and
    (with `now`) an access whose end date has passed is refused even before the sender has
    recorded the lapse (issue 24)."""
    ends = to_db(now) if now is not None else ""
    row = fetch_one(
        conn,
        """SELECT u.telegram_id AS u_id, u.roles AS u_roles, u.language AS u_language,
                  x.user_id AS x_user, x.chat_id AS x_chat, x.screening_id AS x_screening,
                  x.mode AS x_mode, x.data AS x_data,
                  r.display_name AS r_name, r.unreachable_since AS r_since
           FROM (SELECT :user_id AS uid, :chat_id AS cid) k
           LEFT JOIN users u ON u.telegram_id = k.uid AND u.active = 1
                AND (u.access_until IS NULL OR u.access_until > :ends)
           LEFT JOIN sessions x ON x.user_id = k.uid AND x.chat_id = k.cid
           LEFT JOIN user_reach r ON r.telegram_id = k.uid""",
        {"user_id": user_id, "chat_id": chat_id, "ends": ends},
    )
    if row is None:  # pragma: no cover - the constant row always comes back
        return None, None, Reach(None, False)
    user = (
        None
        if row["u_id"] is None
        else User(row["u_id"], roles_from_text(row["u_roles"]), row["u_language"])
    )
    session = (
        None
        if row["x_user"] is None
        else Session(
            row["x_user"],
            row["x_chat"],
            row["x_screening"],
            row["x_mode"],
            json.loads(row["x_data"]) if row["x_data"] else {},
        )
    )
    return user, session, Reach(row["r_name"], row["r_since"] is not None)


def set_session(
    conn: Connection,
    user_id: int,
    chat_id: int,
    screening_id: int | None,
    mode: str,
    now: dt.datetime,
    data: dict[str, Any] | None = None,
) -> None:
    execute(
        conn,
        """INSERT INTO sessions(user_id, chat_id, screening_id, mode, data, updated_at)
           VALUES (:user_id, :chat_id, :screening_id, :mode, :data, :updated_at)
           ON CONFLICT(user_id, chat_id) DO UPDATE SET screening_id=excluded.screening_id,
               mode=excluded.mode, data=excluded.data, updated_at=excluded.updated_at""",
        {
            "user_id": user_id,
            "chat_id": chat_id,
            "screening_id": screening_id,
            "mode": mode,
            "data": json.dumps(data or {}),
            "updated_at": to_db(now),
        },
    )


def clear_session(conn: Connection, user_id: int, chat_id: int) -> None:
    execute(
        conn,
        "DELETE FROM sessions WHERE user_id=:user_id AND chat_id=:chat_id",
        {"user_id": user_id, "chat_id": chat_id},
    )


def clear_user_sessions(conn: Connection, user_id: int) -> None:
    """A removed user loses any open session at once."""
    execute(conn, "DELETE FROM sessions WHERE user_id=:user_id", {"user_id": user_id})


def open_screening_sessions(
    conn: Connection,
) -> list[tuple[Session, Screening]]:
    """Sessions whose screening still waits for an answer (to offer back after a restart)."""
    rows = fetch_all(
        conn,
        """SELECT s.*, x.user_id AS s_user, x.chat_id AS s_chat, x.mode AS s_mode,
                  x.data AS s_data
           FROM sessions x JOIN screenings s ON s.id = x.screening_id
           WHERE x.mode = 'screen' AND (s.status = 'in_screening' OR s.stage = 'scorten')""",
    )
    return [
        (
            Session(
                r["s_user"], r["s_chat"], r["id"], r["s_mode"], json.loads(r["s_data"] or "{}")
            ),
            Screening.from_row(r),
        )
        for r in rows
    ]


def sessions_on(conn: Connection, screening_id: int) -> list[Session]:
    rows = fetch_all(
        conn,
        "SELECT * FROM sessions WHERE screening_id=:screening_id",
        {"screening_id": screening_id},
    )
    return [
        Session(r["user_id"], r["chat_id"], r["screening_id"], r["mode"], json.loads(r["data"]))
        for r in rows
    ]


# --- at-least-once delivery from Telegram -------------------------------------------------


def claim_update(conn: Connection, update_id: int, now: dt.datetime) -> bool:
    """Record an update id inside the transaction that acts on it; False if already handled."""
    cursor = execute(
        conn,
        "INSERT INTO processed_updates(update_id, processed_at) VALUES (:update_id, :now) "
        "ON CONFLICT DO NOTHING",
        {"update_id": update_id, "now": to_db(now)},
    )
    return cursor.rowcount == 1


# --- key/value settings kept in the database (team chat id once migrated, checkpoints) ----


def prune_processed_updates(conn: Connection, before: dt.datetime) -> int:
    """Forget update ids handled before `before`: Telegram restarts its update ids at random
    after a week without updates, so an old id could collide with a new update."""
    cursor = execute(
        conn,
        "DELETE FROM processed_updates WHERE processed_at < :before",
        {"before": to_db(before)},
    )
    return cursor.rowcount


def delete_meta(conn: Connection, key: str) -> bool:
    cursor = execute(conn, "DELETE FROM meta WHERE key=:key", {"key": key})
    return cursor.rowcount > 0


def get_meta(conn: Connection, key: str) -> str | None:
    row = fetch_one(conn, "SELECT value FROM meta WHERE key=:key", {"key": key})
    return None if row is None else str(row["value"])


def set_meta(conn: Connection, key: str, value: str) -> None:
    execute(
        conn,
        "INSERT INTO meta(key, value) VALUES (:key, :value) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        {"key": key, "value": value},
    )
