"""Team membership (issue 24): invitations (stored by the SHA-256 of their token, never the
token), access end dates and their lapse, who a member is on Telegram, refused attempts.

SQL only; the rules are the core's (conversations/membership.py), the audit rows the flows'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from conversations.delegation import TrailAct
from storage.audit import parse_timestamp
from storage.sql import execute, fetch_all, fetch_one
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


def create_invitation(
    conn: Connection,
    token_hash: str,
    roles: frozenset[str],
    until_day: dt.date | None,
    by: int,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> int:
    new_id = execute(
        conn,
        "INSERT INTO invitations(token_hash, roles, until_day, created_by, created_at, "
        "expires_at) VALUES (:token_hash, :roles, :until_day, :created_by, :created_at, "
        ":expires_at) RETURNING id",
        {"token_hash": token_hash, "roles": ",".join(sorted(roles)),
         "until_day": until_day.isoformat() if until_day else None, "created_by": by,
         "created_at": to_db(now), "expires_at": to_db(expires_at)},
    ).scalar_one()  # fmt: skip
    return int(new_id)


def invitation_by_hash(conn: Connection, token_hash: str) -> Invitation | None:
    row = fetch_one(conn, f"{_INVITATION} WHERE token_hash=:token_hash", {"token_hash": token_hash})
    return _invitation(row) if row is not None else None


def invitation_by_id(conn: Connection, invitation_id: int) -> Invitation | None:
    row = fetch_one(
        conn, f"{_INVITATION} WHERE id=:invitation_id", {"invitation_id": invitation_id}
    )
    return _invitation(row) if row is not None else None


def use_invitation(conn: Connection, invitation_id: int, user_id: int, now: dt.datetime) -> bool:
    """Mark the invitation used by `user_id`: True for exactly one caller, even when two
    replicas try at once (one statement: the second finds `used_at` set and changes nothing)."""
    cursor = execute(
        conn,
        "UPDATE invitations SET used_by=:user_id, used_at=:now WHERE id=:invitation_id "
        "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :now",
        {"user_id": user_id, "now": to_db(now), "invitation_id": invitation_id},
    )
    return cursor.rowcount == 1


def pending_invitations(conn: Connection, now: dt.datetime) -> list[Invitation]:
    rows = fetch_all(
        conn,
        f"{_INVITATION} WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > :now "
        "ORDER BY id",
        {"now": to_db(now)},
    )
    return [_invitation(r) for r in rows]


def revoke_invitation(conn: Connection, invitation_id: int, by: int, now: dt.datetime) -> bool:
    cursor = execute(
        conn,
        "UPDATE invitations SET revoked_by=:by, revoked_at=:now WHERE id=:invitation_id "
        "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :now",
        {"by": by, "now": to_db(now), "invitation_id": invitation_id},
    )
    return cursor.rowcount == 1


def refusals(conn: Connection, telegram_id: int) -> tuple[dt.datetime | None, int]:
    """(start of this id's current window of refused attempts, attempts in it)."""
    row = fetch_one(
        conn,
        "SELECT window_start, attempts FROM invitation_attempts WHERE telegram_id=:telegram_id",
        {"telegram_id": telegram_id},
    )
    if row is None:
        return None, 0
    return from_db(row["window_start"]), int(row["attempts"])


def note_refusal(conn: Connection, telegram_id: int, now: dt.datetime, window: dt.timedelta) -> int:
    """Count one refused attempt (a new window once the last one is over). Returns the count."""
    start, attempts = refusals(conn, telegram_id)
    if start is None or now - start >= window:
        start, attempts = now, 0
    attempts += 1
    execute(
        conn,
        "INSERT INTO invitation_attempts(telegram_id, window_start, attempts) "
        "VALUES (:telegram_id, :window_start, :attempts) "
        "ON CONFLICT(telegram_id) DO UPDATE SET window_start=excluded.window_start, "
        "attempts=excluded.attempts",
        {"telegram_id": telegram_id, "window_start": to_db(start), "attempts": attempts},
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


def member(conn: Connection, telegram_id: int) -> Member | None:
    row = fetch_one(conn, f"{_MEMBER} WHERE telegram_id=:telegram_id", {"telegram_id": telegram_id})
    return _member(row) if row is not None else None


def members(conn: Connection) -> list[Member]:
    """Everyone listed now, in id order."""
    rows = fetch_all(conn, f"{_MEMBER} WHERE active=1 ORDER BY telegram_id")
    return [_member(r) for r in rows]


def set_identity(
    conn: Connection, telegram_id: int, full_name: str | None, username: str | None
) -> None:
    """Who the person is on Telegram (as Telegram gave it), for /users and the admins."""
    execute(
        conn,
        "UPDATE users SET full_name=:full_name, username=:username WHERE telegram_id=:telegram_id",
        {"full_name": full_name[:128] if full_name else None,
         "username": username[:64] if username else None, "telegram_id": telegram_id},
    )  # fmt: skip


def set_until(
    conn: Connection, telegram_id: int, day: dt.date | None, ends_at: dt.datetime | None
) -> None:
    """The last local day of the access and the instant it lapses (None, None: no end)."""
    execute(
        conn,
        "UPDATE users SET until_day=:until_day, access_until=:access_until "
        "WHERE telegram_id=:telegram_id",
        {"until_day": day.isoformat() if day else None,
         "access_until": to_db(ends_at) if ends_at else None, "telegram_id": telegram_id},
    )  # fmt: skip


def due_lapses(conn: Connection, now: dt.datetime) -> list[Member]:
    """Listed people whose access has reached its end."""
    rows = fetch_all(
        conn,
        f"{_MEMBER} WHERE active=1 AND access_until IS NOT NULL AND access_until <= :now "
        "ORDER BY telegram_id",
        {"now": to_db(now)},
    )
    return [_member(r) for r in rows]


def lapse(conn: Connection, telegram_id: int) -> bool:
    """End the access (kept for the trail's sake) and mark the person to be told once."""
    cursor = execute(
        conn,
        "UPDATE users SET active=0, lapse_notice=:notice WHERE telegram_id=:telegram_id "
        "AND active=1",
        {"notice": NOTICE_DUE, "telegram_id": telegram_id},
    )
    return cursor.rowcount == 1


def lapse_notices_due(conn: Connection) -> list[Member]:
    rows = fetch_all(
        conn,
        f"{_MEMBER} WHERE active=0 AND lapse_notice=:notice ORDER BY telegram_id",
        {"notice": NOTICE_DUE},
    )
    return [_member(r) for r in rows]


def mark_lapse_told(conn: Connection, telegram_id: int) -> None:
    execute(
        conn,
        "UPDATE users SET lapse_notice=:sent WHERE telegram_id=:telegram_id AND lapse_notice=:due",
        {"sent": NOTICE_SENT, "telegram_id": telegram_id, "due": NOTICE_DUE},
    )


def open_work_of(conn: Connection, telegram_id: int) -> list[tuple[str, str]]:
    """(screening number, status) of the open screenings the person started or last acted
    on, and of the patients they own in the D0 window — to hand over to the coordinators."""
    rows = fetch_all(
        conn,
        """SELECT s.number, s.status FROM screenings s
           LEFT JOIN ownership o ON o.screening_id = s.id
           WHERE s.status IN ('in_screening', 'screened')
             AND (s.clinician_id = :telegram_id OR s.last_actor_id = :telegram_id
                  OR o.owner_id = :telegram_id)
           ORDER BY s.id""",
        {"telegram_id": telegram_id},
    )
    return [(r["number"], r["status"]) for r in rows]


# --- the delegation log's sources ------------------------------------------------------------


def trail_acts(conn: Connection) -> list[TrailAct]:
    """Every row of the audit trail, in order, as the delegation log reads it."""
    rows = fetch_all(
        conn,
        "SELECT id, at, actor, action, field, old_value, new_value, reason FROM audit ORDER BY id",
    )
    return [
        TrailAct(r["id"], parse_timestamp(r["at"]), r["actor"], r["action"], r["field"],
                 r["old_value"], r["new_value"], r["reason"])
        for r in rows
    ]  # fmt: skip


def names(conn: Connection) -> dict[int, str]:
    """Everyone ever listed: "Name @username" as Telegram gave them, else their first name."""
    rows = fetch_all(
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
