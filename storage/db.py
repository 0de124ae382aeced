"""The database: one API for both backends, and SQLite's implementation of it.

The database is the single source of truth. Storage functions are plain synchronous
functions over a SQLAlchemy `Connection` (storage/sql.py); the bot runs them with

* `await db.write(fn, *args)`: ONE write transaction in ONE hop to the database's write
  thread (datasette's `execute_write_fn` pattern): `fn(conn, *args)` between BEGIN and
  COMMIT, rolled back if it raises. Nothing else runs in it, so no transaction ever waits on
  Telegram or on the event loop;
* `await db.read(fn, *args)`: one read-only snapshot of committed rows, in one hop to a
  read thread; never the write lock, never waiting for a writer;
* `await db.defer(fn, *args)`: a small write that needs no durable commit of its own (which
  prompt Telegram delivered). On SQLite it rides at the start of the next write transaction,
  in a savepoint of its own, or is written within `DEFER_AT_MOST` seconds without an fsync; on
  PostgreSQL, where the next update may reach another replica, it is committed at once
  without waiting for the WAL flush. Losing it in a power cut only asks a question again.

SQLite (this module): WAL journal with `synchronous=FULL`, so a transaction the bot has
committed (and then acknowledged to a user) survives a crash and a power cut. Writes are
`BEGIN IMMEDIATE` on one connection and one thread (SQLite serialises writers anyway), so a
transaction never fails half-way on a busy database. Reads use read-only connections
(`mode=ro`) on threads of their own: a WAL snapshot never shows a row a writer has not
committed. SQLAlchemy keeps the connections (its pools) and binds the parameters; the
drivers' errors are raised as storage's own (storage/errors.py) at one seam, `_translated`.

PostgreSQL: storage/postgres_db.py, opened through storage/open.py (this module never imports
its own subclass).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import Connection, event
from sqlalchemy.pool import QueuePool, StaticPool

from storage import anchor as anchors
from storage import lock as locks
from storage.errors import StorageError, StorageGone, StorageUnavailable
from storage.migrations import (
    SCHEMA_VERSION as SCHEMA_VERSION,  # (re-exported: the CLI reads it here)
)
from storage.sql import WRITING
from storage.sqlite import translated

log = logging.getLogger("lysyme.storage")
T = TypeVar("T")
P = ParamSpec("P")

#: A deferred write waits at most this long for a write transaction to carry it.
DEFER_AT_MOST = 0.05
#: The anchor file is moved forward at most this often (seconds): it may trail the database
#: by the commits of the last second, never lead it (storage/anchor.py).
ANCHOR_EVERY = 1.0

Deferred = Callable[[Connection], object]


class Database(abc.ABC):
    """The bot's database, whichever the backend: `storage.open.open_database(target)` opens
    SQLite for a file path and PostgreSQL for a `postgresql://` URL. Both give the same API —
    `write`, `read`, `lease_write`, `defer`, `migrate`, `schema_version`, `close` — and the
    storage functions are written once against SQLAlchemy's `Connection`.

    The plumbing shared by both backends lives here: the write lock, the threads (one for
    writes, a few for reads), the deferred writes. Each backend says how one write or one
    read runs on its thread (`_write_on_thread`, `_read_on_thread`)."""

    #: "sqlite" or "postgresql": for the few statements written differently per backend.
    dialect = "sqlite"
    path: Path
    gone: str | None = None
    on_gone: Callable[[str], None] | None = None
    #: Called (on the event loop, once per episode) when something failed *after* a commit —
    #: the anchor file not written: the data is saved, the admins must hear of the fault.
    on_fault: Callable[[str], None] | None = None

    def __init__(self, read_threads: int) -> None:
        self._write_lock = asyncio.Lock()
        self._writes = concurrent.futures.ThreadPoolExecutor(1, "lysyme-db-write")
        self._reads = concurrent.futures.ThreadPoolExecutor(read_threads, "lysyme-db-read")
        self._deferred: list[Deferred] = []
        self._defer_timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def label(self) -> str:
        """How the database is named in logs and messages (never with a password)."""
        return str(self.path)

    # --- the API ---------------------------------------------------------------------------

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, *args, **kwargs)` as ONE write transaction, in one hop to the database's
        write thread: committed durably (SQLite WAL with synchronous=FULL; PostgreSQL under
        the advisory write lock) when `fn` returns, rolled back if it raises. `fn` is a plain
        synchronous function (storage functions, or a body of them): it must not commit."""
        committed: list[Callable[[], object]] = []  # what `after_commit` asked for

        def body(conn: Connection) -> T:
            WRITING.callbacks = committed
            try:
                return fn(conn, *args, **kwargs)
            finally:
                WRITING.callbacks = None

        async with self._write_lock:
            self._refuse_if_closed()
            deferred, self._deferred = self._deferred, []
            self._cancel_defer_timer()
            try:
                result: T = await self._on_thread(
                    self._writes, self._write_on_thread, body, deferred, True
                )
            except BaseException:
                if deferred and not self._closed:  # rolled back with it: they ride again
                    self._deferred[:0] = deferred
                    self._defer_timer = asyncio.get_running_loop().call_later(
                        DEFER_AT_MOST, self._flush_deferred_soon
                    )
                raise
            finally:
                self._after_write()
        for callback in committed:  # on the event loop, once committed
            callback()
        return result

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, *args, **kwargs)` on a read-only connection, in one snapshot of committed
        rows (one hop; never the write lock, never waits for a writer)."""
        self._refuse_if_closed()
        body = bind_arguments(fn, *args, **kwargs)
        return await self._on_thread(self._reads, self._read_on_thread, body)

    async def lease_write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A short write for the leader lease (bot/telegram/leadership.py). SQLite: the one
        process leads, an ordinary `write`. PostgreSQL: a connection of its own, without the
        write lock, so a renewal never waits behind a writer."""
        return await self.write(fn, *args, **kwargs)

    async def defer(
        self,
        fn: Callable[Concatenate[Connection, P], object],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """A small write that needs no durable commit of its own (which prompt Telegram
        delivered). SQLite (one process): queued — it runs at the start of the next write
        transaction, in a savepoint of its own (its failure is logged, never the other
        write's), or within `DEFER_AT_MOST` seconds in a transaction without fsync; no hop of
        its own when a write follows. Lost in a power cut: only asks a question again.
        PostgreSQL overrides it (replicas must see it at once)."""
        if self._closed:
            return
        self._deferred.append(bind_arguments(fn, *args, **kwargs))
        if self._defer_timer is None:
            loop = asyncio.get_running_loop()
            self._defer_timer = loop.call_later(DEFER_AT_MOST, self._flush_deferred_soon)

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The number of migrations applied."""

    @abc.abstractmethod
    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """Apply the pending revisions (storage/migrations) in one transaction. Returns
        (from, to)."""

    async def close(self) -> None:
        """Write what was deferred, wait for the write in progress, close every connection."""
        if self._closed:
            return
        self._cancel_defer_timer()
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        with contextlib.suppress(StorageError):
            await self._flush_deferred()
        async with self._write_lock:
            self._closed = True
            with contextlib.suppress(Exception):
                await self._on_thread(self._writes, self._close_writer)
        with contextlib.suppress(Exception):
            await self._on_thread(self._reads, self._close_readers)
        self._writes.shutdown(wait=True)
        self._reads.shutdown(wait=True)

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

    # --- what each backend provides ---------------------------------------------------------

    @abc.abstractmethod
    def _write_on_thread(
        self, body: Callable[[Connection], T], deferred: list[Deferred], durable: bool
    ) -> T:
        """On the write thread: BEGIN, the deferred writes (each in a savepoint), `body`,
        COMMIT (without fsync when not `durable`), and what follows a commit."""

    @abc.abstractmethod
    def _read_on_thread(self, body: Callable[[Connection], T]) -> T:
        """On a read thread: one read-only snapshot around `body`."""

    @abc.abstractmethod
    def _translated(self, exc: sqlalchemy.exc.DBAPIError) -> StorageError:
        """The driver's error (`exc.orig`) as storage's own."""

    @abc.abstractmethod
    def _close_writer(self) -> None:
        """On the write thread: close the write connection(s)."""

    @abc.abstractmethod
    def _close_readers(self) -> None:
        """On a read thread: close the read connections."""

    @abc.abstractmethod
    def _after_write(self) -> None:
        """On the event loop, after each write (committed or not)."""

    # --- plumbing ---------------------------------------------------------------------------

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise StorageUnavailable("the database is closed")

    async def _on_thread(
        self, pool: concurrent.futures.ThreadPoolExecutor, function: Callable[..., T], *args: Any
    ) -> T:
        """`function(*args)` on one of `pool`'s threads: one hop. A driver error comes back
        as storage's own error, the driver's as its cause."""
        try:
            future = pool.submit(function, *args)
        except RuntimeError:  # the pool was shut down: closed
            raise StorageUnavailable("the database is closed") from None
        try:
            return await asyncio.wrap_future(future)
        except sqlalchemy.exc.DBAPIError as exc:
            raise self._translated(exc) from exc.orig
        except sqlalchemy.exc.TimeoutError as exc:  # no pooled connection in time
            raise StorageUnavailable(str(exc).splitlines()[0]) from exc

    @staticmethod
    def _apply_deferred(conn: Connection, deferred: list[Deferred]) -> None:
        """The deferred writes, each in a savepoint: one that fails is rolled back alone and
        logged (a mark of a screening deleted meanwhile), never the transaction it rides in."""
        for write in deferred:
            try:
                with conn.begin_nested():
                    write(conn)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("a deferred write was dropped: %s", type(exc).__name__)

    def _cancel_defer_timer(self) -> None:
        if self._defer_timer is not None:
            self._defer_timer.cancel()
            self._defer_timer = None

    def _flush_deferred_soon(self) -> None:
        self._defer_timer = None
        if self._deferred and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._flush_deferred_logged())

    async def _flush_deferred_logged(self) -> None:
        try:
            await self._flush_deferred()
        except StorageError as exc:  # the marks are lost: questions are asked again
            log.warning("deferred writes not saved: %s", exc)

    async def _flush_deferred(self) -> None:
        """The deferred writes on their own, in one transaction without fsync."""
        async with self._write_lock:
            deferred, self._deferred = self._deferred, []
            if not deferred or self._closed:
                return
            try:
                await self._on_thread(
                    self._writes, self._write_on_thread, _nothing, deferred, False
                )
            finally:
                self._after_write()


def bind_arguments(
    fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> Callable[[Connection], T]:
    """`fn` with its arguments after the connection given."""

    def body(conn: Connection) -> T:
        return fn(conn, *args, **kwargs)

    return body


def _nothing(conn: Connection) -> None:
    """The body of a transaction that carries only deferred writes."""


class SqliteDatabase(Database):
    """The SQLite database: one write connection, read-only connections beside it.

    A database opened to write (`migrate=True`) is *anchored* (storage/anchor.py): checked
    against its anchor file at open, and the anchor moved forward after commits that appended
    audit rows — at most once a second (`ANCHOR_EVERY`), and at close. Before every write
    transaction the path is compared with the file opened (device, inode), and so are its
    -wal and -shm: a deleted or replaced file refuses writes (StorageGone) and `on_gone` is
    called once."""

    def __init__(self, path: Path) -> None:
        super().__init__(read_threads=_READ_CONNECTIONS)
        self.path = path
        self._write_engine = sqlalchemy.create_engine(
            "sqlite://", creator=functools.partial(_open_writer, path), poolclass=StaticPool
        )
        event.listen(self._write_engine, "begin", _begin_immediate)
        self._read_engine = sqlalchemy.create_engine(
            "sqlite://",
            creator=functools.partial(_open_reader, path),
            poolclass=QueuePool,
            pool_size=_READ_CONNECTIONS,
            max_overflow=0,
            pool_reset_on_return=None,  # every read ends its transaction itself
        )
        event.listen(self._read_engine, "begin", _begin_deferred)
        self._writer: Connection | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._problem_seen = False  # a write found the files moved (`on_gone` still to call)
        #: The same for its -wal and -shm, once they exist (SQLite creates them at first use).
        self._journal: dict[str, tuple[int, int]] = {}
        self._anchored = False
        self._anchor: anchors.Anchor | None = None  # the last anchor written
        self._anchor_written_at = 0.0  # time.monotonic() of that write
        self._anchor_behind = False  # audit rows committed since (written within a second)
        self._anchor_timer: asyncio.TimerHandle | None = None
        self.gone = None
        self.on_gone = None
        self.on_fault = None
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
            await db._on_thread(db._writes, db._connect_writer)
            _tighten(path)  # the -wal and -shm exist now
            status = os.stat(path)
            db._identity = (status.st_dev, status.st_ino)
            await db._on_thread(db._reads, db._open_readers)
            if migrate:
                await db.migrate()
                await db._on_thread(db._writes, db._anchor_at_open)
                db._anchored = True
            db._note_journal()
        except BaseException:
            await db.close()
            raise
        return db

    def _connect_writer(self) -> None:
        self._writer = self._write_engine.connect()

    def _writer_or_closed(self) -> Connection:
        if self._writer is None:
            raise StorageUnavailable("the database is closed")
        return self._writer

    def _translated(self, exc: sqlalchemy.exc.DBAPIError) -> StorageError:
        if isinstance(exc.orig, sqlite3.Error):
            return translated(exc.orig)
        return StorageError(str(exc.orig or exc).splitlines()[0])

    # --- writes -------------------------------------------------------------------------------

    def _write_on_thread(
        self, body: Callable[[Connection], T], deferred: list[Deferred], durable: bool
    ) -> T:
        problem = self._peek_problem()
        if problem is not None:
            self._problem_seen = True
            raise StorageGone(problem)
        conn = self._writer_or_closed()
        if not durable:  # the deferred marks alone: no fsync (the next durable commit has them)
            _driver(conn).execute("PRAGMA synchronous=NORMAL")
        try:
            with conn.begin():
                self._apply_deferred(conn, deferred)
                result = body(conn)
        finally:
            if not durable:
                _driver(conn).execute("PRAGMA synchronous=FULL")
        problem = self._peek_problem()
        if problem is not None:  # committed into a deleted -wal: not saved after all
            self._problem_seen = True
            raise StorageGone(problem)
        if self._anchored:
            self._anchor_after_commit(conn)
        return result

    def _after_write(self) -> None:
        if self.gone is None and self._problem_seen:
            self.file_problem()  # now, on the event loop: `on_gone` (the admins told)
        self._report_fault()
        if self._anchor_behind and self._anchor_timer is None and not self._closed:
            delay = max(0.0, ANCHOR_EVERY - (time.monotonic() - self._anchor_written_at))
            loop = asyncio.get_running_loop()
            self._anchor_timer = loop.call_later(delay, self._anchor_soon)

    # --- the anchor ---------------------------------------------------------------------------

    def _anchor_at_open(self) -> None:
        """Give the database its id if it has none, and write its anchor (at open)."""
        conn = self._writer_or_closed()
        with conn.begin():
            anchors.give_id(conn)
        self._anchor = anchors.read_anchor(anchors.anchor_path(self.path))
        self._write_anchor_if_moved(conn)

    def _write_anchor_if_moved(self, conn: Connection) -> None:
        """On the write thread, no transaction open: write the anchor if audit rows were
        appended since the last one (one indexed read when they were not)."""
        with conn.begin():
            database_id, rows, head = anchors.read_head(_driver(conn))
        self._anchor_behind = False
        if database_id is None:
            return
        current = anchors.Anchor(database_id, rows, head)
        if self._anchor is not None and self._anchor.same_head(current):
            return
        anchors.write_anchor(anchors.anchor_path(self.path), current)
        self._anchor = current
        self._anchor_written_at = time.monotonic()

    def _anchor_after_commit(self, conn: Connection) -> None:
        """After a commit: move the anchor forward now if the last move is a second old, else
        within the second (`_after_write` sets the timer). The commit stands whatever happens
        here: a failure (an anchor file made read-only or immutable, a full disk) is kept as
        a fault for the admins, never raised to the caller — the answer *was* saved. An anchor
        left behind is the accepted "database ahead of its anchor" case."""
        if time.monotonic() - self._anchor_written_at < ANCHOR_EVERY:
            self._anchor_behind = True
            return
        self._anchor_now(conn)

    def _anchor_now(self, conn: Connection) -> None:
        try:
            self._write_anchor_if_moved(conn)
        except (OSError, sqlalchemy.exc.DBAPIError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._fault = (
                f"the anchor file {anchors.anchor_path(self.path)} could not be written after "
                f"a commit ({reason}); what was committed is saved"
            )
        else:
            self._fault = None

    def _anchor_soon(self) -> None:
        self._anchor_timer = None
        if self._anchor_behind and not self._closed:
            asyncio.get_running_loop().create_task(self._anchor_task())

    async def _anchor_task(self) -> None:
        async with self._write_lock:
            if not self._anchor_behind or self._closed or self.gone is not None:
                return
            with contextlib.suppress(StorageError):
                await self._on_thread(self._writes, self._anchor_on_thread)
            self._report_fault()

    def _anchor_on_thread(self) -> None:
        if self._peek_problem() is None:
            self._anchor_now(self._writer_or_closed())

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

    # --- files that move ----------------------------------------------------------------------

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

    def _peek_problem(self) -> str | None:
        """`file_problem` without its effects (safe on the database thread)."""
        if self._identity is None:
            return None
        if self.gone is not None:
            return self.gone
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

    # --- reads --------------------------------------------------------------------------------

    def _read_on_thread(self, body: Callable[[Connection], T]) -> T:
        with self._read_engine.connect() as conn, conn.begin():
            return body(conn)

    def _open_readers(self) -> None:
        """Open every read connection now, on the file opened: once that file is deleted or
        replaced, reads (telling the admins, the views) still read it, never whatever the
        path leads to later."""
        readers = [self._read_engine.connect() for _ in range(_READ_CONNECTIONS)]
        for reader in readers:
            with reader.begin():  # SQLite opens the file at a connection's first read
                reader.exec_driver_sql("SELECT count(*) FROM sqlite_master")
            reader.close()  # back to the pool, open

    # --- the schema, and closing ----------------------------------------------------------------

    async def schema_version(self) -> int:
        return await self._on_thread(self._writes, self._user_version)

    def _user_version(self) -> int:
        # On the driver's connection, outside any transaction (a BEGIN IMMEDIATE for a pragma
        # would take the write lock).
        row = _driver(self._writer_or_closed()).execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """The pending revisions and `PRAGMA user_version` (what the earlier programs and the
        health check read), in one transaction."""
        start = await self.schema_version()
        self.refuse_newer(start)
        if start >= target:
            return start, start
        async with self._write_lock:
            return await self._on_thread(self._writes, self._migrate, target)

    def _migrate(self, target: int) -> tuple[int, int]:
        from storage import migrations

        def legacy_version(connection: Connection) -> int:
            return int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)

        def record_version(connection: Connection, before: int, after: int) -> None:
            connection.exec_driver_sql(f"PRAGMA user_version={int(after)}")

        return migrations.upgrade(self._writer_or_closed(), legacy_version=legacy_version,
                                  record_version=record_version, target=target)  # fmt: skip

    async def close(self) -> None:
        """Write the deferred marks and the anchor, checkpoint the WAL into the database file
        (TRUNCATE: the -wal file is left empty), and close. SQLite checkpoints by itself when
        the last connection closes, but not while another process (a backup, the health
        check) has the file open."""
        if self._anchor_timer is not None:
            self._anchor_timer.cancel()
            self._anchor_timer = None
        await super().close()

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            if self._anchor_behind and self._peek_problem() is None:
                self._anchor_now(writer)
            with contextlib.suppress(sqlite3.Error):
                _driver(writer).execute("PRAGMA wal_checkpoint(TRUNCATE)")
            writer.close()
        self._write_engine.dispose()

    def _close_readers(self) -> None:
        self._read_engine.dispose()


#: The files beside the database that SQLite writes while it is open (WAL mode).
JOURNAL_SUFFIXES = ("-wal", "-shm")

#: Read-only connections (and threads) for `read()`.
_READ_CONNECTIONS = 4


def _driver(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy one: for the pragmas that must run outside
    any transaction (the write engine begins every transaction with BEGIN IMMEDIATE)."""
    raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
    return raw


def _begin_immediate(conn: Connection) -> None:
    """SQLAlchemy's "begin" event on the write engine: take the write lock at BEGIN, so a
    transaction never fails half-way on a busy database (the driver's own BEGIN is off)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn: Connection) -> None:
    """On the read engine: the snapshot starts at the first read."""
    conn.exec_driver_sql("BEGIN")


def _open_writer(path: Path) -> sqlite3.Connection:
    """The durable write connection (the driver's implicit transactions off: BEGIN is ours)."""
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=5000"):
        raw.execute(f"PRAGMA {pragma}")
    return raw


def _open_reader(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (`mode=ro`)."""
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    raw = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA busy_timeout=5000")  # a WAL reader waits only on a checkpoint's reset
    return raw


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


def probe_read_only(path: Path, timeout: float) -> int:
    """The schema version, read through a separate read-only connection (the health check
    runs in its own process and must never write or hold a lock; it does not import
    SQLAlchemy's engine machinery for one pragma)."""
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
