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

from storage import anchor as anchors
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


async def _v3_shown_prompt(conn: aiosqlite.Connection) -> None:
    """Which prompt of a screening Telegram actually delivered (`screenings.shown`): a typed
    answer is taken only for that question. Screenings open at the upgrade count as shown
    (the previous program did not know; asking again would surprise the clinician)."""
    await conn.execute("ALTER TABLE screenings ADD COLUMN shown TEXT")
    await conn.execute(
        """UPDATE screenings SET shown = CASE
               WHEN stage = 'scorten' THEN 'scorten:' || CASE WHEN instr(cursor, '@') > 0
                   THEN substr(cursor, 1, instr(cursor, '@') - 1) ELSE COALESCE(cursor, '') END
               ELSE stage || ':' || COALESCE(cursor, '') END
           WHERE status = 'in_screening' OR stage = 'scorten'"""
    )


async def _v4_protocol_version(conn: aiosqlite.Connection) -> None:
    """The protocol version each screening is judged under (issue 15). Screenings opened
    before versions were recorded were all judged under the only version there was."""
    await conn.execute(
        "ALTER TABLE screenings ADD COLUMN protocol_version TEXT NOT NULL DEFAULT 'LYSYME 1.0'"
    )


async def _v5_ownership(conn: aiosqlite.Connection) -> None:
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
MIGRATIONS: tuple[Migration, ...] = (
    _v1_core,
    _v2_reminders,
    _v3_shown_prompt,
    _v4_protocol_version,
    _v5_ownership,
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseGone(sqlite3.DatabaseError):
    """The database file was deleted or replaced under the running bot: no more writes."""


class Database:
    """One connection per process (SQLite serialises writers anyway), one write lock.

    A database opened to write (`migrate=True`, a file) is *anchored* (storage/anchor.py):
    checked against its anchor file at open, and the anchor moved forward after every commit
    that appended audit rows. Before every write transaction the path is compared with the
    file opened (device, inode): a deleted or replaced database refuses writes (DatabaseGone)
    and `on_gone` is called once."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._anchor: anchors.Anchor | None = None  # the last anchor written (anchored only)
        self.gone: str | None = None
        self.on_gone: Callable[[str], None] | None = None

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True) -> Database:
        """Open (and, with `migrate`, check against its anchor, migrate and anchor) the
        database. Raises anchors.DatabaseRefused with one line when it must not be used."""
        path = Path(path)
        in_memory = str(path) == ":memory:"
        if migrate and not in_memory:
            anchors.check(path)
        _create_private(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        db = cls(conn, path)
        if not in_memory:
            _tighten(path)  # the -wal and -shm exist now
            status = os.stat(path)
            db._identity = (status.st_dev, status.st_ino)
        if migrate:
            await db.migrate()
            if not in_memory:
                await db._anchor_now()
        return db

    async def _anchor_now(self) -> None:
        """Give the database its id if it has none, and write its anchor (at open)."""
        async with self._write_lock:
            await self.conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                (anchors.DATABASE_ID_KEY, anchors.new_database_id()),
            )
            self._anchor = anchors.read_anchor(anchors.anchor_path(self.path))
            await self._on_database_thread(self._write_anchor_if_moved)

    def _write_anchor_if_moved(self, raw: sqlite3.Connection) -> None:
        """After a commit, on the database thread, write lock held: move the anchor forward
        if audit rows were appended (one indexed read when they were not)."""
        database_id, rows, head = anchors.read_head(raw)
        if database_id is None:
            return
        current = anchors.Anchor(database_id, rows, head)
        if self._anchor is not None and self._anchor.same_head(current):
            return
        anchors.write_anchor(anchors.anchor_path(self.path), current)
        self._anchor = current

    def file_problem(self) -> str | None:
        """Why the path no longer leads to the file this connection writes, or None. The
        first time a problem is seen, `on_gone` is called."""
        if self._identity is None or self.gone is not None:
            return self.gone
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            problem = f"database file {self.path} was deleted"
        except OSError as exc:
            problem = f"database file {self.path} cannot be examined: {exc.strerror}"
        else:
            if (status.st_dev, status.st_ino) == self._identity:
                return None
            problem = f"database file {self.path} was replaced by another file"
        self.gone = problem
        if self.on_gone is not None:
            self.on_gone(problem)
        return problem

    def _refuse_if_gone(self) -> None:
        problem = self.file_problem()
        if problem is not None:
            raise DatabaseGone(problem)

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
            self._refuse_if_gone()
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")
                await self._after_commit()

    async def _after_commit(self) -> None:
        if self._anchor is not None:
            await self._on_database_thread(self._write_anchor_if_moved)

    async def _on_database_thread(self, job: Callable[[sqlite3.Connection], None]) -> None:
        """`job(raw connection)` on aiosqlite's thread (the connection is not thread-safe)."""
        raw = _raw_connection(self.conn)
        if raw is not None:
            hop: Callable[..., Awaitable[Any]] = self.conn._execute
            await hop(job, raw)

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
            self._refuse_if_gone()
            raw = _raw_connection(self.conn)
            if raw is None:  # an aiosqlite without the internals relied on: same, slower
                async with self.transaction() as conn:
                    return await body(conn)
            hop: Callable[..., Awaitable[Any]] = self.conn._execute  # one job on its thread
            after = self._write_anchor_if_moved if self._anchor is not None else None
            return cast(T, await hop(_run_inline, raw, body, after))


def _raw_connection(conn: aiosqlite.Connection) -> sqlite3.Connection | None:
    """The sqlite3 connection aiosqlite drives from its thread (internal to aiosqlite)."""
    try:
        raw = conn._conn
    except (AttributeError, ValueError):
        return None
    return raw if isinstance(raw, sqlite3.Connection) and hasattr(conn, "_execute") else None


def _run_inline(
    raw: sqlite3.Connection,
    body: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]],
    after_commit: Callable[[sqlite3.Connection], None] | None = None,
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
    if after_commit is not None:
        after_commit(raw)
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
    """Create the database file readable by its owner only (health data), before SQLite does.
    The folder must exist: a mistyped path is an error, not a new empty database."""
    if str(path) == ":memory:":
        return
    if not path.parent.is_dir():
        raise anchors.DatabaseRefused(
            f"the folder of LYSYME_DATABASE ({path.parent}) does not exist: create it, or fix "
            "the path"
        )
    if path.exists():
        return
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)


def _tighten(path: Path) -> None:
    """Owner only, for files an older version (or a copy) left readable by others."""
    for suffix in ("", "-wal", "-shm", anchors.ANCHOR_SUFFIX):
        with contextlib.suppress(OSError):  # -shm may be missing; not ours to own: leave it
            file = Path(f"{path}{suffix}")
            if file.exists() and file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)


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
