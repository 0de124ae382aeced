"""Named leases in the database: one process at a time holds "leader" (it polls Telegram,
which allows one getUpdates consumer, and sends the reminders: bot/telegram/leadership.py), renewing it
every few seconds; when its holder dies, the lease expires
and a standby takes it. Each change is one statement inside a write transaction, so two
replicas asking at the same moment cannot both win.

Each lease has an *epoch*, a fencing token: one more each time another holder takes it (a
renewal keeps it). A leader's reminder claims carry it (storage/reminders.py), so what an
ex-leader claimed is told apart from what the new one claims, and a clean stop keeps it (the
lease is expired, not deleted: the count never goes back).

A process is named `host:pid:random` (`this_process`): the random part tells apart two runs
that happened to get the same pid (a container restarted).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass

from sqlalchemy import Connection

from storage.sql import execute, fetch_one, value
from storage.timefmt import from_db, to_db

_names: dict[int, str] = {}


def this_process() -> str:
    """This process's name in claims and leases (computed again after a fork)."""
    pid = os.getpid()
    if pid not in _names:
        _names[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}"
    return _names[pid]


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: dt.datetime
    acquired_at: dt.datetime
    epoch: int = 0

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at > now


def acquire(
    conn: Connection, name: str, now: dt.datetime, duration: dt.timedelta, holder: str = ""
) -> bool:
    """Take or renew `name` for `duration` (in the caller's write transaction): True if this
    process holds it now — it was free, expired, or already ours."""
    return take(conn, name, now, duration, holder) is not None


def take(
    conn: Connection, name: str, now: dt.datetime, duration: dt.timedelta, holder: str = ""
) -> Lease | None:
    """Take or renew `name` for `duration` (in the caller's transaction): the lease, with its
    epoch, if this process holds it now; None if another does. Taking it from another holder
    (its lease expired) moves the epoch on; renewing keeps it."""
    holder = holder or this_process()
    stamp = to_db(now)
    execute(
        conn,
        """INSERT INTO leases(name, holder, expires_at, acquired_at, epoch)
           VALUES (:name, :holder, :expires_at, :acquired_at, 1)
           ON CONFLICT(name) DO UPDATE SET
               epoch = CASE WHEN leases.holder = excluded.holder
                            THEN leases.epoch ELSE leases.epoch + 1 END,
               acquired_at = CASE WHEN leases.holder = excluded.holder
                                  THEN leases.acquired_at ELSE excluded.acquired_at END,
               holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at <= :now""",
        {
            "name": name,
            "holder": holder,
            "expires_at": to_db(now + duration),
            "acquired_at": stamp,
            "now": stamp,
        },
    )
    current = current_holder(conn, name)
    return current if current is not None and current.holder == holder else None


#: A released lease expires at this instant (kept, with its epoch, for the next holder).
_RELEASED = to_db(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))


def server_now(conn: Connection) -> dt.datetime:
    """The database server's clock (PostgreSQL: the transaction's start): leases compared on
    one clock, whatever the replicas' own clocks say (they may differ by minutes)."""
    now = value(conn, "SELECT now()")
    if isinstance(now, dt.datetime):
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return from_db(str(now))


def release(conn: Connection, name: str, holder: str = "") -> bool:
    """Give `name` up at once (a clean stop): a standby need not wait for it to expire. The
    row stays (expired), so the next holder's epoch is still one more."""
    cursor = execute(
        conn,
        "UPDATE leases SET expires_at = :released WHERE name = :name AND holder = :holder "
        "AND expires_at <> :released",
        {"released": _RELEASED, "name": name, "holder": holder or this_process()},
    )
    return cursor.rowcount == 1


def current_holder(conn: Connection, name: str) -> Lease | None:
    row = fetch_one(
        conn,
        "SELECT name, holder, expires_at, acquired_at, epoch FROM leases WHERE name = :name",
        {"name": name},
    )
    if row is None:
        return None
    return Lease(
        row["name"],
        row["holder"],
        from_db(row["expires_at"]),
        from_db(row["acquired_at"]),
        int(row["epoch"]),
    )
