"""The SQLite database: opening it durably, numbered migrations, write transactions, reads.

The database is the single source of truth. WAL journal with `synchronous=FULL`: a
transaction the bot has committed (and then acknowledged to a user) survives a crash and a
power cut. Writes are serialised by one asyncio lock and run as `BEGIN IMMEDIATE`
transactions, so a transaction never fails half-way on a busy database. Reads use read-only
connections of their own: a WAL snapshot, never a row a writer has not committed, and never
the write lock. Every connection is a plain `sqlite3.Connection` on a thread this module
owns (storage/connection.py).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

from storage import anchor as anchors
from storage import lock as locks
from storage.audit import AUDIT_STATEMENTS
from storage.connection import Connection, DatabaseThread

Migration = Callable[[Connection], Awaitable[None]]
log = logging.getLogger("lysyme.storage")
T = TypeVar("T")


async def _v1_core(conn: Connection) -> None:
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


async def _v2_reminders(conn: Connection) -> None:
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


async def _v3_shown_prompt(conn: Connection) -> None:
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


async def _v4_protocol_version(conn: Connection) -> None:
    """The protocol version each screening is judged under (issue 15). Screenings opened
    before versions were recorded were all judged under the only version there was."""
    await conn.execute(
        "ALTER TABLE screenings ADD COLUMN protocol_version TEXT NOT NULL DEFAULT 'LYSYME 1.0'"
    )


async def _v5_ownership(conn: Connection) -> None:
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


async def _v6_leases(conn: Connection) -> None:
    """Issue 16, several replicas: who claimed a reminder and until when (a claim of a dead
    replica is taken over once it has expired), and the named leases (polling, sending) one
    replica holds at a time."""
    for statement in (
        "ALTER TABLE reminders ADD COLUMN claimed_by TEXT",
        "ALTER TABLE reminders ADD COLUMN claimed_until TEXT",
        """CREATE TABLE leases(
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            acquired_at TEXT NOT NULL)""",
    ):
        await conn.execute(statement)


async def _v7_taken_and_answered(conn: Connection) -> None:
    """Issue 26: when the current owner took the patient (kept when a plan is added; the
    latest acknowledgement stays in `acknowledged_at`), and who answered a follow-up question
    a reminder asked, and when (every copy of it then reads as answered)."""
    for statement in (
        "ALTER TABLE ownership ADD COLUMN taken_at TEXT",
        "ALTER TABLE reminder_notes ADD COLUMN answered_by INTEGER",
        "ALTER TABLE reminder_notes ADD COLUMN answered_at TEXT",
    ):
        await conn.execute(statement)


async def _v8_membership(conn: Connection) -> None:
    """Issue 24, team membership: each access's end (the instant it lapses and the local day
    shown), who the person is on Telegram (name, username), whether they were told of a
    lapse; invitations (the token's SHA-256 only, never the token); refused attempts per id."""
    for statement in (
        "ALTER TABLE users ADD COLUMN access_until TEXT",
        "ALTER TABLE users ADD COLUMN until_day TEXT",
        "ALTER TABLE users ADD COLUMN full_name TEXT",
        "ALTER TABLE users ADD COLUMN username TEXT",
        "ALTER TABLE users ADD COLUMN lapse_notice TEXT",
        "CREATE INDEX users_by_access_until ON users(access_until) WHERE active = 1",
        """CREATE TABLE invitations(
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            roles TEXT NOT NULL,
            until_day TEXT,
            created_by INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_by INTEGER,
            used_at TEXT,
            revoked_by INTEGER,
            revoked_at TEXT)""",
        """CREATE TABLE invitation_attempts(
            telegram_id INTEGER PRIMARY KEY,
            window_start TEXT NOT NULL,
            attempts INTEGER NOT NULL)""",
    ):
        await conn.execute(statement)


async def _v9_lease_epoch(conn: Connection) -> None:
    """Issue 23, fencing: the leader lease's epoch (one more at each takeover), and the epoch
    under which a reminder was claimed. A row is marked by its claimer only while its claim
    is intact; an ex-leader's claim (an older epoch) is taken over at once."""
    for statement in (
        "ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE reminders ADD COLUMN claim_epoch INTEGER",
    ):
        await conn.execute(statement)


#: Schema version N is reached by applying MIGRATIONS[:N]. Append only; never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (
    _v1_core,
    _v2_reminders,
    _v3_shown_prompt,
    _v4_protocol_version,
    _v5_ownership,
    _v6_leases,
    _v7_taken_and_answered,
    _v8_membership,
    _v9_lease_epoch,
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseGone(sqlite3.DatabaseError):
    """The database file was deleted or replaced under the running bot: no more writes."""


class Database(abc.ABC):
    """The bot's database, whichever the backend: `Database.open(target)` opens SQLite for a
    file path and PostgreSQL for a `postgresql://` URL (storage/postgres.py). Both give the
    same API — `conn`, `read()`, `transaction()`, `run(body)`, `migrate()`, `close()` — and
    the storage functions are written once against `Connection`."""

    #: "sqlite" or "postgresql": for the few statements written differently per backend.
    dialect = "sqlite"
    path: Path
    gone: str | None = None
    on_gone: Callable[[str], None] | None = None
    #: Called (on the event loop, once per episode) when something failed *after* a commit —
    #: the anchor file not written: the data is saved, the admins must hear of the fault.
    on_fault: Callable[[str], None] | None = None

    @classmethod
    async def open(
        cls, path: str | Path, *, migrate: bool = True, pool_size: int = 5, lease: float = 15.0
    ) -> Database:
        """Open (and, with `migrate`, bring up to date) the database at `path`: a SQLite file,
        or a PostgreSQL URL (`lease`: the leader lease in seconds, which bounds its write
        connections' lock waits). Raises anchors.DatabaseRefused with one line when it must
        not be used."""
        from storage.postgres import is_postgres_url

        if is_postgres_url(path):
            from storage.postgres_db import PostgresDatabase

            return await PostgresDatabase.open_url(
                str(path), migrate=migrate, pool_size=pool_size, lease=lease
            )
        return await SqliteDatabase.open_file(Path(path), migrate=migrate)

    @property
    def label(self) -> str:
        """How the database is named in logs and messages (never with a password)."""
        return str(self.path)

    @property
    @abc.abstractmethod
    def conn(self) -> Connection:
        """A read connection in autocommit mode (each statement its own snapshot)."""

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """One read snapshot of committed rows, without the write lock."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """One write transaction, rolled back on any exception."""

    def lease_transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A short write transaction for the leader lease (bot/leadership.py). SQLite: the one
        process leads, an ordinary `transaction()`. PostgreSQL: a connection of its own,
        without the write lock, so a renewal never waits behind a writer."""
        return self.transaction()

    @abc.abstractmethod
    async def run(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """`body(conn)` as one write transaction in one hop to the database thread."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The number of migrations applied."""

    @abc.abstractmethod
    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply pending migrations, each in its own transaction. Returns (from, to)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Wait for the transaction in progress and close every connection."""

    def abort(self) -> None:
        """From any thread, at a stop that the database holds up: cut every connection at
        once, so that a statement waiting on a database that went silent fails now instead of
        when the network gives up (minutes), and open none again. SQLite: nothing to cut (a
        local file answers)."""
        return None

    @staticmethod
    def refuse_newer(version: int) -> None:
        """A database migrated by a newer program is never touched by this one."""
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {version} is newer than this program ({SCHEMA_VERSION})"
            )

    def file_problem(self) -> str | None:
        """Why the database can no longer be written (SQLite: the file was deleted or
        replaced), or None."""
        return None


class SqliteDatabase(Database):
    """The SQLite database: one write connection, read-only connections beside it.

    * Writes: one connection on its own thread (SQLite serialises writers anyway), one asyncio
      write lock, `BEGIN IMMEDIATE` … `COMMIT` — `transaction()` (one hop per statement) or
      `run(body)` (the whole transaction in one hop: the hot path).
    * Reads: `read()` (several statements, one WAL snapshot) and `conn` (autocommit: each
      statement its own snapshot) use read-only connections (`mode=ro`) on a thread of their
      own. A read never takes the write lock, never waits for a writer, and never sees
      uncommitted rows: in WAL mode a reader sees the last commit before its snapshot began.

    A database opened to write (`migrate=True`) is *anchored* (storage/anchor.py): checked
    against its anchor file at open, and the anchor moved forward after every commit that
    appended audit rows. Before every write transaction the path is compared with the file
    opened (device, inode): a deleted or replaced database refuses writes (DatabaseGone) and
    `on_gone` is called once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = asyncio.Lock()
        # One thread each: a sqlite3 connection stays on the thread that created it (default
        # check_same_thread), and a thread runs one statement at a time.
        self._write_thread = DatabaseThread("lysyme-db-write")
        self._read_thread = DatabaseThread("lysyme-db-read")
        self._writer: Connection | None = None
        self._reader: Connection | None = None  # autocommit, shared (`conn`)
        self._idle_readers: list[Connection] = []  # for `read()` snapshots
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        #: The same for its -wal and -shm, once they exist (SQLite creates them at first use).
        self._journal: dict[str, tuple[int, int]] = {}
        self._anchor: anchors.Anchor | None = None  # the last anchor written (anchored only)
        self.gone: str | None = None
        self.on_gone: Callable[[str], None] | None = None
        self.on_fault: Callable[[str], None] | None = None
        self._fault: str | None = None  # what failed after the last commit (the anchor)
        self._fault_told = False

    @classmethod
    async def open_file(cls, path: Path, *, migrate: bool = True) -> SqliteDatabase:
        """Open (and, with `migrate`, check against its anchor, migrate and anchor) the
        database file. Raises anchors.DatabaseRefused with one line when it must not be used."""
        if str(path) == ":memory:":
            # A read-only connection beside the writer needs a file to open.
            raise anchors.DatabaseRefused("LYSYME_DATABASE must be a file, not :memory:")
        if migrate:
            anchors.check(path)
        _create_private(path)
        try:  # the file itself is locked once it exists, if this process holds its lock file
            locks.hold_database_file(path)
        except locks.DatabaseLocked as exc:
            raise anchors.DatabaseRefused(str(exc)) from None
        db = cls(path)
        try:
            raw = await db._write_thread.call(_open_writer, path)
            db._writer = Connection(raw, db._write_thread)
            _tighten(path)  # the -wal and -shm exist now
            status = os.stat(path)
            db._identity = (status.st_dev, status.st_ino)
            db._reader = await db._open_reader()
            db._idle_readers.append(await db._open_reader())  # for `read()`
            if migrate:
                await db.migrate()
                await db._anchor_now()
            db._note_journal()
        except BaseException:
            await db.close()
            raise
        return db

    async def _open_reader(self) -> Connection:
        raw = await self._read_thread.call(_open_reader, self.path)
        return Connection(raw, self._read_thread)

    @property
    def conn(self) -> Connection:
        """A read-only connection in autocommit mode: each statement sees the database as of
        the last commit. For several reads that must agree with each other, use `read()`."""
        if self._reader is None:
            raise sqlite3.ProgrammingError("the database is closed")
        return self._reader

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read transaction on a read-only connection: every statement inside sees the same
        committed state (one WAL snapshot), whatever is written meanwhile. No write lock."""
        if self._idle_readers:
            reader = self._idle_readers.pop()
        else:
            self._refuse_if_gone()  # a new connection would open whatever the path leads to now
            reader = await self._open_reader()
        try:
            await reader.execute("BEGIN")  # deferred: the snapshot starts at the first read
        except BaseException:
            await reader.call(reader.raw.close)
            raise
        try:
            yield reader
        finally:
            try:
                await reader.execute("COMMIT")  # ends the snapshot (nothing to commit)
            except BaseException:
                await reader.call(reader.raw.close)
                raise
            if self._reader is not None and len(self._idle_readers) < _IDLE_READERS:
                self._idle_readers.append(reader)
            else:  # closed meanwhile, or more readers idle than reads usually overlap
                await reader.call(reader.raw.close)

    def _writer_or_closed(self) -> Connection:
        if self._writer is None:
            raise sqlite3.ProgrammingError("the database is closed")
        return self._writer

    async def _anchor_now(self) -> None:
        """Give the database its id if it has none, and write its anchor (at open)."""
        async with self._write_lock:
            writer = self._writer_or_closed()
            await writer.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                (anchors.DATABASE_ID_KEY, anchors.new_database_id()),
            )
            self._anchor = anchors.read_anchor(anchors.anchor_path(self.path))
            await writer.call(self._write_anchor_if_moved, writer.raw)

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

    def _note_journal(self) -> None:
        """Record the -wal and -shm this connection uses (those that exist now)."""
        for suffix in JOURNAL_SUFFIXES:
            if suffix not in self._journal:
                with contextlib.suppress(OSError):
                    status = os.stat(f"{self.path}{suffix}")
                    self._journal[suffix] = (status.st_dev, status.st_ino)

    def _journal_problem(self) -> str | None:
        """Why the -wal or -shm is no longer the one this connection writes (deleted, or
        replaced), or None. A commit written to a deleted -wal is lost with the process."""
        for suffix, identity in self._journal.items():
            name = f"{self.path}{suffix}"
            try:
                status = os.stat(name)
            except FileNotFoundError:
                return f"the database's journal file {name} was deleted"
            except OSError as exc:
                return f"the database's journal file {name} cannot be examined: {exc.strerror}"
            if (status.st_dev, status.st_ino) != identity:
                return f"the database's journal file {name} was replaced by another file"
        self._note_journal()
        return None

    def _anchor_after_commit(self, raw: sqlite3.Connection) -> None:
        """After a commit: move the anchor forward. The commit stands whatever happens here:
        a failure (an anchor file made read-only or immutable, a full disk) is kept as a fault
        for the admins, never raised to the caller — the answer *was* saved. The anchor left
        behind is the accepted "one commit ahead" case; it moves on at the next commit."""
        try:
            self._write_anchor_if_moved(raw)
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._fault = (
                f"the anchor file {anchors.anchor_path(self.path)} could not be written after "
                f"a commit ({reason}); what was committed is saved"
            )
        else:
            self._fault = None

    def _report_fault(self) -> None:
        """On the event loop: tell `on_fault` once per episode (a fault cleared by a commit
        whose anchor was written)."""
        if self._fault is None:
            self._fault_told = False
            return
        if not self._fault_told:
            self._fault_told = True
            log.error("%s", self._fault)
            if self.on_fault is not None:
                self.on_fault(self._fault)

    def _peek_problem(self) -> str | None:
        """`file_problem` without its effects (safe on the database thread)."""
        if self._identity is None:
            return None
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return f"database file {self.path} was deleted"
        except OSError as exc:
            return f"database file {self.path} cannot be examined: {exc.strerror}"
        if (status.st_dev, status.st_ino) != self._identity:
            return f"database file {self.path} was replaced by another file"
        return self._journal_problem()

    def file_problem(self) -> str | None:
        """Why the path no longer leads to the files this connection writes — the database
        file, its -wal and its -shm — or None. The first time a problem is seen, `on_gone`
        is called."""
        if self._identity is None or self.gone is not None:
            return self.gone
        problem = self._peek_problem()
        if problem is None:
            return None
        self.gone = problem
        if self.on_gone is not None:
            self.on_gone(problem)
        return problem

    def _refuse_if_gone(self) -> None:
        problem = self.file_problem()
        if problem is not None:
            raise DatabaseGone(problem)

    async def close(self) -> None:
        """Close the readers, wait for the transaction in progress, checkpoint the WAL into
        the database file (TRUNCATE: the -wal file is left empty), and close. SQLite
        checkpoints by itself when the last connection closes, but not while another process
        (a backup, the health check) has the file open."""
        readers = [*self._idle_readers, *([self._reader] if self._reader else [])]
        self._idle_readers, self._reader = [], None
        for reader in readers:
            with contextlib.suppress(sqlite3.Error):
                await reader.call(reader.raw.close)
        async with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                with contextlib.suppress(sqlite3.Error):
                    await writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                await writer.call(writer.raw.close)
        self._read_thread.stop()
        self._write_thread.stop()

    async def schema_version(self) -> int:
        rows = await self._writer_or_closed().execute_fetchall("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply pending migrations, each in its own transaction. Returns (from, to)."""
        start = await self.schema_version()
        self.refuse_newer(start)
        for version in range(start, target):
            async with self.transaction() as conn:
                await MIGRATIONS[version](conn)
                await conn.execute(f"PRAGMA user_version={version + 1}")
        return start, max(start, target)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception: nothing half-written.
        One hop to the database thread per statement; the body may await anything."""
        async with self._write_lock:
            self._refuse_if_gone()
            writer = self._writer_or_closed()
            await writer.execute("BEGIN IMMEDIATE")
            try:
                yield writer
            except BaseException:
                await writer.execute("ROLLBACK")
                raise
            else:
                await writer.execute("COMMIT")
                self._refuse_if_gone()  # committed into a deleted -wal: not saved after all
                if self._anchor is not None:
                    await writer.call(self._anchor_after_commit, writer.raw)
                    self._report_fault()

    async def run(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """`body(conn)` as one write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on any
        exception) executed on the database thread in ONE hop, instead of one hop per
        statement as with `transaction()` — for the hot path (every screening answer).

        `body` is an ordinary async function written against `Connection` (the storage
        functions), but it runs synchronously on the database thread: it must await nothing
        except the connection (no asyncio, no Telegram). If it does, it fails with
        RuntimeError and rolls back. Same durability and atomicity as `transaction()`; the
        event loop is free meanwhile."""
        async with self._write_lock:
            self._refuse_if_gone()
            writer = self._writer_or_closed()
            anchor = self._anchor_after_commit if self._anchor is not None else None

            def after(raw: sqlite3.Connection) -> None:
                problem = self._peek_problem()  # (on the database thread: no `on_gone` here)
                if problem is not None:  # committed into a deleted -wal: not saved after all
                    raise DatabaseGone(problem)
                if anchor is not None:
                    anchor(raw)

            try:
                result: T = await writer.call(_run_inline, writer.raw, body, after)
            except DatabaseGone:
                self.file_problem()  # now, on the event loop: `on_gone` (the admins told)
                raise
            self._report_fault()
            return result


#: The files beside the database that SQLite writes while it is open (WAL mode).
JOURNAL_SUFFIXES = ("-wal", "-shm")

#: Read-only connections kept open for `read()` (more are opened when reads overlap).
_IDLE_READERS = 4


def _open_writer(path: Path) -> sqlite3.Connection:
    """On the write thread: the durable write connection (autocommit; transactions are
    explicit)."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.row_factory = sqlite3.Row
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=5000"):
        raw.execute(f"PRAGMA {pragma}")
    return raw


def _open_reader(path: Path) -> sqlite3.Connection:
    """On the read thread: a connection that cannot write (`mode=ro`)."""
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    raw = sqlite3.connect(uri, uri=True, isolation_level=None)
    raw.row_factory = sqlite3.Row
    raw.execute("PRAGMA busy_timeout=5000")  # a WAL reader waits only on a checkpoint's reset
    return raw


def _run_inline(
    raw: sqlite3.Connection,
    body: Callable[[Connection], Coroutine[Any, Any, T]],
    after_commit: Callable[[sqlite3.Connection], None] | None = None,
) -> T:
    """On the database thread: BEGIN IMMEDIATE, drive `body` to completion, COMMIT."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        coroutine = body(Connection(raw, None))
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


# Each `await` on a `Connection` outside `Database.run` is one hop to its database thread and
# back: a read through a cursor (execute, fetch, close) is three; `execute_fetchall` is one.


async def fetch_one(
    conn: Connection, sql: str, params: tuple[object, ...] = ()
) -> sqlite3.Row | None:
    """The first row (for queries that return at most one), in one hop to the database thread."""
    rows = await conn.execute_fetchall(sql, params)
    for row in rows:
        first: sqlite3.Row = row
        return first
    return None


async def fetch_all(
    conn: Connection, sql: str, params: tuple[object, ...] = ()
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
