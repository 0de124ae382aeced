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

from conversations.reminder_kinds import Recipient, ReminderKind, ReminderState
from conversations.stored import Unrecognised, member
from storage.connection import Connection, dialect_of
from storage.db import fetch_all
from storage.leases import this_process
from storage.timefmt import from_db, maybe_from_db, to_db

TEAM = Recipient.TEAM
#: How long a claim is this process's own. Another process takes a claimed row over only after
#: that (its claimer died: kill -9, a lost machine); a claim is never taken from the living.
CLAIM_LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    """Who claims reminders: this process, under the leader lease's epoch (its fencing token;
    0 on SQLite, where one process owns the file). A row is marked by its claimer only while
    it is still claimed under the same (holder, epoch): `holds`."""

    holder: str
    epoch: int = 0


def claim_of(epoch: int = 0) -> Claim:
    """This process's claim under `epoch`."""
    return Claim(this_process(), epoch)


class ClaimLost(Exception):
    """The row is no longer claimed by this process under its epoch (a new leader re-queued
    or took it): it is left alone."""


def user_recipient(telegram_id: int) -> str:
    return f"user:{telegram_id}"


@dataclass(frozen=True)
class Reminder:
    id: int
    screening_id: int | None
    #: The core's members; `Unrecognised` for a text this program has no member for (a kind
    #: added by a newer program): the sender skips such a row with its reason.
    kind: ReminderKind | Unrecognised
    step: str
    recipient: str
    due_at: dt.datetime
    state: ReminderState | Unrecognised
    attempts: int
    sent_at: dt.datetime | None
    late: bool
    last_error: str | None


def _reminder(row: sqlite3.Row) -> Reminder:
    return Reminder(
        row["id"],
        row["screening_id"],
        member(ReminderKind, row["kind"]),
        row["step"],
        row["recipient"],
        from_db(row["due_at"]),
        member(ReminderState, row["state"]),
        row["attempts"],
        maybe_from_db(row["sent_at"]),
        bool(row["late"]),
        row["last_error"],
    )


async def schedule(
    conn: Connection,
    screening_id: int | None,
    kind: ReminderKind,
    step: str,
    due: dt.datetime,
    recipients: Iterable[str],
) -> list[int]:
    ids = []
    for recipient in dict.fromkeys(recipients):  # de-duplicated, order kept
        cursor = await conn.execute(
            "INSERT INTO reminders(screening_id, kind, step, recipient, due_at) VALUES (?,?,?,?,?) "
            "RETURNING id",
            (screening_id, kind, step, recipient, to_db(due)),
        )
        (new_id,) = await cursor.fetchone()
        ids.append(int(new_id))
    return ids


async def hold(
    conn: Connection,
    screening_id: int | None,
    kind: ReminderKind,
    step: str,
    recipient: str,
    now: dt.datetime,
) -> int:
    """A reminder delivered as part of a reply (the outcome message is the first reminder),
    written 'claimed' — held for that reply, never picked by the sender — until Telegram has
    accepted it (`mark_delivered`), or released to the sender if it did not (`release`; a
    crash leaves it claimed and `release_claimed` at the next start does the same)."""
    cursor = await conn.execute(
        "INSERT INTO reminders(screening_id, kind, step, recipient, due_at, state, claimed_at, "
        "claimed_by, claimed_until) VALUES (?,?,?,?,?,'claimed',?,?,?) RETURNING id",
        (screening_id, kind, step, recipient, to_db(now), to_db(now), this_process(),
         to_db(now + CLAIM_LEASE)),
    )  # fmt: skip
    (new_id,) = await cursor.fetchone()
    return int(new_id)


async def mark_delivered(conn: Connection, reminder_id: int, now: dt.datetime) -> bool:
    """A held row whose reply Telegram accepted: sent (False if no longer held)."""
    cursor = await conn.execute(
        "UPDATE reminders SET state='sent', sent_at=?, attempts=attempts+1, claimed_at=NULL "
        "WHERE id=? AND state='claimed'",
        (to_db(now), reminder_id),
    )
    return cursor.rowcount == 1


async def release(
    conn: Connection,
    ids: Iterable[int],
    at: dt.datetime | None = None,
    *,
    claim: Claim | None = None,
) -> int:
    """These claimed rows (and only these) go back to the queue, due again at `at` (None:
    as soon as they are due). A sweep releases its own claims, never another's: with `claim`,
    only the rows still claimed under it (a row a new leader re-queued or took is left)."""
    ids = list(ids)
    if not ids:
        return 0
    fence, params = "", []
    if claim is not None:
        fence = " AND claimed_by = ? AND COALESCE(claim_epoch, 0) = ?"
        params = [claim.holder, claim.epoch]
    cursor = await conn.execute(
        f"UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        f"claimed_until=NULL, claim_epoch=NULL, next_attempt_at=COALESCE(?, next_attempt_at) "
        f"WHERE state='claimed' AND id IN ({','.join('?' * len(ids))}){fence}",
        (to_db(at) if at is not None else None, *ids, *params),
    )
    return cursor.rowcount


async def cancel(
    conn: Connection,
    screening_id: int,
    kinds: Iterable[ReminderKind] | None = None,
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
    kind: ReminderKind,
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
    conn: Connection, now: dt.datetime, per_step_kinds: Iterable[ReminderKind]
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
               WHERE l.screening_id IS NOT DISTINCT FROM r.screening_id AND l.kind = r.kind
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
    kinds: Iterable[ReminderKind] | None = None,
    claim: Claim | None = None,
) -> list[Reminder]:
    """Claim what is due (in the caller's transaction), and what another process claimed and
    did not mark before its lease ran out (it died), or claimed under an older epoch of the
    leader lease (an ex-leader: fenced off at once). Claimed rows belong to this process until
    marked; a crash leaves them claimed: `release_claimed` at the next start puts them back
    (SQLite), or another replica takes them over once the lease has expired (PostgreSQL)."""
    stamp = to_db(now)
    claim = claim or claim_of()
    # The redundant `state IN (...)` term repeats the partial index's WHERE clause: SQLite
    # only uses a partial index when the query's terms imply its condition literally, and
    # without it this is a full scan of every reminder ever written.
    only = list(kinds) if kinds is not None else None
    kind_filter = f"AND kind IN ({','.join('?' * len(only))})" if only else ""
    rows = await fetch_all(
        conn,
        f"""SELECT * FROM reminders
           WHERE state IN ('scheduled', 'claimed') AND due_at <= ?
             AND ((state='scheduled' AND (next_attempt_at IS NULL OR next_attempt_at <= ?))
                  OR (state='claimed' AND ((claimed_by IS DISTINCT FROM ?
                      AND (claimed_until IS NULL OR claimed_until < ?)) OR claim_epoch < ?)))
             {kind_filter}
           ORDER BY due_at, id LIMIT ?{_SKIP_LOCKED.get(dialect_of(conn), "")}""",
        (stamp, stamp, claim.holder, stamp, claim.epoch, *(only or ()), limit),
    )
    if rows:
        ids = [r["id"] for r in rows]
        await conn.execute(
            f"UPDATE reminders SET state='claimed', claimed_at=?, claimed_by=?, claimed_until=?, "
            f"claim_epoch=? WHERE id IN ({','.join('?' * len(ids))})",
            (stamp, claim.holder, to_db(now + CLAIM_LEASE), claim.epoch, *ids),
        )
    return [_reminder(r) for r in rows]


async def holds(conn: Connection, reminder_id: int, claim: Claim) -> bool:
    """Whether the row is still claimed by `claim` (holder and epoch), in the caller's write
    transaction — on PostgreSQL with the row locked until it ends, so nobody re-queues or takes
    it between this check and the mark that follows."""
    rows = await fetch_all(
        conn,
        "SELECT 1 FROM reminders WHERE id=? AND state='claimed' AND claimed_by=? "
        f"AND COALESCE(claim_epoch, 0)=?{_LOCK_ROW.get(dialect_of(conn), '')}",
        (reminder_id, claim.holder, claim.epoch),
    )
    return bool(rows)


async def keep(conn: Connection, reminder_id: int, claim: Claim) -> None:
    """`holds`, or ClaimLost (the caller's transaction then rolls back: nothing is marked)."""
    if not await holds(conn, reminder_id, claim):
        raise ClaimLost(f"reminder {reminder_id} is no longer claimed by {claim.holder} "
                        f"under epoch {claim.epoch}")  # fmt: skip


#: PostgreSQL: a row another replica is claiming right now is passed over, not waited for.
#: (Writes also hold the database's write lock, storage/postgres.py; this keeps the claim
#: correct on its own.)
_SKIP_LOCKED = {"postgresql": " FOR UPDATE SKIP LOCKED"}
_LOCK_ROW = {"postgresql": " FOR UPDATE"}


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
    """At start and at shutdown: claimed-but-unmarked rows go back to the queue. On SQLite
    one process uses the database (its file lock), so every claim is released: a previous
    run's too. On PostgreSQL only this process's: another replica's claim is its own until
    its lease expires (`claim_due`)."""
    sql = (
        "UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        "claimed_until=NULL, claim_epoch=NULL WHERE state IN ('scheduled', 'claimed') "
        "AND state='claimed'"
    )  # the redundant state term: the partial index, see claim_due
    if dialect_of(conn) == "sqlite":
        cursor = await conn.execute(sql)
    else:
        cursor = await conn.execute(sql + " AND claimed_by = ?", (this_process(),))
    return cursor.rowcount


async def release_claims_of(
    conn: Connection, holder: str, *, lease: str | None = None, new: Claim | None = None
) -> int:
    """A replica that took the leader lease over from `holder` (dead, or frozen: its lease
    expired) puts `holder`'s claims back in the queue at once, rather than after their own
    lease. Fenced: with `lease` and `new`, only while `new` (holder, epoch) still holds that
    lease — a leader that lost it meanwhile re-queues nothing."""
    fence, params = "", []
    if lease is not None and new is not None:
        fence = " AND EXISTS (SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ?)"
        params = [lease, new.holder, new.epoch]
    cursor = await conn.execute(
        "UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        "claimed_until=NULL, claim_epoch=NULL WHERE state IN ('scheduled', 'claimed') "
        f"AND state='claimed' AND claimed_by = ?{fence}",
        (holder, *params),
    )
    return cursor.rowcount


async def for_screening(conn: Connection, screening_id: int) -> list[Reminder]:
    rows = await fetch_all(
        conn, "SELECT * FROM reminders WHERE screening_id=? ORDER BY due_at, id", (screening_id,)
    )
    return [_reminder(r) for r in rows]
