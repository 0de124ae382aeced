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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import aiosqlite

from storage.audit import AUDIT_STATEMENTS

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]
T = TypeVar("T")


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


async def _v3_ownership(conn: aiosqlite.Connection) -> None:
    """Issue 14, in tables of their own (existing rows untouched): who owns a patient in the
    D0 window and its planned injection time; which Telegram message each reminder became,
    who acknowledged it and what cancelled it; users who cannot be reached privately (and
    their first name, staff only); the team's morning board message."""
    for statement in (
        """CREATE TABLE ownership(
            screening_id INTEGER PRIMARY KEY REFERENCES screenings(id),
            owner_id INTEGER,
            acknowledged_at TEXT,
            planned_at TEXT)""",
        """CREATE TABLE reminder_notes(
            reminder_id INTEGER PRIMARY KEY REFERENCES reminders(id),
            message_chat_id INTEGER,
            message_id INTEGER,
            acknowledged_by INTEGER,
            acknowledged_at TEXT,
            cancelled_by TEXT,
            rerouted_from TEXT)""",
        "CREATE INDEX reminder_notes_by_message ON reminder_notes(message_chat_id, message_id)",
        """CREATE TABLE user_reach(
            telegram_id INTEGER PRIMARY KEY,
            display_name TEXT,
            unreachable_since TEXT,
            unreachable_why TEXT)""",
        """CREATE TABLE boards(
            day TEXT PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
    ):
        await conn.execute(statement)


#: Schema version N is reached by applying MIGRATIONS[:N]. Append only; never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (_v1_core, _v2_reminders, _v3_ownership)
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
        """Wait for the transaction in progress, checkpoint the WAL into the database file
        (TRUNCATE: the -wal file is left empty), and close. SQLite checkpoints by itself when
        the last connection closes, but not while another process (a backup, the health
        check) has the file open."""
        async with self._write_lock:
            with contextlib.suppress(sqlite3.Error, ValueError):  # ValueError: already closed
                await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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

    async def run(self, body: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]) -> T:
        """`body(conn)` as one write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on any
        exception) executed on the database thread in ONE hop, instead of one hop per
        statement as with `transaction()` — for the hot path (every screening answer).

        `body` is an ordinary async function written against the connection API the storage
        functions use (execute, execute_fetchall, executemany, cursor…), but it runs
        synchronously on the database thread: it must await nothing except the connection
        (no asyncio, no Telegram). If it does, it fails with RuntimeError and rolls back.
        Same durability and atomicity as `transaction()`; the event loop is free meanwhile.
        """
        async with self._write_lock:
            raw = _raw_connection(self.conn)
            if raw is None:  # an aiosqlite without the internals relied on: same, slower
                async with self.transaction() as conn:
                    return await body(conn)
            hop: Callable[..., Awaitable[Any]] = self.conn._execute  # one job on its thread
            return cast(T, await hop(_run_inline, raw, body))


def _raw_connection(conn: aiosqlite.Connection) -> sqlite3.Connection | None:
    """The sqlite3 connection aiosqlite drives from its thread (internal to aiosqlite)."""
    try:
        raw = conn._conn
    except (AttributeError, ValueError):
        return None
    return raw if isinstance(raw, sqlite3.Connection) and hasattr(conn, "_execute") else None


def _run_inline(
    raw: sqlite3.Connection, body: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]
) -> T:
    """On the database thread: BEGIN IMMEDIATE, drive `body` to completion, COMMIT."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        coroutine = body(cast(aiosqlite.Connection, _InlineConnection(raw)))
        try:
            coroutine.send(None)
        except StopIteration as finished:
            result = cast(T, finished.value)
        else:
            coroutine.close()
            raise RuntimeError("a Database.run body awaited something other than the database")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return result


class _Done:
    """An awaitable that is already complete (awaiting it never suspends)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover - makes this a generator that finishes at once


class _InlineCursor:
    """aiosqlite.Cursor's API over a sqlite3 cursor, on the thread that owns it."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Any = ()) -> _InlineCursor:
        self._cursor.execute(sql, parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def row_factory(self) -> Any:
        return self._cursor.row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._cursor.row_factory = factory

    async def __aenter__(self) -> _InlineCursor:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cursor.close()


class _CursorResult:
    """What `execute` returns: awaited (`await conn.execute(...)`) or entered
    (`async with conn.execute(...) as cursor`), like aiosqlite's."""

    def __init__(self, cursor: _InlineCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, _InlineCursor]:
        return _Done(self._cursor).__await__()

    async def __aenter__(self) -> _InlineCursor:
        return self._cursor

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._cursor.close()


class _InlineConnection:
    """The subset of aiosqlite.Connection that storage/ uses, run directly on the database
    thread (inside `Database.run`). Transaction control belongs to `run`."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def execute(self, sql: str, parameters: Any = ()) -> _CursorResult:
        return _CursorResult(_InlineCursor(self._raw.execute(sql, parameters or ())))

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        return self._raw.execute(sql, parameters or ()).fetchall()

    async def execute_insert(self, sql: str, parameters: Any = ()) -> Any:
        self._raw.execute(sql, parameters or ())
        return self._raw.execute("SELECT last_insert_rowid()").fetchone()

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _InlineCursor:
        return _InlineCursor(self._raw.executemany(sql, parameters))

    async def cursor(self) -> _InlineCursor:
        return _InlineCursor(self._raw.cursor())

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction

    @property
    def row_factory(self) -> Any:
        return self._raw.row_factory

    @property
    def total_changes(self) -> int:
        return self._raw.total_changes

    async def commit(self) -> None:
        raise RuntimeError("Database.run commits when its body returns")

    async def rollback(self) -> None:
        raise RuntimeError("Database.run rolls back when its body raises")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (health data), before SQLite does."""
    if path.exists() or str(path) == ":memory:":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)


# Each `await` on aiosqlite is one hop to its database thread and back (~40 µs here): a
# read through a cursor (execute, fetch, close) is three; `execute_fetchall` is one.


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> sqlite3.Row | None:
    """The first row (for queries that return at most one), in one hop to the database thread."""
    rows = await conn.execute_fetchall(sql, params)
    for row in rows:
        first: sqlite3.Row = row
        return first
    return None


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[sqlite3.Row]:
    """Every row, in one hop to the database thread."""
    return list(await conn.execute_fetchall(sql, params))


def probe_read_only(path: Path, timeout: float) -> int:
    """The schema version, read through a separate read-only connection (the health check
    runs in its own process and must never write or hold a lock)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    return version
