"""The SQLite database: opening it durably, numbered migrations, and write transactions.

The database is the single source of truth. WAL journal with `synchronous=FULL`: a
transaction the bot has committed (and then acknowledged to a user) survives a crash and a
power cut. Writes are serialised by one asyncio lock and run as `BEGIN IMMEDIATE`
transactions, so a transaction never fails half-way on a busy database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiosqlite

from storage.audit import AUDIT_STATEMENTS

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]


async def _v1_core(conn: aiosqlite.Connection) -> None:
    """Users, screenings, answers (never overwritten), the audit trail."""
    for statement in (
        *AUDIT_STATEMENTS,
        """CREATE TABLE users(
            telegram_id INTEGER PRIMARY KEY,
            roles TEXT NOT NULL,
            language TEXT,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1)""",
        """CREATE TABLE access_requests(
            telegram_id INTEGER PRIMARY KEY,
            last_notified_at TEXT NOT NULL)""",
        """CREATE TABLE screenings(
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            rescreen_of TEXT,
            clinician_id INTEGER NOT NULL,
            last_actor_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            outcome TEXT,
            reasons TEXT NOT NULL DEFAULT '',
            stage TEXT NOT NULL,
            cursor TEXT,
            proposed TEXT,
            prompt_message_id INTEGER,
            admission_date TEXT,
            d0_deadline TEXT,
            dose_cells INTEGER,
            injected_at TEXT,
            injected_by INTEGER,
            d0_override_reason TEXT,
            withdrawn_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            closed_at TEXT,
            last_activity_at TEXT NOT NULL,
            idle_reminded INTEGER NOT NULL DEFAULT 0,
            UNIQUE(site, sequence))""",
        "CREATE INDEX screenings_by_status ON screenings(status, last_activity_at)",
        """CREATE TABLE answers(
            id INTEGER PRIMARY KEY,
            screening_id INTEGER NOT NULL REFERENCES screenings(id),
            question_id TEXT NOT NULL,
            value TEXT,
            answered_by INTEGER NOT NULL,
            answered_at TEXT NOT NULL,
            source TEXT NOT NULL,
            reason TEXT)""",
        "CREATE INDEX answers_by_screening ON answers(screening_id, question_id, id)",
        """CREATE TABLE sessions(
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            screening_id INTEGER REFERENCES screenings(id),
            mode TEXT NOT NULL,
            data TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY(user_id, chat_id))""",
    ):
        await conn.execute(statement)


async def _v2_reminders(conn: aiosqlite.Connection) -> None:
    """The reminder outbox and the record of handled Telegram updates."""
    for statement in (
        """CREATE TABLE reminders(
            id INTEGER PRIMARY KEY,
            screening_id INTEGER REFERENCES screenings(id),
            kind TEXT NOT NULL,
            step TEXT NOT NULL,
            recipient TEXT NOT NULL,
            due_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'scheduled',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            claimed_at TEXT,
            sent_at TEXT,
            late INTEGER NOT NULL DEFAULT 0,
            last_error TEXT)""",
        # Partial index: the sweep only ever looks at what is still to be sent.
        """CREATE INDEX reminders_due ON reminders(due_at)
            WHERE state IN ('scheduled', 'claimed')""",
        "CREATE INDEX reminders_by_screening ON reminders(screening_id, kind)",
        """CREATE TABLE processed_updates(
            update_id INTEGER PRIMARY KEY,
            processed_at TEXT NOT NULL)""",
    ):
        await conn.execute(statement)


#: Schema version N is reached by applying MIGRATIONS[:N]. Append only; never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (_v1_core, _v2_reminders)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One connection per process (SQLite serialises writers anyway), one write lock."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True) -> Database:
        path = Path(path)
        _create_private(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        db = cls(conn, path)
        if migrate:
            await db.migrate()
        return db

    async def close(self) -> None:
        # A clean close checkpoints the WAL into the main file.
        await self.conn.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply pending migrations, each in its own transaction. Returns (from, to)."""
        start = await self.schema_version()
        if start > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {start} is newer than this program ({SCHEMA_VERSION})"
            )
        for version in range(start, target):
            async with self.transaction() as conn:
                await MIGRATIONS[version](conn)
                await conn.execute(f"PRAGMA user_version={version + 1}")
        return start, max(start, target)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception: nothing half-written."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (health data), before SQLite does."""
    if path.exists() or str(path) == ":memory:":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[sqlite3.Row]:
    async with conn.execute(sql, params) as cursor:
        rows = await cursor.fetchall()
    return list(rows)
