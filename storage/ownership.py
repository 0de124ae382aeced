"""Issue 14's SQL: who owns a patient in the D0 window and when it is planned, which Telegram
message a reminder became, acknowledgements, cancellations with their cause, unknown
deliveries, unreachable users, the reminder log and the team's morning board."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping

from conversations.reminder_kinds import ReminderKind, ReminderState
from conversations.stored import Unrecognised, member
from storage.reminders import Reminder, _reminder
from storage.sql import execute, fetch_all, fetch_one, listed
from storage.timefmt import from_db, maybe_from_db, to_db


@dataclass(frozen=True)
class Loop:
    """A screening's closed-loop fields (owner, last acknowledgement, planned D0 time)."""

    owner_id: int | None
    acknowledged_at: dt.datetime | None
    planned_at: dt.datetime | None
    #: When the current owner took the patient (issue 26: kept when they plan or press again).
    taken_at: dt.datetime | None = None


def get_loop(conn: Connection, screening_id: int) -> Loop:
    row = fetch_one(
        conn,
        "SELECT owner_id, acknowledged_at, planned_at, taken_at FROM ownership "
        "WHERE screening_id=:screening_id",
        {"screening_id": screening_id},
    )
    if row is None:
        return Loop(None, None, None)
    return Loop(
        row["owner_id"],
        maybe_from_db(row["acknowledged_at"]),
        maybe_from_db(row["planned_at"]),
        maybe_from_db(row["taken_at"]),
    )


def acknowledge(
    conn: Connection,
    screening_id: int,
    owner_id: int,
    now: dt.datetime,
    taken_at: dt.datetime | None = None,
) -> None:
    """The owner acknowledged at *now*; `taken_at`: when they took the patient (default now)."""
    execute(
        conn,
        "INSERT INTO ownership(screening_id, owner_id, acknowledged_at, taken_at) "
        "VALUES (:screening_id, :owner_id, :acknowledged_at, :taken_at) "
        "ON CONFLICT(screening_id) DO UPDATE SET owner_id=excluded.owner_id, "
        "acknowledged_at=excluded.acknowledged_at, taken_at=excluded.taken_at",
        {"screening_id": screening_id, "owner_id": owner_id, "acknowledged_at": to_db(now),
         "taken_at": to_db(taken_at or now)},
    )  # fmt: skip


def set_planned(conn: Connection, screening_id: int, planned_at: dt.datetime) -> None:
    execute(
        conn,
        "INSERT INTO ownership(screening_id, planned_at) VALUES (:screening_id, :planned_at) "
        "ON CONFLICT(screening_id) DO UPDATE SET planned_at=excluded.planned_at",
        {"screening_id": screening_id, "planned_at": to_db(planned_at)},
    )


# --- staff names (the Telegram first name: staff, never patients) ---------------------------


def set_display_name(conn: Connection, user_id: int, name: str) -> None:
    execute(
        conn,
        "INSERT INTO user_reach(telegram_id, display_name) VALUES (:user_id, :display_name) "
        "ON CONFLICT(telegram_id) DO UPDATE SET display_name=excluded.display_name",
        {"user_id": user_id, "display_name": name[:64]},
    )


def display_names(conn: Connection, user_ids: Iterable[int]) -> dict[int, str]:
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    marks, params = listed("user_id", ids)
    rows = fetch_all(
        conn,
        f"SELECT telegram_id, display_name FROM user_reach WHERE telegram_id IN ({marks})",
        params,
    )
    return {r["telegram_id"]: r["display_name"] for r in rows if r["display_name"]}


# --- the Telegram message a reminder became -------------------------------------------------


def record_message(conn: Connection, reminder_id: int, chat_id: int, message_id: int) -> None:
    execute(
        conn,
        "INSERT INTO reminder_notes(reminder_id, message_chat_id, message_id) "
        "VALUES (:reminder_id, :chat_id, :message_id) "
        "ON CONFLICT(reminder_id) DO UPDATE SET message_chat_id=excluded.message_chat_id, "
        "message_id=excluded.message_id",
        {"reminder_id": reminder_id, "chat_id": chat_id, "message_id": message_id},
    )


@dataclass(frozen=True)
class SentMessage:
    reminder_id: int
    step: str
    recipient: str
    chat_id: int
    message_id: int


def sent_messages(
    conn: Connection, screening_id: int, kind: ReminderKind, since: dt.datetime | None = None
) -> list[SentMessage]:
    """The messages a screening's reminders of `kind` became (newest first)."""
    sql = (
        "SELECT r.id, r.step, r.recipient, n.message_chat_id, n.message_id FROM reminders r "
        "JOIN reminder_notes n ON n.reminder_id = r.id "
        "WHERE r.screening_id=:screening_id AND r.kind=:kind AND r.state='sent' "
        "AND n.message_id IS NOT NULL"
    )
    params: dict[str, object] = {"screening_id": screening_id, "kind": kind}
    if since is not None:
        sql += " AND r.sent_at >= :since"
        params["since"] = to_db(since)
    rows = fetch_all(conn, sql + " ORDER BY r.sent_at DESC, r.id DESC", params)
    return [
        SentMessage(r["id"], r["step"], r["recipient"], r["message_chat_id"], r["message_id"])
        for r in rows
    ]


def reminder_of_message(conn: Connection, chat_id: int, message_id: int) -> int | None:
    row = fetch_one(
        conn,
        "SELECT reminder_id FROM reminder_notes "
        "WHERE message_chat_id=:chat_id AND message_id=:message_id",
        {"chat_id": chat_id, "message_id": message_id},
    )
    return None if row is None else int(row["reminder_id"])


def acknowledge_rows(
    conn: Connection,
    screening_id: int,
    kind: ReminderKind,
    user_id: int,
    now: dt.datetime,
    since: dt.datetime,
) -> int:
    """Mark the reminders of `kind` sent since `since` (today's) as acknowledged by the user."""
    rows = fetch_all(
        conn,
        "SELECT r.id FROM reminders r LEFT JOIN reminder_notes n ON n.reminder_id = r.id "
        "WHERE r.screening_id=:screening_id AND r.kind=:kind AND r.state='sent' "
        "AND r.sent_at >= :since AND n.acknowledged_at IS NULL",
        {"screening_id": screening_id, "kind": kind, "since": to_db(since)},
    )
    for row in rows:
        _note(conn, row["id"], acknowledged_by=user_id, acknowledged_at=to_db(now))
    return len(rows)


def _note(conn: Connection, reminder_id: int, **values: object) -> None:
    """Set some columns of a reminder's note (created if missing); names are ours, not input."""
    columns = list(values)
    execute(
        conn,
        f"INSERT INTO reminder_notes(reminder_id, {', '.join(columns)}) "
        f"VALUES (:reminder_id, {', '.join(f':{c}' for c in columns)}) "
        "ON CONFLICT(reminder_id) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in columns),
        {"reminder_id": reminder_id, **values},
    )


# --- cancellation with its cause, unknown fate ----------------------------------------------


@dataclass(frozen=True)
class Scheduled:
    id: int
    step: str
    recipient: str
    due_at: dt.datetime


def scheduled(conn: Connection, screening_id: int, kind: ReminderKind) -> list[Scheduled]:
    rows = fetch_all(
        conn,
        "SELECT id, step, recipient, due_at FROM reminders "
        "WHERE screening_id=:screening_id AND kind=:kind AND state='scheduled' "
        "ORDER BY due_at, id",
        {"screening_id": screening_id, "kind": kind},
    )
    return [Scheduled(r["id"], r["step"], r["recipient"], from_db(r["due_at"])) for r in rows]


def cancel_ids(conn: Connection, ids: Sequence[int], by: str) -> int:
    if not ids:
        return 0
    marks, params = listed("id", ids)
    rows = fetch_all(
        conn, f"SELECT id FROM reminders WHERE state='scheduled' AND id IN ({marks})", params
    )
    for row in rows:
        execute(conn, "UPDATE reminders SET state='cancelled' WHERE id=:id", {"id": row["id"]})
        _note(conn, row["id"], cancelled_by=str(by))  # (a StrEnum: its text)
    return len(rows)


def cancel_scheduled(
    conn: Connection,
    screening_id: int,
    by: str,
    kinds: Iterable[ReminderKind] | None = None,
    *,
    steps: Iterable[str] | None = None,
) -> int:
    """Cancel what is still to be sent for a screening (all kinds, or these; all steps, or
    these), each row keeping its cause (`by`) for the log."""
    sql = "SELECT id FROM reminders WHERE screening_id=:screening_id AND state='scheduled'"
    params: dict[str, object] = {"screening_id": screening_id}
    for column, values in (("kind", kinds), ("step", steps)):
        chosen = list(values) if values is not None else []
        if chosen:
            marks, listed_values = listed(column, chosen)
            sql += f" AND {column} IN ({marks})"
            params |= listed_values
    rows = fetch_all(conn, sql, params)
    return cancel_ids(conn, [r["id"] for r in rows], by)


def mark_answered(
    conn: Connection, reminder_ids: Sequence[int], by: int, at: dt.datetime
) -> list[int]:
    """The question these sent reminders asked was answered (by whom, when), for the log and
    their copies. Returns those not answered until now (an earlier answer is kept)."""
    marked = []
    for reminder_id in reminder_ids:
        cursor = execute(
            conn,
            "INSERT INTO reminder_notes(reminder_id, answered_by, answered_at) "
            "VALUES (:reminder_id, :answered_by, :answered_at) "
            "ON CONFLICT(reminder_id) DO UPDATE SET answered_by=excluded.answered_by, "
            "answered_at=excluded.answered_at WHERE reminder_notes.answered_at IS NULL",
            {"reminder_id": reminder_id, "answered_by": by, "answered_at": to_db(at)},
        )
        if cursor.rowcount == 1:
            marked.append(reminder_id)
    return marked


def mark_unknown(conn: Connection, reminder_id: int, error: str) -> None:
    """The request left and no answer came: maybe delivered. Never retried (no duplicate)."""
    execute(
        conn,
        "UPDATE reminders SET state='unknown', last_error=:error, attempts=attempts+1 "
        "WHERE id=:reminder_id",
        {"error": error, "reminder_id": reminder_id},
    )


def note_rerouted(conn: Connection, reminder_id: int, original: str) -> None:
    _note(conn, reminder_id, rerouted_from=original)


def rerouted_from(conn: Connection, reminder_id: int) -> str | None:
    row = fetch_one(
        conn,
        "SELECT rerouted_from FROM reminder_notes WHERE reminder_id=:reminder_id",
        {"reminder_id": reminder_id},
    )
    return None if row is None else row["rerouted_from"]


# --- unreachable users ----------------------------------------------------------------------


def mark_unreachable(conn: Connection, user_id: int, why: str, now: dt.datetime) -> bool:
    """True when the user was reachable until now (a new episode: the admins are told)."""
    if is_unreachable(conn, user_id):
        return False
    execute(
        conn,
        "INSERT INTO user_reach(telegram_id, unreachable_since, unreachable_why) "
        "VALUES (:user_id, :since, :why) "
        "ON CONFLICT(telegram_id) DO UPDATE SET unreachable_since=excluded.unreachable_since, "
        "unreachable_why=excluded.unreachable_why",
        {"user_id": user_id, "since": to_db(now), "why": why},
    )
    return True


def clear_unreachable(conn: Connection, user_id: int) -> bool:
    cursor = execute(
        conn,
        "UPDATE user_reach SET unreachable_since=NULL, unreachable_why=NULL "
        "WHERE telegram_id=:user_id AND unreachable_since IS NOT NULL",
        {"user_id": user_id},
    )
    return cursor.rowcount == 1


def unreachable_users(conn: Connection) -> dict[int, str]:
    rows = fetch_all(
        conn,
        "SELECT r.telegram_id, r.unreachable_why FROM user_reach r "
        "JOIN users u ON u.telegram_id = r.telegram_id "
        "WHERE r.unreachable_since IS NOT NULL AND u.active=1",
    )
    return {r["telegram_id"]: r["unreachable_why"] or "" for r in rows}


def reach(conn: Connection, user_id: int) -> tuple[str | None, bool]:
    """(display name, unreachable) in one read: checked on every update."""
    row = fetch_one(
        conn,
        "SELECT display_name, unreachable_since FROM user_reach WHERE telegram_id=:user_id",
        {"user_id": user_id},
    )
    if row is None:
        return None, False
    return row["display_name"], row["unreachable_since"] is not None


def is_unreachable(conn: Connection, user_id: int) -> bool:
    row = fetch_one(
        conn,
        "SELECT unreachable_since FROM user_reach WHERE telegram_id=:user_id",
        {"user_id": user_id},
    )
    return row is not None and row["unreachable_since"] is not None


# --- the reminder log (/reminders) ----------------------------------------------------------


@dataclass(frozen=True)
class LogRow:
    id: int
    screening_id: int | None  # None: a morning board
    kind: ReminderKind | Unrecognised  # (storage.reminders.Reminder: the same reading)
    step: str
    recipient: str
    due_at: dt.datetime
    state: ReminderState | Unrecognised
    sent_at: dt.datetime | None
    late: bool
    last_error: str | None
    acknowledged_by: int | None
    acknowledged_at: dt.datetime | None
    cancelled_by: str | None
    rerouted_from: str | None
    answered_by: int | None = None
    answered_at: dt.datetime | None = None


def reminder_log(conn: Connection, screening_ids: Sequence[int]) -> list[LogRow]:
    if not screening_ids:
        return []
    marks, params = listed("screening_id", screening_ids)
    rows = fetch_all(
        conn,
        f"SELECT r.*, n.acknowledged_by, n.acknowledged_at, n.cancelled_by, n.rerouted_from, "
        f"n.answered_by, n.answered_at FROM reminders r LEFT JOIN reminder_notes n ON n.reminder_id = r.id "
        f"WHERE r.screening_id IN ({marks}) "
        f"ORDER BY r.screening_id, r.due_at, r.id",
        params,
    )
    return [_log_row(r) for r in rows]


def _log_row(r: RowMapping) -> LogRow:
    return LogRow(
        r["id"],
        r["screening_id"],
        member(ReminderKind, r["kind"]),
        r["step"],
        r["recipient"],
        from_db(r["due_at"]),
        member(ReminderState, r["state"]),
        maybe_from_db(r["sent_at"]),
        bool(r["late"]),
        r["last_error"],
        r["acknowledged_by"],
        maybe_from_db(r["acknowledged_at"]),
        r["cancelled_by"],
        r["rerouted_from"],
        r["answered_by"],
        maybe_from_db(r["answered_at"]),
    )


# --- the morning board ----------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    day: dt.date
    chat_id: int
    message_id: int
    text: str


def get_board(conn: Connection, day: dt.date) -> Board | None:
    row = fetch_one(conn, "SELECT * FROM boards WHERE day=:day", {"day": day.isoformat()})
    if row is None:
        return None
    return Board(day, row["chat_id"], row["message_id"], row["text"])


def latest_board(conn: Connection, day: dt.date) -> Board | None:
    """The board of that day, else the latest before it (before 08:00, yesterday's)."""
    row = fetch_one(
        conn,
        "SELECT * FROM boards WHERE day<=:day ORDER BY day DESC LIMIT 1",
        {"day": day.isoformat()},
    )
    if row is None:
        return None
    return Board(dt.date.fromisoformat(row["day"]), row["chat_id"], row["message_id"], row["text"])


def board_row_id(conn: Connection, day: dt.date) -> int | None:
    """The outbox row of that day's board, whatever its state (one a day)."""
    row = fetch_one(
        conn,
        "SELECT id FROM reminders WHERE kind='board' AND screening_id IS NULL AND step=:day "
        "ORDER BY id LIMIT 1",
        {"day": day.isoformat()},
    )
    return None if row is None else int(row["id"])


def board_log(conn: Connection, since: dt.datetime) -> list[LogRow]:
    """The board rows due since `since`, for /reminders."""
    rows = fetch_all(
        conn,
        "SELECT r.*, n.acknowledged_by, n.acknowledged_at, n.cancelled_by, n.rerouted_from, "
        "n.answered_by, n.answered_at FROM reminders r LEFT JOIN reminder_notes n ON n.reminder_id = r.id "
        "WHERE r.kind='board' AND r.screening_id IS NULL AND r.due_at >= :since "
        "ORDER BY r.due_at, r.id",
        {"since": to_db(since)},
    )
    return [_log_row(r) for r in rows]


def reminder(conn: Connection, reminder_id: int) -> Reminder | None:
    rows = fetch_all(
        conn, "SELECT * FROM reminders WHERE id=:reminder_id", {"reminder_id": reminder_id}
    )
    return _reminder(rows[0]) if rows else None


def save_board(conn: Connection, board: Board, now: dt.datetime) -> None:
    execute(
        conn,
        "INSERT INTO boards(day, chat_id, message_id, text, updated_at) "
        "VALUES (:day, :chat_id, :message_id, :text, :updated_at) "
        "ON CONFLICT(day) DO UPDATE SET chat_id=excluded.chat_id, "
        "message_id=excluded.message_id, text=excluded.text, updated_at=excluded.updated_at",
        {"day": board.day.isoformat(), "chat_id": board.chat_id,
         "message_id": board.message_id, "text": board.text, "updated_at": to_db(now)},
    )  # fmt: skip
