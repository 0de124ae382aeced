"""The PostgreSQL database (issue 16): the `Database` API of storage/db.py over psycopg 3, through
SQLAlchemy's engines and pools.

* Writes: one write connection per process, on the write thread; every write transaction
  takes the advisory write lock (of its schema) first (storage/postgres.py), so replicas
  write one at a time, in one order. A connection the server closed while idle (a restart, a
  failover) is noticed at that first statement: nothing was written yet, so the transaction
  is begun again once on a new connection.
* Reads: `LYSYME_DATABASE_POOL_SIZE` connections in all — the writer and read-only ones, one
  read thread each; a read is one `REPEATABLE READ` snapshot, asked again once on a new
  connection if the server had closed the one it got.
* The leader lease (bot/telegram/leadership.py): a connection and a thread of its own, never
  behind a writer, with short network timeouts.
* Migrations: the same Alembic revisions as SQLite's (storage/migrations), their numbers also
  recorded in `schema_version`; they run under the write lock and re-read the version first,
  so replicas starting together migrate once.
* No anchor file and no file watch: a server database is not a file that can be swapped under
  the bot; its id is still recorded in `meta` (exports carry it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import Connection
from sqlalchemy.pool import QueuePool

from storage import anchor as anchors
from storage.db import SCHEMA_VERSION, Database, Deferred, bind_arguments
from storage.errors import StorageError, StorageUnavailable
from storage.postgres import (
    TAKE_WRITE_LOCK,
    cut,
    lease_limits,
    open_connection,
    redact,
    session_limits,
    translated,
)

T = TypeVar("T")
log = logging.getLogger("lysyme.storage")
P = ParamSpec("P")

#: Where the earlier programs recorded the schema version on PostgreSQL (kept: the health
#: check, `lysyme-bot check` and a newer program's refusal read it).
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version("
    "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int, lease: float = 15.0) -> None:
        readers = max(1, pool_size - 1)  # the pool size counts the writer too
        super().__init__(read_threads=readers)
        self.url = url
        self.path = Path(redact(url))  # what messages print; never the password
        self.lease = lease
        session = session_limits(lease)  # a frozen writer is ended before a takeover is due

        def engine(creator: Callable[[], Any], size: int, **options: Any) -> sqlalchemy.Engine:
            return sqlalchemy.create_engine(
                "postgresql+psycopg://",
                creator=creator,
                poolclass=QueuePool,
                pool_size=size,
                max_overflow=0,
                pool_timeout=10,
                **options,
            )

        #: Every connection opened, for `abort` (from another thread: under the lock).
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._aborted = False
        self._write_engine = engine(functools.partial(self._connect, False, session), 1)
        self._read_engine = engine(
            functools.partial(self._connect, True, ()), readers,
            isolation_level="REPEATABLE READ",
            pool_reset_on_return=None,  # every read ends its transaction itself
        )  # fmt: skip
        # The leader lease: a connection of its own, never behind a writer.
        self._lease_engine = engine(functools.partial(self._connect, False, session, lease), 1)
        self._lease_thread = concurrent.futures.ThreadPoolExecutor(1, "lysyme-pg-lease")
        self._lease_lock = asyncio.Lock()
        self.gone = None
        self.on_gone = None

    @property
    def label(self) -> str:
        return redact(self.url)

    @classmethod
    async def open_url(
        cls, url: str, *, migrate: bool = True, pool_size: int = 5, lease: float = 15.0
    ) -> PostgresDatabase:
        try:
            import psycopg  # noqa: F401  (the optional extra)
        except ImportError:
            raise anchors.DatabaseRefused(
                "LYSYME_DATABASE is a PostgreSQL URL but the PostgreSQL driver is not "
                "installed: pip install 'lysyme-bot[postgresql]'"
            ) from None
        db = cls(url, pool_size, lease)
        try:
            await db.schema_version()  # the server answers (one line if it does not)
            if migrate:
                await db.migrate()
                await db.write(anchors.give_id)
        except StorageError as exc:
            await db.close()
            raise anchors.DatabaseRefused(f"cannot use {db.label}: {exc}") from exc
        except BaseException:
            await db.close()
            raise
        return db

    def _translated(self, exc: sqlalchemy.exc.DBAPIError) -> StorageError:
        import psycopg

        if isinstance(exc.orig, psycopg.Error):
            return translated(exc.orig)
        return StorageError(str(exc.orig or exc).splitlines()[0])

    def _write_on_thread(
        self, body: Callable[[Connection], T], deferred: list[Deferred], durable: bool
    ) -> T:
        with _locked_transaction(self._write_engine, TAKE_WRITE_LOCK) as conn:
            if not durable:  # the deferred marks alone: the commit is not waited for
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            self._apply_deferred(conn, deferred)
            return body(conn)

    def _read_on_thread(self, body: Callable[[Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._read_engine.connect() as conn, conn.begin():
                    return body(conn)
            except sqlalchemy.exc.DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                # The server had closed that connection (a restart): a read is safe to ask again.
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def defer(
        self,
        fn: Callable[Concatenate[Connection, P], object],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Committed now, without waiting for the WAL flush (`synchronous_commit` off): the
        next update may reach another replica (webhook replicas behind a balancer), which must
        see which prompt this one delivered. Its failure is logged: the question is asked
        again."""
        self._refuse_if_closed()
        body = bind_arguments(fn, *args, **kwargs)
        async with self._write_lock:
            try:
                await self._on_thread(self._writes, self._write_on_thread, body, [], False)
            except StorageError as exc:
                log.warning("a write without a durable commit was not saved: %s", exc)

    async def lease_write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """On the lease connection, without the write lock: a renewal never waits for a
        writer (a frozen one included); its statements give up after a third of the lease.
        A renewal that failed leaves its connection behind: the next starts on a new one."""
        self._refuse_if_closed()
        body = bind_arguments(fn, *args, **kwargs)
        async with self._lease_lock:
            return await self._on_thread(self._lease_thread, self._lease_on_thread, body)

    def _lease_on_thread(self, body: Callable[[Connection], T]) -> T:
        conn = self._lease_engine.connect()
        try:
            with conn.begin():
                for statement in lease_limits(self.lease):
                    conn.exec_driver_sql(statement)
                result = body(conn)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.invalidate()  # a timeout, a dead network: never behind a stuck one
            raise
        finally:
            conn.close()
        return result

    async def schema_version(self) -> int:
        return await self.read(_schema_version)

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        """The pending revisions (storage/migrations) in one transaction under the write lock:
        replicas starting together migrate once (the second finds it done, under the lock)."""
        start = await self.schema_version()
        self.refuse_newer(start)
        if start >= target and await self.read(_has_alembic_version):
            return start, start  # up to date: Alembic is not even imported
        async with self._write_lock:
            before, after = await self._on_thread(self._writes, self._migrate, target)
        self.refuse_newer(before)  # (a newer replica migrated meanwhile: nothing was written)
        return start, max(start, after)

    def _migrate(self, target: int) -> tuple[int, int]:
        from storage import migrations

        def legacy_version(connection: Connection) -> int:
            connection.exec_driver_sql(_VERSION_TABLE)
            return int(
                connection.exec_driver_sql("SELECT max(version) FROM schema_version").scalar() or 0
            )

        def record_version(connection: Connection, before: int, after: int) -> None:
            connection.exec_driver_sql(_VERSION_TABLE)
            for version in range(before + 1, after + 1):
                connection.execute(
                    sqlalchemy.text("INSERT INTO schema_version(version) VALUES (:version)"),
                    {"version": version},
                )

        with self._write_engine.connect() as conn:
            return migrations.upgrade(conn, legacy_version=legacy_version,
                                      record_version=record_version, target=target,
                                      after_begin=(TAKE_WRITE_LOCK,))  # fmt: skip

    def abort(self) -> None:
        """From any thread: cut every connection this database opened (storage/postgres.py
        `cut`) and open none again: what waits on a silent network fails at once."""
        with self._opened_lock:
            self._aborted = True
            opened = list(self._opened)
        for raw in opened:
            cut(raw)

    def _connect(self, read_only: bool, session: Sequence[str], lease: float = 0) -> Any:
        """A new psycopg connection (SQLAlchemy's pools call this), remembered for `abort`."""
        if self._aborted:
            raise StorageUnavailable("the database is closed")
        raw = open_connection(self.url, read_only, session, lease=lease)
        with self._opened_lock:
            self._opened.add(raw)
            aborted = self._aborted
        if aborted:  # cut while it was being opened
            cut(raw)
        return raw

    async def close(self) -> None:
        await super().close()
        async with self._lease_lock:
            self._lease_thread.shutdown(wait=True)
        self._lease_engine.dispose()

    def _after_write(self) -> None:
        """Nothing to do after a write: no file to watch, no anchor."""
        return

    def _close_writer(self) -> None:
        self._write_engine.dispose()

    def _close_readers(self) -> None:
        self._read_engine.dispose()


@contextlib.contextmanager
def _locked_transaction(engine: sqlalchemy.Engine, lock: str) -> Any:
    """A write transaction that holds the advisory write lock. A connection the server closed
    while it was idle fails at the lock, before anything was written: the transaction is
    begun once more on a new connection (SQLAlchemy replaced the dead ones)."""
    for attempt in (1, 2):
        conn = engine.connect()
        try:
            transaction = conn.begin()
            conn.exec_driver_sql(lock)
        except sqlalchemy.exc.DBAPIError as exc:
            conn.close()
            if attempt == 2 or not exc.connection_invalidated:
                raise
            continue
        try:
            yield conn
        except BaseException:
            if transaction.is_active:
                with contextlib.suppress(sqlalchemy.exc.DBAPIError):
                    transaction.rollback()
            raise
        else:
            transaction.commit()
        finally:
            conn.close()
        return


def _schema_version(conn: Connection) -> int:
    if not conn.exec_driver_sql("SELECT to_regclass('schema_version') IS NOT NULL").scalar():
        return 0
    return int(conn.exec_driver_sql("SELECT max(version) FROM schema_version").scalar() or 0)


def _has_alembic_version(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT to_regclass('alembic_version') IS NOT NULL").scalar())
