"""PostgreSQL behind the same storage API as SQLite (issue 16): `LYSYME_DATABASE=postgresql://…`.

psycopg 3, used synchronously through SQLAlchemy (storage/postgres_db.py): the storage
functions are the same plain functions on both backends, each transaction one hop to a
database thread. SQLAlchemy binds the parameters in psycopg's style and keeps the pools.

What differs from SQLite lives here (and, for the schema, in the revisions of storage/migrations):

* how a connection is opened: UTC, the write sessions' limits below the leader lease, the
  lease connection's short network timeouts, read-only sessions for reads;
* psycopg's errors as storage's own (storage/errors.py, `translated`);
* several replicas write to one database. Every write transaction first takes one
  transaction-scoped advisory lock (`WRITE_LOCK`, one per schema): writes are applied one at
  a time across all replicas, in the same order SQLite's `BEGIN IMMEDIATE` gives one process.
  That lock is the audit head lock (the chain stays one total order), serialises one
  screening's answers, and makes "claim this update id" and "claim these reminders"
  race-free. It is held for one short transaction (no Telegram call ever runs inside one),
  and the trial's load is a few writes a minute;
* reads run in `REPEATABLE READ` read-only transactions: one snapshot of committed rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from storage.errors import StorageConflict, StorageError, StorageIntegrity, StorageUnavailable

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("lysyme.storage")

SCHEMES = ("postgresql://", "postgres://")
#: The advisory lock every write transaction holds (any constant shared by all replicas).
WRITE_LOCK = 0x4C5953594D45  # "LYSYME"
#: One lock per schema (advisory locks are per database): the replicas of one trial share it,
#: two trials kept in two schemas of one database (or two test runs) do not wait for each other.
WRITE_LOCK_KEY = f"{WRITE_LOCK} + coalesce(hashtext(current_schema()), 0)"
#: The first statement of every write transaction (READ COMMITTED, the server's default).
TAKE_WRITE_LOCK = f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"
CONNECT_TIMEOUT = 10


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def translated(exc: Exception) -> StorageError:
    """psycopg's exception as storage's own (storage/errors.py); the caller keeps the original
    as `__cause__`:

    * a transaction that lost to another — serialization failure, deadlock (class 40), a lock
      not granted within `lock_timeout` (55P03) → `StorageConflict`;
    * a constraint (class 23: unique, foreign key, the audit trigger's ERRCODE 23000) →
      `StorageIntegrity`;
    * the server unreachable or gone (connection refused or lost, shut down, an idle or
      statement timeout), or a write on a read-only connection (a standby after a failover)
      → `StorageUnavailable`;
    * anything else → `StorageError`.
    """
    import psycopg

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind: type[StorageError]
    if isinstance(
        exc,
        psycopg.errors.TransactionRollback
        | psycopg.errors.SerializationFailure
        | psycopg.errors.DeadlockDetected
        | psycopg.errors.LockNotAvailable,
    ):
        kind = StorageConflict
    elif isinstance(exc, psycopg.errors.IntegrityError):
        kind = StorageIntegrity
    elif isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.errors.ReadOnlySqlTransaction
        | psycopg.errors.QueryCanceled
        | psycopg.errors.IdleInTransactionSessionTimeout,
    ):
        kind = StorageUnavailable
    else:
        kind = StorageError
    return kind(message)


def session_limits(lease: float) -> tuple[str, ...]:
    """The write connections' limits, below the leader lease (`lease` seconds, 3–20):

    * a session left idle inside a transaction (its process frozen — SIGSTOP, a GC pause, a
      VM freeze — or cut off) is ended by the server after a third of the lease (2 s at
      least), which releases its locks: a frozen writer holds nobody up for long, and its
      transaction is gone before a standby may take the lead over (after the whole lease);
    * a write waits at most two thirds of the lease for the write lock (3 s at least:
      longer than the idle limit, so it outlasts a frozen holder), then answers "try again"
      as a busy SQLite file does.

    No transaction of the bot waits on anything but the database."""
    idle = max(2.0, lease / 3)
    wait = max(idle + 1.0, lease * 2 / 3)
    return (
        f"SET lock_timeout = '{int(wait * 1000)}ms'",
        f"SET idle_in_transaction_session_timeout = '{int(idle * 1000)}ms'",
    )


#: With the default 15 s lease: 10 s for the write lock, 5 s idle in a transaction.
WRITE_SESSION = session_limits(15.0)


def lease_limits(lease: float) -> tuple[str, ...]:
    """The first statements of a lease transaction (no write lock): its statements give up
    after a third of the lease, so a renewal never outlives the time it is meant to keep."""
    limit = int(max(1.0, lease / 3) * 1000)
    return (
        f"SET LOCAL lock_timeout = '{limit}ms'",
        f"SET LOCAL statement_timeout = '{limit}ms'",
    )


def open_connection(
    url: str, read_only: bool, session: Sequence[str] = WRITE_SESSION, *, lease: float = 0
) -> psycopg.Connection[Any]:
    import psycopg

    options = "-c default_transaction_read_only=on" if read_only else None
    kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT}
    if lease:
        # The lease connection: a dead network (a TCP drop) fails within the lease instead of
        # blocking its thread until the kernel gives up (minutes).
        kwargs["connect_timeout"] = max(2, int(lease / 3))
        kwargs["tcp_user_timeout"] = int(lease * 1000 / 3)
        kwargs.update(keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2)
    if options:
        existing = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("options", [""])[0]
        kwargs["options"] = f"{existing} {options}".strip()
    raw = psycopg.connect(url, **kwargs)
    raw.execute("SET TIME ZONE 'UTC'")
    if not read_only:
        for setting in session:
            raw.execute(setting)
    raw.autocommit = False  # SQLAlchemy begins and ends the transactions
    return raw


def probe_schema_version(url: str, timeout: float) -> int:
    """The schema version, read on a connection of its own (the health check, in its own
    process: it never writes and holds nothing)."""
    import psycopg

    try:
        return _probe(url, timeout)
    except psycopg.Error as exc:
        raise translated(exc) from exc


def _probe(url: str, timeout: float) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
        conn.execute("SET default_transaction_read_only = on")
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(version[0] or 0) if version else 0


def cut(raw: psycopg.Connection[Any]) -> None:
    """From any thread: shut the connection's socket down, both ways. A statement waiting for
    an answer on it (a network that went silent) fails at once ("server closed the
    connection")."""
    with contextlib.suppress(Exception):  # already closed: nothing to cut
        duplicate = socket.socket(fileno=os.dup(raw.pgconn.socket))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
