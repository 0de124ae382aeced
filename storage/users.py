"""Users and roles (clinician, coordinator, admin), their language, and access requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from storage.sql import execute, fetch_all, fetch_one
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


@dataclass(frozen=True)
class Reach:
    """What the bot knows of reaching a person (storage/ownership.py `user_reach`): the Telegram
    first name kept for "taken by …", and whether their private chat refused a message."""

    display_name: str | None
    unreachable: bool


def roles_from_text(text: str) -> frozenset[str]:
    """The roles column ("admin,clinician") as a set."""
    return frozenset(r for r in text.split(",") if r)


def _roles_text(roles: frozenset[str] | set[str]) -> str:
    return ",".join(sorted(roles))


def get_user(conn: Connection, telegram_id: int) -> User | None:
    row = fetch_one(
        conn,
        "SELECT telegram_id, roles, language FROM users WHERE telegram_id=:telegram_id AND active=1",
        {"telegram_id": telegram_id},
    )
    if row is None:
        return None
    return User(row["telegram_id"], roles_from_text(row["roles"]), row["language"])


def list_users(conn: Connection) -> list[User]:
    rows = fetch_all(
        conn, "SELECT telegram_id, roles, language FROM users WHERE active=1 ORDER BY telegram_id"
    )
    return [User(r["telegram_id"], roles_from_text(r["roles"]), r["language"]) for r in rows]


def users_with_role(conn: Connection, role: str) -> list[int]:
    return [u.telegram_id for u in list_users(conn) if role in u.roles]


def grant_roles(
    conn: Connection, telegram_id: int, roles: set[str], by: str, now: dt.datetime
) -> tuple[frozenset[str], frozenset[str]]:
    """Add roles (creating or re-activating the user). Returns (old roles, new roles)."""
    existing = fetch_one(
        conn,
        "SELECT roles, active FROM users WHERE telegram_id=:telegram_id",
        {"telegram_id": telegram_id},
    )
    old = roles_from_text(existing["roles"]) if existing and existing["active"] else frozenset()
    new = old | frozenset(roles)
    if existing is None:
        execute(
            conn,
            "INSERT INTO users(telegram_id, roles, added_by, added_at) "
            "VALUES (:telegram_id, :roles, :added_by, :added_at)",
            {"telegram_id": telegram_id, "roles": _roles_text(new), "added_by": by,
             "added_at": to_db(now)},
        )  # fmt: skip
    elif existing["active"]:
        execute(
            conn,
            "UPDATE users SET roles=:roles WHERE telegram_id=:telegram_id",
            {"roles": _roles_text(new), "telegram_id": telegram_id},
        )
    else:  # back after a removal or a lapse: a new access, since now, granted by `by`
        execute(
            conn,
            "UPDATE users SET roles=:roles, active=1, added_by=:added_by, added_at=:added_at, "
            "access_until=NULL, until_day=NULL, lapse_notice=NULL WHERE telegram_id=:telegram_id",
            {"roles": _roles_text(new), "added_by": by, "added_at": to_db(now),
             "telegram_id": telegram_id},
        )  # fmt: skip
    return old, new


def remove_user(conn: Connection, telegram_id: int) -> frozenset[str] | None:
    """Deactivate (kept for the audit trail's sake). Returns the roles removed, None if unknown."""
    existing = get_user(conn, telegram_id)
    if existing is None:
        return None
    execute(
        conn,
        "UPDATE users SET active=0 WHERE telegram_id=:telegram_id",
        {"telegram_id": telegram_id},
    )
    return existing.roles


def set_language(conn: Connection, telegram_id: int, language: str) -> None:
    execute(
        conn,
        "UPDATE users SET language=:language WHERE telegram_id=:telegram_id",
        {"language": language, "telegram_id": telegram_id},
    )


def note_access_request(conn: Connection, telegram_id: int, now: dt.datetime) -> bool:
    """Record a refused user; True when the admins should be told (at most once a day)."""
    row = fetch_one(
        conn,
        "SELECT last_notified_at FROM access_requests WHERE telegram_id=:telegram_id",
        {"telegram_id": telegram_id},
    )
    if row is not None and to_db(now - dt.timedelta(days=1)) < row["last_notified_at"]:
        return False
    execute(
        conn,
        "INSERT INTO access_requests(telegram_id, last_notified_at) "
        "VALUES (:telegram_id, :last_notified_at) "
        "ON CONFLICT(telegram_id) DO UPDATE SET last_notified_at=excluded.last_notified_at",
        {"telegram_id": telegram_id, "last_notified_at": to_db(now)},
    )
    return True
