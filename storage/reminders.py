"""The reminder outbox: one row per (screening, kind, step, recipient), written in the same
transaction as the event that creates it, read by the sender.

States: scheduled → claimed → sent | failed, or skipped (caught up after downtime) /
cancelled (injection, withdrawal). A recipient is symbolic ("team", "user:<id>") and resolved
when the message is sent, so a team chat that migrates to a supergroup is followed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from storage.connection import Connection
from storage.db import fetch_all
from storage.timefmt import from_db, maybe_from_db, to_db

TEAM = "team"


def user_recipient(telegram_id: int) -> str:
    return f"user:{telegram_id}"


@dataclass(frozen=True)
class Reminder:
    id: int
    screening_id: int | None
    kind: str
    step: str
    recipient: str
    due_at: dt.datetime
    state: str
    attempts: int
    sent_at: dt.datetime | None
    late: bool
    last_error: str | None


def _reminder(row: sqlite3.Row) -> Reminder:
    return Reminder(
        row["id"],
        row["screening_id"],
        row["kind"],
        row["step"],
        row["recipient"],
        from_db(row["due_at"]),
        row["state"],
        row["attempts"],
        maybe_from_db(row["sent_at"]),
        bool(row["late"]),
        row["last_error"],
    )


async def schedule(
    conn: Connection,
    screening_id: int | None,
    kind: str,
    step: str,
    due: dt.datetime,
    recipients: Iterable[str],
) -> list[int]:
    ids = []
    for recipient in dict.fromkeys(recipients):  # de-duplicated, order kept
        cursor = await conn.execute(
            "INSERT INTO reminders(screening_id, kind, step, recipient, due_at) VALUES (?,?,?,?,?)",
            (screening_id, kind, step, recipient, to_db(due)),
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


async def hold(
    conn: Connection,
    screening_id: int | None,
    kind: str,
    step: str,
    recipient: str,
    now: dt.datetime,
) -> int:
    """A reminder delivered as part of a reply (the outcome message is the first reminder),
    written 'claimed' — held for that reply, never picked by the sender — until Telegram has
    accepted it (`mark_delivered`), or released to the sender if it did not (`release`; a
    crash leaves it claimed and `release_claimed` at the next start does the same)."""
    cursor = await conn.execute(
        "INSERT INTO reminders(screening_id, kind, step, recipient, due_at, state, claimed_at) "
        "VALUES (?,?,?,?,?,'claimed',?)",
        (screening_id, kind, step, recipient, to_db(now), to_db(now)),
    )
    return int(cursor.lastrowid or 0)


async def mark_delivered(conn: Connection, reminder_id: int, now: dt.datetime) -> bool:
    """A held row whose reply Telegram accepted: sent (False if no longer held)."""
    cursor = await conn.execute(
        "UPDATE reminders SET state='sent', sent_at=?, attempts=attempts+1, claimed_at=NULL "
        "WHERE id=? AND state='claimed'",
        (to_db(now), reminder_id),
    )
    return cursor.rowcount == 1


async def release(conn: Connection, ids: Iterable[int], at: dt.datetime | None = None) -> int:
    """These claimed rows (and only these) go back to the queue, due again at `at` (None:
    as soon as they are due). A sweep releases its own claims, never another's."""
    ids = list(ids)
    if not ids:
        return 0
    cursor = await conn.execute(
        f"UPDATE reminders SET state='scheduled', claimed_at=NULL, "
        f"next_attempt_at=COALESCE(?, next_attempt_at) "
        f"WHERE state='claimed' AND id IN ({','.join('?' * len(ids))})",
        (to_db(at) if at is not None else None, *ids),
    )
    return cursor.rowcount


async def cancel(
    conn: Connection,
    screening_id: int,
    kinds: Iterable[str] | None = None,
    *,
    steps: Iterable[str] | None = None,
) -> int:
    """Cancel what is still to be sent for a screening (all kinds, or the given ones; all
    steps, or the given ones — e.g. one follow-up question once it is answered)."""
    sql = "UPDATE reminders SET state='cancelled' WHERE screening_id=? AND state='scheduled'"
    params: list[object] = [screening_id]
    kinds = list(kinds) if kinds is not None else None
    if kinds:
        sql += f" AND kind IN ({','.join('?' * len(kinds))})"
        params.extend(kinds)
    steps = list(steps) if steps is not None else None
    if steps:
        sql += f" AND step IN ({','.join('?' * len(steps))})"
        params.extend(steps)
    cursor = await conn.execute(sql, params)
    return cursor.rowcount


async def has_scheduled(
    conn: Connection,
    screening_id: int,
    kind: str,
    step: str | None = None,
    *,
    recipient: str | None = None,
) -> bool:
    sql = "SELECT 1 FROM reminders WHERE screening_id=? AND kind=? AND state='scheduled'"
    params: list[object] = [screening_id, kind]
    if step is not None:
        sql += " AND step=?"
        params.append(step)
    if recipient is not None:
        sql += " AND recipient=?"
        params.append(recipient)
    rows = await fetch_all(conn, sql + " LIMIT 1", tuple(params))
    return bool(rows)


async def supersede_overdue(
    conn: Connection, now: dt.datetime, per_step_kinds: Iterable[str]
) -> list[Reminder]:
    """Catch-up over every overdue row (in the caller's transaction): a row due at *now* for
    which a later row of the same (screening, kind, recipient) is also due is marked skipped
    — whatever the claim batches. Kinds in `per_step_kinds` (each step a different message)
    are left alone. Returns the rows skipped (for the audit)."""
    stamp = to_db(now)
    excluded = list(per_step_kinds)
    marks = ",".join("?" * len(excluded)) or "''"
    rows = await fetch_all(
        conn,
        f"""SELECT r.* FROM reminders r
           WHERE r.state IN ('scheduled', 'claimed') AND r.state = 'scheduled'
             AND r.due_at <= ? AND r.kind NOT IN ({marks})
             AND EXISTS (
               SELECT 1 FROM reminders l
               WHERE l.screening_id IS r.screening_id AND l.kind = r.kind
                 AND l.recipient = r.recipient AND l.state IN ('scheduled', 'claimed')
                 AND l.due_at <= ? AND (l.due_at > r.due_at OR (l.due_at = r.due_at AND l.id > r.id)))
           ORDER BY r.due_at, r.id""",
        (stamp, *excluded, stamp),
    )
    for row in rows:
        await mark_skipped(conn, row["id"], "superseded by a later step")
    return [_reminder(r) for r in rows]


async def claim_due(
    conn: Connection,
    now: dt.datetime,
    limit: int = 100,
    *,
    kinds: Iterable[str] | None = None,
) -> list[Reminder]:
    """Claim what is due (in the caller's transaction). Claimed rows belong to this sweep
    until marked; a crash leaves them claimed and `release_claimed` puts them back."""
    stamp = to_db(now)
    # The redundant `state IN (...)` term repeats the partial index's WHERE clause: SQLite
    # only uses a partial index when the query's terms imply its condition literally, and
    # without it this is a full scan of every reminder ever written.
    only = list(kinds) if kinds is not None else None
    kind_filter = f"AND kind IN ({','.join('?' * len(only))})" if only else ""
    rows = await fetch_all(
        conn,
        f"""SELECT * FROM reminders
           WHERE state IN ('scheduled', 'claimed') AND state='scheduled' AND due_at <= ?
             AND (next_attempt_at IS NULL OR next_attempt_at <= ?) {kind_filter}
           ORDER BY due_at, id LIMIT ?""",
        (stamp, stamp, *(only or ()), limit),
    )
    if rows:
        ids = [r["id"] for r in rows]
        await conn.execute(
            f"UPDATE reminders SET state='claimed', claimed_at=? "
            f"WHERE id IN ({','.join('?' * len(ids))})",
            (stamp, *ids),
        )
    return [_reminder(r) for r in rows]


async def mark_sent(conn: Connection, reminder_id: int, now: dt.datetime, late: bool) -> None:
    await conn.execute(
        "UPDATE reminders SET state='sent', sent_at=?, late=?, attempts=attempts+1 WHERE id=?",
        (to_db(now), int(late), reminder_id),
    )


async def mark_skipped(conn: Connection, reminder_id: int, why: str) -> None:
    await conn.execute(
        "UPDATE reminders SET state='skipped', last_error=? WHERE id=?", (why, reminder_id)
    )


async def mark_failed(conn: Connection, reminder_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE reminders SET state='failed', last_error=?, attempts=attempts+1 WHERE id=?",
        (error, reminder_id),
    )


async def retry_later(conn: Connection, reminder_id: int, at: dt.datetime, error: str) -> None:
    await conn.execute(
        "UPDATE reminders SET state='scheduled', next_attempt_at=?, last_error=?, "
        "attempts=attempts+1 WHERE id=?",
        (to_db(at), error, reminder_id),
    )


async def release_claimed(conn: Connection) -> int:
    """At start and at shutdown: claimed-but-unmarked rows go back to the queue."""
    cursor = await conn.execute(
        "UPDATE reminders SET state='scheduled', claimed_at=NULL "
        "WHERE state IN ('scheduled', 'claimed') AND state='claimed'"  # partial index, see above
    )
    return cursor.rowcount


async def for_screening(conn: Connection, screening_id: int) -> list[Reminder]:
    rows = await fetch_all(
        conn, "SELECT * FROM reminders WHERE screening_id=? ORDER BY due_at, id", (screening_id,)
    )
    return [_reminder(r) for r in rows]
