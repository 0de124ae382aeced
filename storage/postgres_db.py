"""The PostgreSQL database (issue 16): the `Database` API of storage/db.py over psycopg 3.

* Writes: one write connection per process (one asyncio write lock, as with SQLite); every
  write transaction takes the advisory write lock (of its schema) first (storage/postgres.py),
  so replicas write one at a time, in one order.
* Reads: read-only connections (`LYSYME_DATABASE_POOL_SIZE` in all, the writer and the shared
  reader included); `read()` is one REPEATABLE READ snapshot, `conn` one autocommit statement
  each.
* Migrations: the same numbers as SQLite's, recorded in `schema_version`; each runs under the
  write lock and re-reads the version first, so replicas starting together migrate once.
* No anchor file and no file watch: a server database is not a file that can be swapped under
  the bot; its id is still recorded in `meta` (exports carry it).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from storage import anchor as anchors
from storage.connection import Connection
from storage.db import SCHEMA_VERSION, Database
from storage.postgres import (
    BEGIN_READ,
    BEGIN_WRITE,
    ConnectionPool,
    begin_on,
    close_connection,
    is_closed,
    lease_begin,
    redact,
    run_inline,
    session_limits,
)
from storage.postgres_schema import MIGRATIONS

T = TypeVar("T")


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int, lease: float = 15.0) -> None:
        self.url = url
        self.path = Path(redact(url))  # what messages print; never the password
        self.lease = lease
        self._write_lock = asyncio.Lock()
        session = session_limits(lease)  # a frozen writer is ended before a takeover is due
        self._writes = ConnectionPool(url, read_only=False, size=1, name="lysyme-pg-write",
                                      session=session)  # fmt: skip
        # The leader lease (bot/leadership.py): a connection of its own, never behind a writer.
        self._leases = ConnectionPool(url, read_only=False, size=1, name="lysyme-pg-lease",
                                      session=session, lease=lease)  # fmt: skip
        self._lease_lock = asyncio.Lock()
        self._lease_conn: Connection | None = None
        # The pool size counts every connection: the writer, the shared reader (`conn`), and
        # the read snapshots (`read()`).
        self._reads = ConnectionPool(
            url, read_only=True, size=max(1, pool_size - 2), name="lysyme-pg-read"
        )
        self._writer: Connection | None = None
        self._reader: Connection | None = None
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
            db._writer = await db._writes._new()
            db._reader = await db._reads._new(reconnecting=True)
            if migrate:
                await db.migrate()
                async with db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (anchors.DATABASE_ID_KEY, anchors.new_database_id()),
                    )
        except sqlite3.Error as exc:
            await db.close()
            raise anchors.DatabaseRefused(f"cannot use {db.label}: {exc}") from exc
        except BaseException:
            await db.close()
            raise
        return db

    @property
    def conn(self) -> Connection:
        if self._reader is None:
            raise sqlite3.ProgrammingError("the database is closed")
        return self._reader

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._reads.connection() as reader:
            await reader.call(begin_on, reader.raw, (BEGIN_READ,))
            try:
                yield reader
            finally:
                if not is_closed(reader):
                    await reader.execute("COMMIT")

    def _writer_or_closed(self) -> Connection:
        if self._writer is None:
            raise sqlite3.ProgrammingError("the database is closed")
        return self._writer

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            writer = await self._live_writer()
            await writer.call(begin_on, writer.raw, BEGIN_WRITE)
            try:
                yield writer
            except BaseException:
                if not is_closed(writer):
                    await writer.execute("ROLLBACK")
                raise
            else:
                await writer.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def lease_transaction(self) -> AsyncIterator[Connection]:
        """On the lease connection, without the write lock: a renewal never waits for a
        writer (a frozen one included); its statements give up after a third of the lease."""
        async with self._lease_lock:
            conn = self._lease_conn
            if conn is None or is_closed(conn):
                if conn is not None:
                    await close_connection(conn)
                self._lease_conn = None
                self._lease_conn = conn = await self._leases._new()
            try:
                await conn.call(begin_on, conn.raw, lease_begin(self.lease))
            except BaseException:
                await self._drop_lease_conn()
                raise
            try:
                yield conn
            except BaseException:
                if not is_closed(conn):
                    try:
                        await conn.execute("ROLLBACK")
                    except BaseException:
                        await self._drop_lease_conn()
                        raise
                raise
            else:
                try:
                    await conn.execute("COMMIT")
                except BaseException:
                    await self._drop_lease_conn()
                    raise

    async def _drop_lease_conn(self) -> None:
        """A lease statement that failed (a timeout, a dead network): the next renewal starts
        on a new connection rather than behind a stuck one."""
        conn, self._lease_conn = self._lease_conn, None
        if conn is not None:
            await close_connection(conn)

    async def run(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        async with self._write_lock:
            writer = await self._live_writer()
            return await writer.call(run_inline, writer.raw, body, BEGIN_WRITE)

    async def _live_writer(self) -> Connection:
        """The write connection, opened again if the server closed it (a restart, a
        failover): the transaction that found it closed failed and was not applied."""
        writer = self._writer_or_closed()
        if is_closed(writer):
            await close_connection(writer)
            self._writer = writer = await self._writes._new()
        return writer

    async def schema_version(self) -> int:
        rows = await self._writer_or_closed().execute_fetchall(
            "SELECT to_regclass('schema_version') IS NOT NULL"
        )
        if not rows or not rows[0][0]:
            return 0
        rows = await self._writer_or_closed().execute_fetchall(
            "SELECT max(version) FROM schema_version"
        )
        return int(rows[0][0] or 0) if rows else 0

    async def migrate(self, target: int = SCHEMA_VERSION) -> tuple[int, int]:
        start = await self.schema_version()
        self.refuse_newer(start)
        for version in range(start, target):
            async with self.transaction() as conn:  # under the write lock: one replica at a time
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version("
                    "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                rows = await conn.execute_fetchall("SELECT max(version) FROM schema_version")
                if int(rows[0][0] or 0) > version:
                    continue  # another replica applied it meanwhile
                await MIGRATIONS[version](conn)
                await conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version + 1,))
        return start, max(start, target)

    def abort(self) -> None:
        for pool in (self._writes, self._leases, self._reads):
            pool.abort()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await close_connection(reader)
        await self._reads.close()
        async with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                await close_connection(writer)
        await self._writes.close()
        async with self._lease_lock:
            await self._drop_lease_conn()
