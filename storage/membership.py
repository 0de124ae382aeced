"""Team membership (issue 24): invitations (stored by the SHA-256 of their token, never the
token), access end dates and their lapse, who a member is on Telegram, refused attempts.

SQL only; the rules are the core's (conversations/membership.py), the audit rows the flows'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from conversations.delegation import TrailAct
from storage.audit import parse_timestamp
from storage.connection import Connection
from storage.db import fetch_all, fetch_one
from storage.timefmt import from_db, maybe_from_db, to_db
from storage.users import roles_from_text

#: `users.lapse_notice`: the person is to be told their access ended, or was told.
NOTICE_DUE = "due"
NOTICE_SENT = "sent"


@dataclass(frozen=True)
class Invitation:
    id: int
    roles: frozenset[str]
    until_day: dt.date | None
    created_by: int
    created_at: dt.datetime
    expires_at: dt.datetime
    used_by: int | None
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class Member:
    """A person listed now or before (`active` False: removed or lapsed)."""

    telegram_id: int
    roles: frozenset[str]
    active: bool
    since: dt.datetime
    granted_by: str
    access_until: dt.datetime | None  # the instant the access lapses
    until_day: dt.date | None  # its last local day, as the admin typed it
    full_name: str | None
    username: str | None
    language: str | None


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _invitation(row: Any) -> Invitation:
    return Invitation(
        row["id"],
        roles_from_text(row["roles"]),
        _day(row["until_day"]),
        row["created_by"],
        from_db(row["created_at"]),
        from_db(row["expires_at"]),
        row["used_by"],
        maybe_from_db(row["used_at"]),
        maybe_from_db(row["revoked_at"]),
    )


_INVITATION = (
    "SELECT id, roles, until_day, created_by, created_at, expires_at, used_by, used_at, "
    "revoked_at FROM invitations"
)


async def create_invitation(
    conn: Connection,
    token_hash: str,
    roles: frozenset[str],
    until_day: dt.date | None,
    by: int,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> int:
    rows = await conn.execute_fetchall(
        "INSERT INTO invitations(token_hash, roles, until_day, created_by, created_at, "
        "expires_at) VALUES (?,?,?,?,?,?) RETURNING id",
        (token_hash, ",".join(sorted(roles)), until_day.isoformat() if until_day else None, by,
         to_db(now), to_db(expires_at)),
    )  # fmt: skip
    return int(rows[0][0])


async def invitation_by_hash(conn: Connection, token_hash: str) -> Invitation | None:
    row = await fetch_one(conn, f"{_INVITATION} WHERE token_hash=?", (token_hash,))
    return _invitation(row) if row is not None else None


async def invitation_by_id(conn: Connection, invitation_id: int) -> Invitation | None:
    row = await fetch_one(conn, f"{_INVITATION} WHERE id=?", (invitation_id,))
    return _invitation(row) if row is not None else None


async def use_invitation(
    conn: Connection, invitation_id: int, user_id: int, now: dt.datetime
) -> bool:
    """Mark the invitation used by `user_id`: True for exactly one caller, even when two
    replicas try at once (one statement: the second finds `used_at` set and changes nothing)."""
    cursor = await conn.execute(
        "UPDATE invitations SET used_by=?, used_at=? WHERE id=? AND used_at IS NULL "
        "AND revoked_at IS NULL AND expires_at > ?",
        (user_id, to_db(now), invitation_id, to_db(now)),
    )
    return cursor.rowcount == 1


async def pending_invitations(conn: Connection, now: dt.datetime) -> list[Invitation]:
    rows = await fetch_all(
        conn,
        f"{_INVITATION} WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ? "
        "ORDER BY id",
        (to_db(now),),
    )
    return [_invitation(r) for r in rows]


async def revoke_invitation(
    conn: Connection, invitation_id: int, by: int, now: dt.datetime
) -> bool:
    cursor = await conn.execute(
        "UPDATE invitations SET revoked_by=?, revoked_at=? WHERE id=? AND used_at IS NULL "
        "AND revoked_at IS NULL AND expires_at > ?",
        (by, to_db(now), invitation_id, to_db(now)),
    )
    return cursor.rowcount == 1


async def refusals(conn: Connection, telegram_id: int) -> tuple[dt.datetime | None, int]:
    """(start of this id's current window of refused attempts, attempts in it)."""
    row = await fetch_one(
        conn,
        "SELECT window_start, attempts FROM invitation_attempts WHERE telegram_id=?",
        (telegram_id,),
    )
    if row is None:
        return None, 0
    return from_db(row["window_start"]), int(row["attempts"])


async def note_refusal(
    conn: Connection, telegram_id: int, now: dt.datetime, window: dt.timedelta
) -> int:
    """Count one refused attempt (a new window once the last one is over). Returns the count."""
    start, attempts = await refusals(conn, telegram_id)
    if start is None or now - start >= window:
        start, attempts = now, 0
    attempts += 1
    await conn.execute(
        "INSERT INTO invitation_attempts(telegram_id, window_start, attempts) VALUES (?,?,?) "
        "ON CONFLICT(telegram_id) DO UPDATE SET window_start=excluded.window_start, "
        "attempts=excluded.attempts",
        (telegram_id, to_db(start), attempts),
    )
    return attempts


# --- members --------------------------------------------------------------------------------

_MEMBER = (
    "SELECT telegram_id, roles, active, added_at, added_by, access_until, until_day, "
    "full_name, username, language FROM users"
)


def _member(row: Any) -> Member:
    return Member(
        row["telegram_id"],
        roles_from_text(row["roles"]),
        bool(row["active"]),
        from_db(row["added_at"]),
        row["added_by"],
        maybe_from_db(row["access_until"]),
        _day(row["until_day"]),
        row["full_name"],
        row["username"],
        row["language"],
    )


async def member(conn: Connection, telegram_id: int) -> Member | None:
    row = await fetch_one(conn, f"{_MEMBER} WHERE telegram_id=?", (telegram_id,))
    return _member(row) if row is not None else None


async def members(conn: Connection) -> list[Member]:
    """Everyone listed now, in id order."""
    rows = await fetch_all(conn, f"{_MEMBER} WHERE active=1 ORDER BY telegram_id")
    return [_member(r) for r in rows]


async def set_identity(
    conn: Connection, telegram_id: int, full_name: str | None, username: str | None
) -> None:
    """Who the person is on Telegram (as Telegram gave it), for /users and the admins."""
    await conn.execute(
        "UPDATE users SET full_name=?, username=? WHERE telegram_id=?",
        (full_name[:128] if full_name else None, username[:64] if username else None,
         telegram_id),
    )  # fmt: skip


async def set_until(
    conn: Connection, telegram_id: int, day: dt.date | None, ends_at: dt.datetime | None
) -> None:
    """The last local day of the access and the instant it lapses (None, None: no end)."""
    await conn.execute(
        "UPDATE users SET until_day=?, access_until=? WHERE telegram_id=?",
        (day.isoformat() if day else None, to_db(ends_at) if ends_at else None, telegram_id),
    )


async def due_lapses(conn: Connection, now: dt.datetime) -> list[Member]:
    """Listed people whose access has reached its end."""
    rows = await fetch_all(
        conn,
        f"{_MEMBER} WHERE active=1 AND access_until IS NOT NULL AND access_until <= ? "
        "ORDER BY telegram_id",
        (to_db(now),),
    )
    return [_member(r) for r in rows]


async def lapse(conn: Connection, telegram_id: int) -> bool:
    """End the access (kept for the trail's sake) and mark the person to be told once."""
    cursor = await conn.execute(
        "UPDATE users SET active=0, lapse_notice=? WHERE telegram_id=? AND active=1",
        (NOTICE_DUE, telegram_id),
    )
    return cursor.rowcount == 1


async def lapse_notices_due(conn: Connection) -> list[Member]:
    rows = await fetch_all(
        conn, f"{_MEMBER} WHERE active=0 AND lapse_notice=? ORDER BY telegram_id", (NOTICE_DUE,)
    )
    return [_member(r) for r in rows]


async def mark_lapse_told(conn: Connection, telegram_id: int) -> None:
    await conn.execute(
        "UPDATE users SET lapse_notice=? WHERE telegram_id=? AND lapse_notice=?",
        (NOTICE_SENT, telegram_id, NOTICE_DUE),
    )


async def open_work_of(conn: Connection, telegram_id: int) -> list[tuple[str, str]]:
    """(screening number, status) of the open screenings the person started or last acted
    on, and of the patients they own in the D0 window — to hand over to the coordinators."""
    rows = await fetch_all(
        conn,
        """SELECT s.number, s.status FROM screenings s
           LEFT JOIN ownership o ON o.screening_id = s.id
           WHERE s.status IN ('in_screening', 'screened')
             AND (s.clinician_id = ? OR s.last_actor_id = ? OR o.owner_id = ?)
           ORDER BY s.id""",
        (telegram_id, telegram_id, telegram_id),
    )
    return [(r["number"], r["status"]) for r in rows]


# --- the delegation log's sources ------------------------------------------------------------


async def trail_acts(conn: Connection) -> list[TrailAct]:
    """Every row of the audit trail, in order, as the delegation log reads it."""
    rows = await fetch_all(
        conn,
        "SELECT id, at, actor, action, field, old_value, new_value, reason FROM audit ORDER BY id",
    )
    return [
        TrailAct(r["id"], parse_timestamp(r["at"]), r["actor"], r["action"], r["field"],
                 r["old_value"], r["new_value"], r["reason"])
        for r in rows
    ]  # fmt: skip


async def names(conn: Connection) -> dict[int, str]:
    """Everyone ever listed: "Name @username" as Telegram gave them, else their first name."""
    rows = await fetch_all(
        conn,
        """SELECT u.telegram_id, u.full_name, u.username, r.display_name FROM users u
           LEFT JOIN user_reach r ON r.telegram_id = u.telegram_id""",
    )
    found: dict[int, str] = {}
    for r in rows:
        parts = [r["full_name"] or r["display_name"] or "",
                 f"@{r['username']}" if r["username"] else ""]  # fmt: skip
        name = " ".join(p for p in parts if p)
        if name:
            found[int(r["telegram_id"])] = name
    return found
