"""The SQLite database: opening it durably, migrations (storage/migrations), write
transactions, reads.

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
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import Connection as SAConnection

from storage import anchor as anchors
from storage import lock as locks
from storage.connection import Connection, DatabaseThread, translated
from storage.errors import StorageError, StorageGone, StorageUnavailable
from storage.migrations import (
    SCHEMA_VERSION as SCHEMA_VERSION,  # (re-exported: the CLI reads it here)
)

log = logging.getLogger("lysyme.storage")
T = TypeVar("T")
P = ParamSpec("P")
#: A deferred write waits at most this long for a write transaction to carry it.
DEFER_AT_MOST = 0.05


class Database(abc.ABC):
    """The bot's database, whichever the backend: `storage.open.open_database(target)` opens
    SQLite for a file path and PostgreSQL for a `postgresql://` URL (storage/postgres_db.py),
    so this module never imports its own subclass. Both give the
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

    @property
    def label(self) -> str:
        """How the database is named in logs and messages (never with a password)."""
        return str(self.path)

    @abc.abstractmethod
    async def write(
        self, fn: Callable[Concatenate[SAConnection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, *args, **kwargs)` as ONE write transaction, in one hop to the database's
        write thread: committed durably (SQLite WAL with synchronous=FULL; PostgreSQL under
        the advisory write lock) when `fn` returns, rolled back if it raises. `fn` is a plain
        synchronous function (storage functions, or a body of them): it must not commit."""

    @abc.abstractmethod
    async def read(
        self, fn: Callable[Concatenate[SAConnection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, *args, **kwargs)` on a read-only connection, in one snapshot of committed
        rows (one hop; never the write lock, never waits for a writer)."""

    async def lease_write(
        self, fn: Callable[Concatenate[SAConnection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A short write for the leader lease (bot/telegram/leadership.py). SQLite: the one
        process leads, an ordinary `write`. PostgreSQL: a connection of its own, without the
        write lock, so a renewal never waits behind a writer."""
        return await self.write(fn, *args, **kwargs)

    @abc.abstractmethod
    def defer(
        self, fn: Callable[Concatenate[SAConnection, P], object], /, *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:  # fmt: skip
        """Queue a small write that needs no durable commit of its own (which prompt Telegram
        delivered): it runs at the start of the next write transaction, in a savepoint of its
        own (its failure is logged, never the other write's), or within `DEFER_AT_MOST`
        seconds in a transaction without fsync. Lost in a power cut: only asks a question
        again."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The number of migrations applied."""

    @abc.abstractmethod
    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply pending migrations, each in its own transaction. Returns (from, to)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Wait for the transaction in progress and close every connection."""

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
    opened (device, inode): a deleted or replaced database refuses writes (StorageGone) and
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
            raise StorageUnavailable("the database is closed")
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
            raise StorageUnavailable("the database is closed")
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
            raise StorageGone(problem)

    async def close(self) -> None:
        """Close the readers, wait for the transaction in progress, checkpoint the WAL into
        the database file (TRUNCATE: the -wal file is left empty), and close. SQLite
        checkpoints by itself when the last connection closes, but not while another process
        (a backup, the health check) has the file open."""
        readers = [*self._idle_readers, *([self._reader] if self._reader else [])]
        self._idle_readers, self._reader = [], None
        for reader in readers:
            with contextlib.suppress(StorageError):
                await reader.call(reader.raw.close)
        async with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                with contextlib.suppress(StorageError):
                    await writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                await writer.call(writer.raw.close)
        self._read_thread.stop()
        self._write_thread.stop()

    async def schema_version(self) -> int:
        rows = await self._writer_or_closed().execute_fetchall("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply the pending revisions (storage/migrations) in one BEGIN IMMEDIATE transaction
        on the write connection; a database an earlier program migrated is adopted first.
        Returns (from, to)."""
        start = await self.schema_version()
        self.refuse_newer(start)
        writer = self._writer_or_closed()
        if start >= target and await writer.execute_fetchall(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ):
            return start, start  # up to date: Alembic is not even imported
        async with self._write_lock:
            self._refuse_if_gone()
            return await writer.call(_migrate, writer.raw, target)

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
                    raise StorageGone(problem)
                if anchor is not None:
                    anchor(raw)

            try:
                result: T = await writer.call(_run_inline, writer.raw, body, after)
            except StorageGone:
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


def _migrate(raw: sqlite3.Connection, target: int) -> tuple[int, int]:
    """On the write thread: the pending revisions, and `PRAGMA user_version` (what the earlier
    programs and the health check read), in one transaction."""
    import sqlalchemy.exc

    from storage import migrations

    def legacy_version(connection: sqlalchemy.Connection) -> int:
        return int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)

    def record_version(connection: sqlalchemy.Connection, before: int, after: int) -> None:
        connection.exec_driver_sql(f"PRAGMA user_version={int(after)}")

    try:
        return migrations.upgrade(raw, "sqlite", begin=("BEGIN IMMEDIATE",),
                                  legacy_version=legacy_version,
                                  record_version=record_version, target=target)  # fmt: skip
    except sqlalchemy.exc.DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.Error):
            raise translated(exc.orig) from exc.orig
        raise


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
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise translated(exc) from exc
    return version
