"""The connection the storage functions are written against: an async API over a
`sqlite3.Connection` that storage/ owns (no third-party wrapper, no private attributes).

A sqlite3 connection is used from one thread, its *database thread* (`DatabaseThread`). Each
call on a `Connection` runs there: one hop and back, or directly when the caller already runs
on that thread (`Database.run` drives a whole write transaction there at once).

This is sqlite3's one error seam: whatever runs on a database thread, and every call on a
`Connection`, raises storage's own errors (storage/errors.py, `translated`), never a
`sqlite3.Error` — the driver's exception is kept as `__cause__`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from storage.errors import StorageError, StorageIntegrity, StorageUnavailable

#: Statement parameters: positional (`?`) or named (`:name`).
Parameters = Sequence[Any] | Mapping[str, Any]
T = TypeVar("T")
_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class DatabaseThread:
    """One thread that runs jobs for the event loop, in the order they were given.

    A hop costs one queue put, one thread wake-up and one `call_soon_threadsafe` back: ~35–40
    µs here, as with aiosqlite's thread, against ~50 µs with `loop.run_in_executor` (its
    futures and callbacks) — it matters on the hot path (several hops per update). A daemon thread: a process that ends
    without closing its database is not kept alive by it (SQLite rolls back what was not
    committed)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on this thread; its result or exception here."""
        if self._stopped:  # a job given now would never run
            raise StorageUnavailable("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((functools.partial(function, *args), future, loop))
        return await future

    def stop(self) -> None:
        """Stop after the jobs already given."""
        self._stopped = True
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, future, loop = job
            try:
                result = function()
            except sqlite3.Error as exc:
                _settle_soon(loop, future, None, translated(exc))
            except BaseException as exc:
                _settle_soon(loop, future, None, exc)
            else:
                _settle_soon(loop, future, result, None)


def translated(exc: sqlite3.Error) -> StorageError:
    """sqlite3's exception as storage's own (storage/errors.py), the original as `__cause__`:

    * IntegrityError (a unique or foreign key, a CHECK, the audit trigger's RAISE(ABORT)) →
      `StorageIntegrity`;
    * OperationalError ("database is locked", a busy timeout, a disk full or an I/O error,
      a write on a read-only connection) → `StorageUnavailable`;
    * anything else (a malformed file, a closed connection, a misused API) → `StorageError`.
    """
    kind: type[StorageError]
    if isinstance(exc, sqlite3.IntegrityError):
        kind = StorageIntegrity
    elif isinstance(exc, sqlite3.OperationalError):
        kind = StorageUnavailable
    else:
        kind = StorageError
    error = kind(str(exc) or type(exc).__name__)
    error.__cause__ = exc
    return error


def _settle_soon(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop was closed: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Cursor:
    """A sqlite3 cursor whose calls run on its connection's database thread."""

    def __init__(self, raw: sqlite3.Cursor, connection: Connection) -> None:
        self._raw = raw
        self._connection = connection

    async def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        await self._connection.call(self._raw.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Parameters]) -> Cursor:
        await self._connection.call(self._raw.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return await self._connection.call(self._raw.fetchone)

    async def fetchall(self) -> list[Any]:
        return await self._connection.call(self._raw.fetchall)

    async def close(self) -> None:
        await self._connection.call(self._raw.close)

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._raw.lastrowid

    @property
    def row_factory(self) -> Any:
        return self._raw.row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._raw.row_factory = factory

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _Executed:
    """What `Connection.execute` returns: awaited (`await conn.execute(...)`) or entered
    (`async with conn.execute(...) as cursor:`, closed on exit)."""

    def __init__(self, running: Coroutine[Any, Any, Cursor]) -> None:
        self._pending = running
        self._cursor: Cursor | None = None

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._pending.__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._pending
        return self._cursor

    async def __aexit__(self, *exc_info: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class Connection:
    """The connection API the storage functions use, over a `sqlite3.Connection` this module
    owns. A sqlite3 connection is used from one thread at a time, its *database thread*:

    * `thread` given: each call is one hop to that thread and back;
    * `thread=None`: the caller already runs on the database thread (the body of
      `Database.run`), so calls run directly and an `await` on them never suspends.
    """

    def __init__(self, raw: sqlite3.Connection, thread: DatabaseThread | None) -> None:
        self.raw = raw
        self.thread = thread

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the database thread."""
        if self.thread is None:
            try:
                return function(*args)
            except sqlite3.Error as exc:
                raise translated(exc) from exc
        return await self.thread.call(function, *args)

    def execute(self, sql: str, parameters: Parameters = ()) -> _Executed:
        return _Executed(self._executed_cursor(sql, parameters))

    async def _executed_cursor(self, sql: str, parameters: Parameters) -> Cursor:
        return Cursor(await self.call(self.raw.execute, sql, parameters), self)

    async def execute_fetchall(self, sql: str, parameters: Parameters = ()) -> list[Any]:
        """Every row of one statement, in one hop."""
        return await self.call(_fetchall, self.raw, sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Parameters]) -> Cursor:
        return Cursor(await self.call(self.raw.executemany, sql, parameters), self)

    async def cursor(self) -> Cursor:
        return Cursor(await self.call(self.raw.cursor), self)

    async def backup(self, target: sqlite3.Connection, *, pages: int = -1) -> None:
        await self.call(functools.partial(self.raw.backup, target, pages=pages))

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql" (storage/postgres.py `PgRaw`)."""
        return str(getattr(self.raw, "dialect", "sqlite"))

    @property
    def row_factory(self) -> Any:
        return self.raw.row_factory


def _fetchall(raw: sqlite3.Connection, sql: str, parameters: Parameters) -> list[Any]:
    return raw.execute(sql, parameters).fetchall()


def dialect_of(conn: object) -> str:
    """ "sqlite" or "postgresql": a `Connection`'s dialect; any other connection (a plain
    aiosqlite one in tests and tools) is SQLite."""
    return str(getattr(conn, "dialect", "sqlite"))
