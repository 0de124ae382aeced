"""The reminder outbox: one row per (screening, kind, step, recipient), written in the same
transaction as the event that creates it, read by the sender.

States: scheduled → claimed → sent | failed, or skipped (caught up after downtime) /
cancelled (injection, withdrawal). A recipient is symbolic ("team", "user:<id>") and resolved
when the message is sent, so a team chat that migrates to a supergroup is followed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping

from conversations.reminder_kinds import Recipient, ReminderKind, ReminderState
from conversations.stored import Unrecognised, member
from storage.leases import this_process
from storage.sql import dialect, execute, fetch_all, listed
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


def _reminder(row: RowMapping) -> Reminder:
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


def schedule(
    conn: Connection,
    screening_id: int | None,
    kind: ReminderKind,
    step: str,
    due: dt.datetime,
    recipients: Iterable[str],
) -> list[int]:
    ids = []
    for recipient in dict.fromkeys(recipients):  # de-duplicated, order kept
        new_id = execute(
            conn,
            "INSERT INTO reminders(screening_id, kind, step, recipient, due_at) "
            "VALUES (:screening_id, :kind, :step, :recipient, :due_at) RETURNING id",
            {"screening_id": screening_id, "kind": kind, "step": step, "recipient": recipient,
             "due_at": to_db(due)},
        ).scalar_one()  # fmt: skip
        ids.append(int(new_id))
    return ids


def hold(
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
    new_id = execute(
        conn,
        "INSERT INTO reminders(screening_id, kind, step, recipient, due_at, state, claimed_at, "
        "claimed_by, claimed_until) VALUES (:screening_id, :kind, :step, :recipient, :now, "
        "'claimed', :now, :claimed_by, :claimed_until) RETURNING id",
        {"screening_id": screening_id, "kind": kind, "step": step, "recipient": recipient,
         "now": to_db(now), "claimed_by": this_process(),
         "claimed_until": to_db(now + CLAIM_LEASE)},
    ).scalar_one()  # fmt: skip
    return int(new_id)


def mark_delivered(conn: Connection, reminder_id: int, now: dt.datetime) -> bool:
    """A held row whose reply Telegram accepted: sent (False if no longer held)."""
    cursor = execute(
        conn,
        "UPDATE reminders SET state='sent', sent_at=:now, attempts=attempts+1, claimed_at=NULL "
        "WHERE id=:reminder_id AND state='claimed'",
        {"now": to_db(now), "reminder_id": reminder_id},
    )
    return cursor.rowcount == 1


def release(
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
    marks, params = listed("id", ids)
    fence = ""
    if claim is not None:
        fence = " AND claimed_by = :holder AND COALESCE(claim_epoch, 0) = :epoch"
        params |= {"holder": claim.holder, "epoch": claim.epoch}
    cursor = execute(
        conn,
        f"UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        f"claimed_until=NULL, claim_epoch=NULL, "
        f"next_attempt_at=COALESCE(:next_attempt_at, next_attempt_at) "
        f"WHERE state='claimed' AND id IN ({marks}){fence}",
        {"next_attempt_at": to_db(at) if at is not None else None, **params},
    )
    return cursor.rowcount


def cancel(
    conn: Connection,
    screening_id: int,
    kinds: Iterable[ReminderKind] | None = None,
    *,
    steps: Iterable[str] | None = None,
) -> int:
    """Cancel what is still to be sent for a screening (all kinds, or the given ones; all
    steps, or the given ones — e.g. one follow-up question once it is answered)."""
    sql = (
        "UPDATE reminders SET state='cancelled' "
        "WHERE screening_id=:screening_id AND state='scheduled'"
    )
    params: dict[str, object] = {"screening_id": screening_id}
    kinds = list(kinds) if kinds is not None else None
    if kinds:
        marks, listed_kinds = listed("kind", kinds)
        sql += f" AND kind IN ({marks})"
        params |= listed_kinds
    steps = list(steps) if steps is not None else None
    if steps:
        marks, listed_steps = listed("step", steps)
        sql += f" AND step IN ({marks})"
        params |= listed_steps
    cursor = execute(conn, sql, params)
    return cursor.rowcount


def has_scheduled(
    conn: Connection,
    screening_id: int,
    kind: ReminderKind,
    step: str | None = None,
    *,
    recipient: str | None = None,
) -> bool:
    sql = (
        "SELECT 1 FROM reminders "
        "WHERE screening_id=:screening_id AND kind=:kind AND state='scheduled'"
    )
    params: dict[str, object] = {"screening_id": screening_id, "kind": kind}
    if step is not None:
        sql += " AND step=:step"
        params["step"] = step
    if recipient is not None:
        sql += " AND recipient=:recipient"
        params["recipient"] = recipient
    rows = fetch_all(conn, sql + " LIMIT 1", params)
    return bool(rows)


def supersede_overdue(
    conn: Connection, now: dt.datetime, per_step_kinds: Iterable[ReminderKind]
) -> list[Reminder]:
    """Catch-up over every overdue row (in the caller's transaction): a row due at *now* for
    which a later row of the same (screening, kind, recipient) is also due is marked skipped
    — whatever the claim batches. Kinds in `per_step_kinds` (each step a different message)
    are left alone. Returns the rows skipped (for the audit)."""
    stamp = to_db(now)
    marks, excluded = listed("kind", per_step_kinds)
    marks = marks or "''"
    rows = fetch_all(
        conn,
        f"""SELECT r.* FROM reminders r
           WHERE r.state IN ('scheduled', 'claimed') AND r.state = 'scheduled'
             AND r.due_at <= :now AND r.kind NOT IN ({marks})
             AND EXISTS (
               SELECT 1 FROM reminders l
               WHERE l.screening_id IS NOT DISTINCT FROM r.screening_id AND l.kind = r.kind
                 AND l.recipient = r.recipient AND l.state IN ('scheduled', 'claimed')
                 AND l.due_at <= :now AND (l.due_at > r.due_at OR (l.due_at = r.due_at AND l.id > r.id)))
           ORDER BY r.due_at, r.id""",
        {"now": stamp, **excluded},
    )
    for row in rows:
        mark_skipped(conn, row["id"], "superseded by a later step")
    return [_reminder(r) for r in rows]


def claim_due(
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
    kind_marks, kinds_listed = listed("kind", only or ())
    kind_filter = f"AND kind IN ({kind_marks})" if only else ""
    rows = fetch_all(
        conn,
        f"""SELECT * FROM reminders
           WHERE state IN ('scheduled', 'claimed') AND due_at <= :now
             AND ((state='scheduled' AND (next_attempt_at IS NULL OR next_attempt_at <= :now))
                  OR (state='claimed' AND ((claimed_by IS DISTINCT FROM :holder
                      AND (claimed_until IS NULL OR claimed_until < :now)) OR claim_epoch < :epoch)))
             {kind_filter}
           ORDER BY due_at, id LIMIT :limit{_SKIP_LOCKED.get(dialect(conn), "")}""",
        {"now": stamp, "holder": claim.holder, "epoch": claim.epoch, "limit": limit,
         **kinds_listed},
    )  # fmt: skip
    if rows:
        marks, ids = listed("id", (r["id"] for r in rows))
        execute(
            conn,
            f"UPDATE reminders SET state='claimed', claimed_at=:now, claimed_by=:holder, "
            f"claimed_until=:claimed_until, claim_epoch=:epoch WHERE id IN ({marks})",
            {"now": stamp, "holder": claim.holder, "claimed_until": to_db(now + CLAIM_LEASE),
             "epoch": claim.epoch, **ids},
        )  # fmt: skip
    return [_reminder(r) for r in rows]


def holds(conn: Connection, reminder_id: int, claim: Claim) -> bool:
    """Whether the row is still claimed by `claim` (holder and epoch), in the caller's write
    transaction — on PostgreSQL with the row locked until it ends, so nobody re-queues or takes
    it between this check and the mark that follows."""
    rows = fetch_all(
        conn,
        "SELECT 1 FROM reminders WHERE id=:reminder_id AND state='claimed' "
        "AND claimed_by=:holder "
        f"AND COALESCE(claim_epoch, 0)=:epoch{_LOCK_ROW.get(dialect(conn), '')}",
        {"reminder_id": reminder_id, "holder": claim.holder, "epoch": claim.epoch},
    )
    return bool(rows)


def keep(conn: Connection, reminder_id: int, claim: Claim) -> None:
    """`holds`, or ClaimLost (the caller's transaction then rolls back: nothing is marked)."""
    if not holds(conn, reminder_id, claim):
        raise ClaimLost(f"reminder {reminder_id} is no longer claimed by {claim.holder} "
                        f"under epoch {claim.epoch}")  # fmt: skip


#: PostgreSQL: a row another replica is claiming right now is passed over, not waited for.
#: (Writes also hold the database's write lock, storage/postgres.py; this keeps the claim
#: correct on its own.)
_SKIP_LOCKED = {"postgresql": " FOR UPDATE SKIP LOCKED"}
_LOCK_ROW = {"postgresql": " FOR UPDATE"}


def mark_sent(conn: Connection, reminder_id: int, now: dt.datetime, late: bool) -> None:
    execute(
        conn,
        "UPDATE reminders SET state='sent', sent_at=:now, late=:late, attempts=attempts+1 "
        "WHERE id=:reminder_id",
        {"now": to_db(now), "late": int(late), "reminder_id": reminder_id},
    )


def mark_skipped(conn: Connection, reminder_id: int, why: str) -> None:
    execute(
        conn,
        "UPDATE reminders SET state='skipped', last_error=:why WHERE id=:reminder_id",
        {"why": why, "reminder_id": reminder_id},
    )


def mark_failed(conn: Connection, reminder_id: int, error: str) -> None:
    execute(
        conn,
        "UPDATE reminders SET state='failed', last_error=:error, attempts=attempts+1 "
        "WHERE id=:reminder_id",
        {"error": error, "reminder_id": reminder_id},
    )


def retry_later(conn: Connection, reminder_id: int, at: dt.datetime, error: str) -> None:
    execute(
        conn,
        "UPDATE reminders SET state='scheduled', next_attempt_at=:at, last_error=:error, "
        "attempts=attempts+1 WHERE id=:reminder_id",
        {"at": to_db(at), "error": error, "reminder_id": reminder_id},
    )


def release_claimed(conn: Connection) -> int:
    """At start and at shutdown: claimed-but-unmarked rows go back to the queue. On SQLite
    one process uses the database (its file lock), so every claim is released: a previous
    run's too. On PostgreSQL only this process's: another replica's claim is its own until
    its lease expires (`claim_due`)."""
    sql = (
        "UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        "claimed_until=NULL, claim_epoch=NULL WHERE state IN ('scheduled', 'claimed') "
        "AND state='claimed'"
    )  # the redundant state term: the partial index, see claim_due
    if dialect(conn) == "sqlite":
        cursor = execute(conn, sql)
    else:
        cursor = execute(conn, sql + " AND claimed_by = :holder", {"holder": this_process()})
    return cursor.rowcount


def release_claims_of(
    conn: Connection, holder: str, *, lease: str | None = None, new: Claim | None = None
) -> int:
    """A replica that took the leader lease over from `holder` (dead, or frozen: its lease
    expired) puts `holder`'s claims back in the queue at once, rather than after their own
    lease. Fenced: with `lease` and `new`, only while `new` (holder, epoch) still holds that
    lease — a leader that lost it meanwhile re-queues nothing."""
    fence = ""
    params: dict[str, object] = {"holder": holder}
    if lease is not None and new is not None:
        fence = (
            " AND EXISTS (SELECT 1 FROM leases WHERE name = :lease AND holder = :new_holder "
            "AND epoch = :new_epoch)"
        )
        params |= {"lease": lease, "new_holder": new.holder, "new_epoch": new.epoch}
    cursor = execute(
        conn,
        "UPDATE reminders SET state='scheduled', claimed_at=NULL, claimed_by=NULL, "
        "claimed_until=NULL, claim_epoch=NULL WHERE state IN ('scheduled', 'claimed') "
        f"AND state='claimed' AND claimed_by = :holder{fence}",
        params,
    )
    return cursor.rowcount


def for_screening(conn: Connection, screening_id: int) -> list[Reminder]:
    rows = fetch_all(
        conn,
        "SELECT * FROM reminders WHERE screening_id=:screening_id ORDER BY due_at, id",
        {"screening_id": screening_id},
    )
    return [_reminder(r) for r in rows]
