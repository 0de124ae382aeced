"""Storage's own errors (storage/errors.py): a real fault on either backend reaches the caller
as one of storage's classes — never as a driver's — with the driver's exception kept as its
cause, through both ways a write runs (`transaction()`, one hop per statement, and `run()`,
the whole transaction in one hop)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.connection import Connection
from storage.db import Database
from storage.errors import (
    StorageConflict,
    StorageError,
    StorageGone,
    StorageIntegrity,
    StorageUnavailable,
)
from storage.open import open_database
from tests.conftest import is_postgres
from tests.conversations.support import NOW

CLINICIAN = 101


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


def _driver_error(error: BaseException, target: Path | str) -> BaseException:
    """The driver's exception behind storage's, asserted to be the driver's own."""
    cause = error.__cause__
    assert cause is not None, "the driver's exception is kept as the cause"
    if is_postgres(target):
        import psycopg

        assert isinstance(cause, psycopg.Error)
    else:
        assert isinstance(cause, sqlite3.Error)
    return cause


async def _open_screening(conn: Connection, number: str) -> None:
    await conn.execute(
        "INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id, chat_id,"
        " status, stage, created_at, updated_at, last_activity_at)"
        " VALUES (?, 'S1', ?, 1, 1, 1, 'in_screening', 'criteria', 'x', 'x', 'x')",
        (number, int(number[-1])),
    )


async def test_a_unique_key_violated_is_an_integrity_error_and_nothing_is_written(
    db: Database, database_target: Path | str
) -> None:
    async with db.transaction() as conn:
        await _open_screening(conn, "S1-001")
    with pytest.raises(StorageIntegrity) as raised:
        async with db.transaction() as conn:
            await _open_screening(conn, "S1-002")
            await _open_screening(conn, "S1-002")  # the same number again
    _driver_error(raised.value, database_target)

    async def twice(conn: Connection) -> None:  # the one-hop path raises the same class
        await _open_screening(conn, "S1-003")
        await _open_screening(conn, "S1-001")

    with pytest.raises(StorageIntegrity):
        await db.run(twice)
    rows = await db.conn.execute_fetchall("SELECT number FROM screenings ORDER BY number")
    assert [row[0] for row in rows] == ["S1-001"]  # both transactions rolled back whole


async def test_editing_the_audit_trail_is_an_integrity_error(
    db: Database, database_target: Path | str
) -> None:
    async with db.transaction() as conn:
        await append_audit(conn, AuditEntry(NOW, "test", "screening_opened", "S1-001"))
    for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(StorageIntegrity, match="append-only") as raised:
            async with db.transaction() as conn:
                await conn.execute(statement)
        _driver_error(raised.value, database_target)
    rows = await db.conn.execute_fetchall("SELECT actor FROM audit")
    assert [row[0] for row in rows] == ["test"]


async def test_a_write_on_a_read_connection_is_unavailable(
    db: Database, database_target: Path | str
) -> None:
    with pytest.raises(StorageUnavailable) as raised:
        async with db.read() as conn:
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
    _driver_error(raised.value, database_target)


async def test_a_closed_database_is_unavailable(db: Database) -> None:
    await db.close()
    with pytest.raises(StorageUnavailable, match="closed"):
        db.conn  # noqa: B018  (the property raises)


async def test_a_sqlite_database_locked_by_another_process_is_unavailable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    db = await open_database(path)
    try:
        async with db.transaction() as conn:  # the writer gives up at once instead of in 5 s
            await conn.execute("PRAGMA busy_timeout=50")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageUnavailable, match="locked") as raised:
                async with db.transaction() as conn:
                    await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
            assert isinstance(raised.value.__cause__, sqlite3.OperationalError)

            async def grant(conn: Connection) -> None:
                await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)

            with pytest.raises(StorageUnavailable, match="locked"):
                await db.run(grant)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await db.run(grant)  # the lock released: the same write goes through
        assert await user_store.get_user(db.conn, CLINICIAN) is not None
    finally:
        await db.close()


async def test_a_deleted_sqlite_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    db = await open_database(path)
    try:
        os.unlink(path)
        with pytest.raises(StorageGone, match="deleted") as raised:
            async with db.transaction() as conn:
                await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        assert isinstance(raised.value, StorageError)
    finally:
        await db.close()


async def test_a_postgresql_backend_terminated_mid_transaction_is_unavailable(
    postgres_target: str,
) -> None:
    import psycopg

    db = await open_database(postgres_target)
    try:
        with pytest.raises(StorageUnavailable) as raised:
            async with db.transaction() as conn:
                rows = await conn.execute_fetchall("SELECT pg_backend_pid()")
                with psycopg.connect(postgres_target, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (rows[0][0],))
                await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)
        async with db.transaction() as conn:  # the next transaction opens a new connection
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        assert await user_store.get_user(db.conn, CLINICIAN) is not None
    finally:
        await db.close()


async def test_a_postgresql_server_that_refuses_the_connection_is_unavailable() -> None:
    from storage.postgres import probe_schema_version

    # Port 1 on this machine: nothing listens, the connection is refused at once.
    with pytest.raises(StorageUnavailable) as raised:
        await asyncio.to_thread(probe_schema_version, "postgresql://nobody@127.0.0.1:1/x", 2)
    import psycopg

    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


async def test_a_postgresql_lock_not_granted_in_time_is_a_conflict(postgres_target: str) -> None:
    import psycopg

    db = await open_database(postgres_target)
    holder = psycopg.connect(postgres_target, autocommit=True)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StorageConflict) as raised:
            async with db.transaction() as conn:
                await conn.execute("SET LOCAL lock_timeout = '50ms'")
                await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        assert isinstance(raised.value.__cause__, psycopg.errors.LockNotAvailable)
        holder.execute("ROLLBACK")
        async with db.transaction() as conn:  # the lock released: the same write goes through
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        assert await user_store.get_user(db.conn, CLINICIAN) is not None
    finally:
        holder.close()
        await db.close()
