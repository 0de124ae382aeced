"""The few words every storage function uses, over a SQLAlchemy `Connection`.

Storage functions are plain synchronous functions `f(conn: Connection, …)`. They run on the
database's own thread, inside the one transaction `Database.write` or `Database.read` opened
for them (storage/db.py): they never commit, never sleep and never touch asyncio.

SQL is written as text with named parameters (`:screening_id`), which SQLAlchemy binds in
each driver's own style — no placeholder is translated by hand. A row is a `RowMapping`
(`row["column"]`); a single value comes from `value`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, RowMapping, TextClause, text

__all__ = [
    "Connection",
    "after_commit",
    "dialect",
    "execute",
    "execute_many",
    "fetch_all",
    "fetch_one",
    "in_transaction",
    "listed",
    "value",
]

Params = Mapping[str, Any]


@functools.lru_cache(maxsize=2048)
def _statement(sql: str) -> TextClause:
    """The statement for a SQL text, parsed for its `:name` parameters once (a TextClause is
    immutable; SQLAlchemy caches its compiled form per dialect)."""
    return text(sql)


def execute(conn: Connection, sql: str, params: Params | None = None) -> CursorResult[Any]:
    """One statement (its `rowcount`, or rows of a `RETURNING`)."""
    return conn.execute(_statement(sql), dict(params or {}))


def execute_many(conn: Connection, sql: str, params: Sequence[Params]) -> None:
    """One statement for each set of parameters (the driver's executemany)."""
    if params:
        conn.execute(_statement(sql), [dict(p) for p in params])


def fetch_one(conn: Connection, sql: str, params: Params | None = None) -> RowMapping | None:
    """The first row (for queries that return at most one), or None."""
    return conn.execute(_statement(sql), dict(params or {})).mappings().first()


def fetch_all(conn: Connection, sql: str, params: Params | None = None) -> list[RowMapping]:
    """Every row."""
    return list(conn.execute(_statement(sql), dict(params or {})).mappings().all())


def value(conn: Connection, sql: str, params: Params | None = None) -> Any:
    """The first column of the first row, or None when there is no row."""
    return conn.execute(_statement(sql), dict(params or {})).scalar()


def dialect(conn: Connection) -> str:
    """ "sqlite" or "postgresql", for the few statements each backend spells its own way."""
    return str(conn.dialect.name)


def listed(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """An `IN (…)` list of named parameters: (`":name0, :name1, …"`, their values by name).
    Callers check for an empty list first (`IN ()` is no SQL)."""
    params = {f"{name}{index}": item for index, item in enumerate(values)}
    return ", ".join(f":{key}" for key in params), params


def in_transaction(conn: Connection) -> bool:
    """Whether the DRIVER's connection is inside a transaction (BEGIN … not yet committed).
    SQLAlchemy's own `in_transaction()` also counts its implicit "autobegin" on an autocommit
    connection; the audit trail needs to know that a real transaction is open around it."""
    driver = conn.connection.driver_connection
    if dialect(conn) == "postgresql":
        from psycopg.pq import TransactionStatus

        return bool(driver.info.transaction_status != TransactionStatus.IDLE)  # type: ignore[union-attr]
    return bool(driver.in_transaction)  # type: ignore[union-attr]


class _Writing(threading.local):
    """The callbacks `after_commit` collects for the write transaction running on this thread
    (`Database.write` sets and clears them around its body); None outside one."""

    callbacks: list[Callable[[], object]] | None = None


WRITING = _Writing()


def after_commit(conn: Connection, callback: Callable[[], object]) -> None:
    """Run `callback` on the event loop once the write transaction `conn` is in has committed
    (`Database.write`); never if it rolls back. For what must not happen before the data is
    there: waking the reminder sender after reminders were queued."""
    if WRITING.callbacks is None:
        raise RuntimeError("after_commit needs the write transaction of Database.write")
    WRITING.callbacks.append(callback)
