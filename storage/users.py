"""Users and roles (clinician, coordinator, admin), their language, and access requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.connection import Connection
from storage.db import fetch_all, fetch_one
from storage.timefmt import to_db

ROLES = ("clinician", "coordinator", "admin")


@dataclass(frozen=True)
class User:
    telegram_id: int
    roles: frozenset[str]
    language: str | None

    def has(self, role: str) -> bool:
        """An admin may do everything (DESIGN.md)."""
        return role in self.roles or "admin" in self.roles


def roles_from_text(text: str) -> frozenset[str]:
    """The roles column ("admin,clinician") as a set."""
    return frozenset(r for r in text.split(",") if r)


def _roles_text(roles: frozenset[str] | set[str]) -> str:
    return ",".join(sorted(roles))


async def get_user(conn: Connection, telegram_id: int) -> User | None:
    row = await fetch_one(
        conn,
        "SELECT telegram_id, roles, language FROM users WHERE telegram_id=? AND active=1",
        (telegram_id,),
    )
    if row is None:
        return None
    return User(row["telegram_id"], roles_from_text(row["roles"]), row["language"])


async def list_users(conn: Connection) -> list[User]:
    rows = await fetch_all(
        conn, "SELECT telegram_id, roles, language FROM users WHERE active=1 ORDER BY telegram_id"
    )
    return [User(r["telegram_id"], roles_from_text(r["roles"]), r["language"]) for r in rows]


async def users_with_role(conn: Connection, role: str) -> list[int]:
    return [u.telegram_id for u in await list_users(conn) if role in u.roles]


async def grant_roles(
    conn: Connection, telegram_id: int, roles: set[str], by: str, now: dt.datetime
) -> tuple[frozenset[str], frozenset[str]]:
    """Add roles (creating or re-activating the user). Returns (old roles, new roles)."""
    existing = await fetch_one(
        conn, "SELECT roles, active FROM users WHERE telegram_id=?", (telegram_id,)
    )
    old = roles_from_text(existing["roles"]) if existing and existing["active"] else frozenset()
    new = old | frozenset(roles)
    if existing is None:
        await conn.execute(
            "INSERT INTO users(telegram_id, roles, added_by, added_at) VALUES (?,?,?,?)",
            (telegram_id, _roles_text(new), by, to_db(now)),
        )
    elif existing["active"]:
        await conn.execute(
            "UPDATE users SET roles=? WHERE telegram_id=?", (_roles_text(new), telegram_id)
        )
    else:  # back after a removal or a lapse: a new access, since now, granted by `by`
        await conn.execute(
            "UPDATE users SET roles=?, active=1, added_by=?, added_at=?, access_until=NULL, "
            "until_day=NULL, lapse_notice=NULL WHERE telegram_id=?",
            (_roles_text(new), by, to_db(now), telegram_id),
        )
    return old, new


async def remove_user(conn: Connection, telegram_id: int) -> frozenset[str] | None:
    """Deactivate (kept for the audit trail's sake). Returns the roles removed, None if unknown."""
    existing = await get_user(conn, telegram_id)
    if existing is None:
        return None
    await conn.execute("UPDATE users SET active=0 WHERE telegram_id=?", (telegram_id,))
    return existing.roles


async def set_language(conn: Connection, telegram_id: int, language: str) -> None:
    await conn.execute("UPDATE users SET language=? WHERE telegram_id=?", (language, telegram_id))


async def note_access_request(conn: Connection, telegram_id: int, now: dt.datetime) -> bool:
    """Record a refused user; True when the admins should be told (at most once a day)."""
    row = await fetch_one(
        conn, "SELECT last_notified_at FROM access_requests WHERE telegram_id=?", (telegram_id,)
    )
    if row is not None and to_db(now - dt.timedelta(days=1)) < row["last_notified_at"]:
        return False
    await conn.execute(
        "INSERT INTO access_requests(telegram_id, last_notified_at) VALUES (?, ?) "
        "ON CONFLICT(telegram_id) DO UPDATE SET last_notified_at=excluded.last_notified_at",
        (telegram_id, to_db(now)),
    )
    return True
