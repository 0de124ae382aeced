"""PostgreSQL behind the same storage API as SQLite (issue 16): `LYSYME_DATABASE=postgresql://…`.

Why psycopg 3, used synchronously: the storage functions are written against
`storage.connection.Connection`, whose calls run on a database thread, and `Database.run`
drives a whole write transaction there in ONE hop. psycopg's synchronous connection slots into
that model unchanged (a DB-API connection on a thread, like `sqlite3`), so every repository
keeps one code path and one hop per answer on both backends. asyncpg would have needed a second
execution model for the same functions. psycopg also binds parameters server-side and ships
binary wheels (`psycopg[binary]`).

What differs from SQLite lives here and in `storage/postgres_schema.py`:

* SQL is written with `?` placeholders; `translate` turns them into psycopg's `%s` (and a
  literal `%` into `%%`), outside quoted strings, once per statement text (cached).
* Rows answer by index and by column name, like `sqlite3.Row` (`Row`).
* psycopg's errors are raised as the matching `sqlite3` exception classes (`PostgresError`
  subclasses them), so a caller catches one `sqlite3.Error` whatever the backend.
* Several replicas write to one database. Every write transaction first takes one
  transaction-scoped advisory lock (`WRITE_LOCK`, one per schema): writes are applied one at
  a time across all replicas, in the same order SQLite's `BEGIN IMMEDIATE` gives one process. That lock is
  the audit head lock (the chain stays one total order), serialises one screening's answers,
  and makes "claim this update id" and "claim these reminders" race-free. It is held for one
  short transaction (no Telegram call ever runs inside one), and the trial's load is a few
  writes a minute.
* Reads run in `REPEATABLE READ READ ONLY` transactions: one snapshot of committed rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import sqlite3
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from storage.connection import Connection, DatabaseThread, Parameters

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
log = logging.getLogger("lysyme.storage")

SCHEMES = ("postgresql://", "postgres://")
#: The advisory lock every write transaction holds (any constant shared by all replicas).
WRITE_LOCK = 0x4C5953594D45  # "LYSYME"
#: One lock per schema (advisory locks are per database): the replicas of one trial share it,
#: two trials kept in two schemas of one database (or two test runs) do not wait for each other.
WRITE_LOCK_KEY = f"{WRITE_LOCK} + coalesce(hashtext(current_schema()), 0)"
BEGIN_WRITE = (
    "BEGIN ISOLATION LEVEL READ COMMITTED",
    f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})",
)
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
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


class PostgresError(sqlite3.DatabaseError):
    """A PostgreSQL error that has no closer sqlite3 class."""


class PostgresIntegrityError(sqlite3.IntegrityError):
    """A constraint refused the statement (unique key, foreign key, the audit trigger)."""


class PostgresOperationalError(sqlite3.OperationalError):
    """The server is unreachable or closed the connection, a lock timed out, a write was
    tried on a read-only connection: worth trying again, as a busy SQLite file is."""


def _translated(exc: Exception) -> sqlite3.Error:
    import psycopg

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.IntegrityError):
        return PostgresIntegrityError(message)
    # A write on a read-only connection: sqlite3 says OperationalError ("attempt to write a
    # readonly database"); psycopg files it under InternalError.
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction):
        return PostgresOperationalError(message)
    return PostgresError(message)


def _wrap(function: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> T:
        import psycopg

        try:
            return function(*args, **kwargs)
        except psycopg.Error as exc:
            raise _translated(exc) from exc

    return call


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """sqlite3's placeholders in psycopg's spelling, outside quoted strings and identifiers:
    `?` → `%s`, `:name` → `%(name)s` (not a `::type` cast), and a literal `%` → `%%`."""
    out: list[str] = []
    quote: str | None = None
    index, size = 0, len(sql)
    while index < size:
        char = sql[index]
        index += 1
        if quote is not None:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        elif char == ":" and index < size and sql[index] == ":":  # a cast: `value::text`
            out.append("::")
            index += 1
        elif char == ":" and index < size and (sql[index].isalpha() or sql[index] == "_"):
            end = index
            while end < size and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            out.append(f"%({sql[index:end]})s")
            index = end
        else:
            out.append(char)
    return "".join(out)


class Row(tuple[Any, ...]):
    """A result row indexed by position or by column name, like `sqlite3.Row`."""

    _columns: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._columns[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._columns)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    description = cursor.description or ()
    columns = {column.name: index for index, column in reversed(list(enumerate(description)))}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._columns = columns
        return row

    return make


class PgCursor:
    """The part of `sqlite3.Cursor` the storage functions use."""

    def __init__(self, raw: psycopg.Cursor[Any]) -> None:
        self._raw = raw
        self._plain = False

    @_wrap
    def execute(self, sql: str, parameters: Parameters = ()) -> PgCursor:
        self._raw.execute(translate(sql), _params(parameters))
        return self

    @_wrap
    def executemany(self, sql: str, parameters: Iterable[Parameters]) -> PgCursor:
        self._raw.executemany(translate(sql), [_params(p) for p in parameters])
        return self

    @_wrap
    def fetchone(self) -> Any:
        if self._raw.description is None:
            return None
        row = self._raw.fetchone()
        return tuple(row) if self._plain and row is not None else row

    @_wrap
    def fetchall(self) -> list[Any]:
        if self._raw.description is None:
            return []
        rows = self._raw.fetchall()
        return [tuple(row) for row in rows] if self._plain else rows

    def close(self) -> None:
        self._raw.close()

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount

    @property
    def lastrowid(self) -> int | None:
        return None  # PostgreSQL has none: inserts that need the id say RETURNING id

    @property
    def row_factory(self) -> Any:
        return None if self._plain else _row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._plain = factory is None


def _params(parameters: Parameters) -> Any:
    return tuple(parameters) if isinstance(parameters, list) else parameters


class PgRaw:
    """The part of `sqlite3.Connection` the storage functions use, over a psycopg connection
    in autocommit mode (transactions are explicit, as with SQLite's isolation_level=None)."""

    dialect = "postgresql"
    row_factory = _row_factory

    def __init__(
        self,
        raw: psycopg.Connection[Any],
        reconnect: Callable[[], psycopg.Connection[Any]] | None = None,
        *,
        autocommit_reads: bool = False,
    ) -> None:
        self._raw = raw
        #: How to open the connection again once the server closed it (a restart, a
        #: failover): at the next BEGIN (`begin_on`), or — `autocommit_reads`, the shared
        #: read connection, which never opens a transaction — at any statement, a read that
        #: found it closed being asked once more. Never in the middle of a transaction.
        self._reconnect = reconnect
        self._autocommit_reads = autocommit_reads

    def reopen_if_closed(self) -> bool:
        """Open the connection again if the server closed it (and we know how)."""
        if self._reconnect is None or not self._raw.closed:
            return False
        self._raw = _wrap(self._reconnect)()
        return True

    @_wrap  # (a connection closed under it: psycopg's error, as sqlite3's)
    def cursor(self) -> PgCursor:
        if self._autocommit_reads:
            self.reopen_if_closed()
        return PgCursor(self._raw.cursor(row_factory=_row_factory))

    def execute(self, sql: str, parameters: Parameters = ()) -> PgCursor:
        try:
            return self.cursor().execute(sql, parameters)
        except sqlite3.OperationalError:
            if not self._autocommit_reads or not self.reopen_if_closed():
                raise
            return self.cursor().execute(sql, parameters)  # a read: safe to ask again

    def executemany(self, sql: str, parameters: Iterable[Parameters]) -> PgCursor:
        return self.cursor().executemany(sql, parameters)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self._raw.close()

    def abort(self) -> None:
        """From any thread: shut the connection's socket down, both ways. A statement waiting
        for an answer on it (a network that went silent) fails at once ("server closed the
        connection"); it is not opened again."""
        self._reconnect = None
        with contextlib.suppress(Exception):  # already closed: nothing to cut
            cut = socket.socket(fileno=os.dup(self._raw.pgconn.socket))
            try:
                cut.shutdown(socket.SHUT_RDWR)
            finally:
                cut.close()

    @property
    def closed(self) -> bool:
        return self._raw.closed


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


def lease_begin(lease: float) -> tuple[str, ...]:
    """BEGIN for the lease connection (no write lock): its statements give up after a third
    of the lease, so a renewal never outlives the time it is meant to keep."""
    limit = int(max(1.0, lease / 3) * 1000)
    return (
        "BEGIN ISOLATION LEVEL READ COMMITTED",
        f"SET LOCAL lock_timeout = '{limit}ms'",
        f"SET LOCAL statement_timeout = '{limit}ms'",
    )


def _open(
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
    return raw


@_wrap
def connect(
    url: str,
    *,
    read_only: bool = False,
    reconnecting: bool = False,
    session: Sequence[str] = WRITE_SESSION,
    lease: float = 0,
) -> PgRaw:
    """A connection in autocommit mode, opened again at its next BEGIN once the server closed
    it; `reconnecting`: at any statement (the shared autocommit read connection). `session`:
    the write connections' limits; `lease`: the lease connection (short network timeouts)."""
    reconnect = functools.partial(_open, url, read_only, session, lease=lease)
    return PgRaw(_open(url, read_only, session, lease=lease), reconnect,
                 autocommit_reads=reconnecting)  # fmt: skip


def begin_on(raw: PgRaw, begin: Sequence[str]) -> None:
    """BEGIN and what follows it (the write lock). If one of them fails (the lock not granted
    within `lock_timeout`, the server gone), the transaction already begun is rolled back:
    left aborted, it would refuse every later statement on this connection. A connection the
    server closed since the last transaction is opened again first (nothing was begun yet)."""
    raw.reopen_if_closed()
    try:
        try:
            raw.execute(begin[0])
        except sqlite3.OperationalError:
            if not raw.reopen_if_closed():  # closed under us while idle: begin on a new one
                raise
            raw.execute(begin[0])
        for statement in begin[1:]:
            raw.execute(statement)
    except BaseException:
        if not raw.closed and raw.in_transaction:
            raw.execute("ROLLBACK")
        raise


def run_inline(
    raw: PgRaw,
    body: Callable[[Connection], Coroutine[Any, Any, T]],
    begin: Sequence[str],
) -> T:
    """On the database thread: BEGIN (and the write lock), drive `body` to completion, COMMIT."""
    begin_on(raw, begin)
    try:
        coroutine = body(Connection(raw, None))  # type: ignore[arg-type]
        try:
            coroutine.send(None)
        except StopIteration as finished:
            result: T = finished.value
        else:
            coroutine.close()
            raise RuntimeError("a Database.run body awaited something other than the database")
    except BaseException:
        if raw.in_transaction and not raw.closed:
            raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return result


#: How long a read waits for a pooled connection before it opens one beyond the pool's size
#: (rather than wait for ever: a read that needs a second one while holding the last).
POOL_WAIT = 10.0


class ConnectionPool:
    """Connections of one kind (read or write), each on a thread of its own: at most `size`
    in use at once (a caller waits for one to be given back, `POOL_WAIT` at most)."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool,
        size: int,
        name: str,
        session: Sequence[str] = WRITE_SESSION,
        lease: float = 0,
    ) -> None:
        self.url, self.read_only, self.size, self.name = url, read_only, size, name
        self.session, self.lease = tuple(session), lease
        self._idle: list[Connection] = []
        self._open = 0
        self._slots = asyncio.Semaphore(size)
        self.closed = False
        self._aborted = False
        #: Every connection it opened and still alive (for `abort`, from another thread: a
        #: list, copied at once).
        self._every: list[weakref.ref[PgRaw]] = []

    async def _new(self, *, reconnecting: bool = False) -> Connection:
        if self._aborted:
            raise sqlite3.ProgrammingError("the database is closed")
        thread = DatabaseThread(f"{self.name}-{self._open}")
        try:
            raw = await thread.call(
                functools.partial(
                    connect,
                    self.url,
                    read_only=self.read_only,
                    reconnecting=reconnecting,
                    session=self.session,
                    lease=self.lease,
                )
            )
        except BaseException:
            thread.stop()
            raise
        self._open += 1
        self._every = [*(r for r in self._every if r() is not None), weakref.ref(raw)]
        if self._aborted:  # cut while it was being opened
            raw.abort()
        return Connection(raw, thread)  # type: ignore[arg-type]

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        if self.closed:
            raise sqlite3.ProgrammingError("the database is closed")
        try:
            await asyncio.wait_for(self._slots.acquire(), POOL_WAIT)
            slot = True
        except TimeoutError:
            log.warning("%s: all %d connections busy for %.0f s; opening one more",
                        self.name, self.size, POOL_WAIT)  # fmt: skip
            slot = False
        try:
            conn = self._idle.pop() if self._idle else await self._new()
            healthy = False
            try:
                yield conn
                healthy = not is_closed(conn) and not conn.raw.in_transaction
            finally:
                if healthy and not self.closed and len(self._idle) < self.size:
                    self._idle.append(conn)
                else:
                    await close_connection(conn)
                    self._open -= 1
        finally:
            if slot:
                self._slots.release()

    async def close(self) -> None:
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await close_connection(conn)

    def abort(self) -> None:
        """From any thread: cut every connection this pool opened (`PgRaw.abort`), open no
        more."""
        self._aborted = self.closed = True
        for ref in list(self._every):
            raw = ref()
            if raw is not None:
                raw.abort()


def is_closed(conn: Connection) -> bool:
    """The server closed this connection (a restart, a failover, an idle timeout)."""
    return bool(getattr(conn.raw, "closed", False))


async def close_connection(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        await conn.call(conn.raw.close)
    if conn.thread is not None:
        conn.thread.stop()


@_wrap
def probe_schema_version(url: str, timeout: float) -> int:
    """The schema version, read on a connection of its own (the health check, in its own
    process: it never writes and holds nothing)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
        conn.execute("SET default_transaction_read_only = on")
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(version[0] or 0) if version else 0
