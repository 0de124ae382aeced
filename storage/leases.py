"""Named leases in the database: one process at a time holds "leader" (it polls Telegram,
which allows one getUpdates consumer, and sends the reminders: bot/leadership.py), renewing it
every few seconds; when its holder dies, the lease expires
and a standby takes it. Each change is one statement inside a write transaction, so two
replicas asking at the same moment cannot both win.

A process is named `host:pid:random` (`this_process`): the random part tells apart two runs
that happened to get the same pid (a container restarted).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass

from storage.connection import Connection
from storage.db import fetch_one
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

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at > now


async def acquire(
    conn: Connection, name: str, now: dt.datetime, duration: dt.timedelta, holder: str = ""
) -> bool:
    """Take or renew `name` for `duration` (in the caller's write transaction): True if this
    process holds it now — it was free, expired, or already ours."""
    holder = holder or this_process()
    stamp = to_db(now)
    await conn.execute(
        """INSERT INTO leases(name, holder, expires_at, acquired_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET
               acquired_at = CASE WHEN leases.holder = excluded.holder
                                  THEN leases.acquired_at ELSE excluded.acquired_at END,
               holder = excluded.holder, expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at <= ?""",
        (name, holder, to_db(now + duration), stamp, stamp),
    )
    current = await current_holder(conn, name)
    return current is not None and current.holder == holder


async def release(conn: Connection, name: str, holder: str = "") -> bool:
    """Give `name` up at once (a clean stop): a standby need not wait for it to expire."""
    cursor = await conn.execute(
        "DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder or this_process())
    )
    return cursor.rowcount == 1


async def current_holder(conn: Connection, name: str) -> Lease | None:
    row = await fetch_one(
        conn, "SELECT name, holder, expires_at, acquired_at FROM leases WHERE name = ?", (name,)
    )
    if row is None:
        return None
    return Lease(row[0], row[1], from_db(row[2]), from_db(row[3]))
