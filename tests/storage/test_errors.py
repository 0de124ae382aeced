"""Storage's own errors (storage/errors.py): a real fault on either backend reaches the caller
as one of storage's classes — never as a driver's — with the driver's exception kept behind it
(as its cause, or the cause's `orig` when SQLAlchemy's wrapper stands between), whether the
write is one storage function or a body of several run as one transaction."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection

from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.db import Database
from storage.errors import (
    StorageConflict,
    StorageError,
    StorageGone,
    StorageIntegrity,
    StorageUnavailable,
)
from storage.open import open_database
from storage.sql import execute, fetch_all, value
from tests.conftest import is_postgres
from tests.conversations.support import NOW

CLINICIAN = 101


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


def _driver_cause(error: BaseException) -> BaseException:
    """The driver's exception behind storage's: its cause, or the `orig` of SQLAlchemy's
    wrapper when that is the cause."""
    cause = error.__cause__
    assert cause is not None, "the driver's exception is kept as the cause"
    if isinstance(cause, sqlalchemy.exc.DBAPIError) and cause.orig is not None:
        return cause.orig
    return cause


def _driver_error(error: BaseException, target: Path | str) -> BaseException:
    """The driver's exception behind storage's, asserted to be the driver's own."""
    assert not isinstance(error, sqlalchemy.exc.SQLAlchemyError), (
        "storage's class, not SQLAlchemy's"
    )
    cause = _driver_cause(error)
    if is_postgres(target):
        import psycopg

        assert isinstance(cause, psycopg.Error)
    else:
        assert isinstance(cause, sqlite3.Error)
    return cause


def _open_screening(conn: Connection, number: str) -> None:
    execute(
        conn,
        "INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id, chat_id,"
        " status, stage, created_at, updated_at, last_activity_at)"
        " VALUES (:number, 'S1', :sequence, 1, 1, 1, 'in_screening', 'criteria', 'x', 'x', 'x')",
        {"number": number, "sequence": int(number[-1])},
    )


def _grant(conn: Connection) -> None:
    user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)


def _numbers(conn: Connection) -> list[str]:
    return [
        row["number"] for row in fetch_all(conn, "SELECT number FROM screenings ORDER BY number")
    ]


async def test_a_unique_key_violated_is_an_integrity_error_and_nothing_is_written(
    db: Database, database_target: Path | str
) -> None:
    await db.write(_open_screening, "S1-001")

    def twice(conn: Connection) -> None:
        _open_screening(conn, "S1-002")
        _open_screening(conn, "S1-002")  # the same number again

    with pytest.raises(StorageIntegrity) as raised:
        await db.write(twice)
    _driver_error(raised.value, database_target)
    with pytest.raises(StorageIntegrity):  # one storage function alone: the same class
        await db.write(_open_screening, "S1-001")
    assert await db.read(_numbers) == ["S1-001"]  # the failed transactions rolled back whole


async def test_editing_the_audit_trail_is_an_integrity_error(
    db: Database, database_target: Path | str
) -> None:
    await db.write(append_audit, AuditEntry(NOW, "test", "screening_opened", "S1-001"))
    for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(StorageIntegrity, match="append-only") as raised:
            await db.write(execute, statement)
        _driver_error(raised.value, database_target)
    rows = await db.read(fetch_all, "SELECT actor FROM audit")
    assert [row["actor"] for row in rows] == ["test"]


async def test_a_write_on_a_read_connection_is_unavailable(
    db: Database, database_target: Path | str
) -> None:
    with pytest.raises(StorageUnavailable) as raised:
        await db.read(_grant)
    _driver_error(raised.value, database_target)


async def test_a_closed_database_is_unavailable(db: Database) -> None:
    await db.close()
    with pytest.raises(StorageUnavailable, match="closed"):
        await db.read(user_store.list_users)
    with pytest.raises(StorageUnavailable, match="closed"):
        await db.write(_grant)


async def test_a_sqlite_database_locked_by_another_process_is_unavailable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    db = await open_database(path)
    try:
        await db.write(execute, "PRAGMA busy_timeout=50")  # the writer gives up at once, not in 5 s
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageUnavailable, match="locked") as raised:
                await db.write(_grant)
            assert isinstance(_driver_cause(raised.value), sqlite3.OperationalError)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await db.write(_grant)  # the lock released: the same write goes through
        assert await db.read(user_store.get_user, CLINICIAN) is not None
    finally:
        await db.close()


async def test_a_deleted_sqlite_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    db = await open_database(path)
    try:
        os.unlink(path)
        with pytest.raises(StorageGone, match="deleted") as raised:
            await db.write(_grant)
        assert isinstance(raised.value, StorageError)
    finally:
        await db.close()


async def test_a_postgresql_backend_terminated_mid_transaction_is_unavailable(
    postgres_target: str,
) -> None:
    import psycopg

    def killed_midway(conn: Connection) -> None:
        pid = value(conn, "SELECT pg_backend_pid()")
        with psycopg.connect(postgres_target, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _grant(conn)

    db = await open_database(postgres_target)
    try:
        with pytest.raises(StorageUnavailable) as raised:
            await db.write(killed_midway)
        assert isinstance(_driver_cause(raised.value), psycopg.OperationalError)
        await db.write(_grant)  # the next transaction opens a new connection
        assert await db.read(user_store.get_user, CLINICIAN) is not None
    finally:
        await db.close()


async def test_a_postgresql_server_that_refuses_the_connection_is_unavailable() -> None:
    from storage.postgres import probe_schema_version

    # Port 1 on this machine: nothing listens, the connection is refused at once.
    with pytest.raises(StorageUnavailable) as raised:
        await asyncio.to_thread(probe_schema_version, "postgresql://nobody@127.0.0.1:1/x", 2)
    import psycopg

    assert isinstance(_driver_cause(raised.value), psycopg.OperationalError)


async def test_a_postgresql_lock_not_granted_in_time_is_a_conflict(postgres_target: str) -> None:
    import psycopg

    def impatient_grant(conn: Connection) -> None:
        execute(conn, "SET LOCAL lock_timeout = '50ms'")
        _grant(conn)

    db = await open_database(postgres_target)
    holder = psycopg.connect(postgres_target, autocommit=True)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StorageConflict) as raised:
            await db.write(impatient_grant)
        assert isinstance(_driver_cause(raised.value), psycopg.errors.LockNotAvailable)
        holder.execute("ROLLBACK")
        await db.write(_grant)  # the lock released: the same write goes through
        assert await db.read(user_store.get_user, CLINICIAN) is not None
    finally:
        holder.close()
        await db.close()
