"""The database seam: reads on read-only connections (a snapshot never sees a write that is
not committed), views that answer while a write holds the lock, a write function run whole as
one transaction off the event loop, and storage that owns its connections (no private
attributes of a third-party wrapper)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from bot.common import Actor, Context
from bot.settings import load_settings
from bot.views import patient as patient_view
from bot.views import stats as stats_view
from bot.views import status as status_view
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.db import Database
from storage.errors import StorageUnavailable
from storage.open import open_database
from storage.sql import execute, value
from tests.conversations.support import NOW
from tests.storage.support import PATIENCE_S, Pause

ROOT = Path(__file__).resolve().parents[2]
CLINICIAN = 101
COORDINATOR = 202


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


async def _holding_write(db: Database, pause: Pause) -> None:
    """A write transaction that adds a user and stays open (lock held) until `pause.go()`."""

    def write(conn: Connection) -> None:
        user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        pause.here()

    await db.write(write)


async def _finishes(task: asyncio.Task[object]) -> bool:
    done, _ = await asyncio.wait({task}, timeout=PATIENCE_S)
    return task in done


def _user_ids(conn: Connection) -> list[int]:
    return [user.telegram_id for user in user_store.list_users(conn)]


async def test_a_read_never_sees_rows_a_write_has_not_committed(db: Database) -> None:
    pause = Pause()
    writer = asyncio.create_task(_holding_write(db, pause))
    try:
        await pause.wait()
        assert await db.read(user_store.get_user, CLINICIAN) is None
        assert await db.read(_user_ids) == []
    finally:
        pause.go()
        await writer
    assert await db.read(user_store.get_user, CLINICIAN) is not None
    assert await db.read(_user_ids) == [CLINICIAN]


async def test_a_read_sees_one_snapshot_while_writes_commit(db: Database) -> None:
    pause = Pause()

    def two_looks(conn: Connection) -> tuple[list[int], list[int]]:
        before = _user_ids(conn)  # the snapshot starts here
        pause.here()
        return before, _user_ids(conn)  # same snapshot, whatever committed meanwhile

    reading = asyncio.create_task(db.read(two_looks))
    try:
        await pause.wait()
        # Not held up by the open read: the write commits while the snapshot is open.
        await asyncio.wait_for(
            db.write(user_store.grant_roles, CLINICIAN, {"clinician"}, "test", NOW), PATIENCE_S
        )
    finally:
        pause.go()
    assert await reading == ([], [])
    assert await db.read(_user_ids) == [CLINICIAN]  # a new read sees the commit


async def test_reads_cannot_write(db: Database) -> None:
    with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
        await db.read(user_store.grant_roles, CLINICIAN, {"clinician"}, "test", NOW)
    with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
        await db.read(execute, "DELETE FROM users")
    assert await db.read(_user_ids) == []  # the failed reads gave their connection back cleanly


async def test_a_read_does_not_wait_for_the_write_lock(db: Database) -> None:
    pause = Pause()
    writer = asyncio.create_task(_holding_write(db, pause))
    try:
        await pause.wait()
        reading = asyncio.create_task(db.read(user_store.list_users))
        assert await _finishes(reading), "the read waited for the write transaction"
        assert reading.result() == []
    finally:
        pause.go()
        await writer


async def test_a_view_answers_while_a_long_write_holds_the_lock(
    database_target: Path | str,
) -> None:
    settings = load_settings(
        LYSYME_DATABASE=str(database_target),
        LYSYME_LANGUAGE="en",
        LYSYME_TEAM_CHAT_ID="-100",
        LYSYME_TIMEZONE="Europe/Paris",
        LYSYME_SITE_CODE="HMN",
    )
    ctx = Context(settings=settings, db=await open_database(settings.database), clock=lambda: NOW)
    try:

        def set_up(conn: Connection) -> tuple[store.Screening, user_store.User | None]:
            user_store.grant_roles(conn, COORDINATOR, {"coordinator"}, "test", NOW)
            screening = store.create_screening(
                conn, site="HMN", clinician_id=COORDINATOR, chat_id=COORDINATOR, now=NOW,
                first_question="index_date",
            )  # fmt: skip
            return screening, user_store.get_user(conn, COORDINATOR)

        screening, coordinator_user = await ctx.db.write(set_up)
        actor = Actor(user_id=COORDINATOR, chat_id=COORDINATOR, private=True,
                      user=coordinator_user)  # fmt: skip
        pause = Pause()

        def long_write(conn: Connection) -> None:
            append_audit(conn, AuditEntry(NOW, "system", "test", None, None, None, None))
            pause.here()

        writer = asyncio.create_task(ctx.db.write(long_write))
        try:
            await pause.wait()
            views = [
                asyncio.create_task(status_view.status(ctx, actor, [])),
                asyncio.create_task(patient_view.patient(ctx, actor, [screening.number])),
                asyncio.create_task(stats_view.stats(ctx, actor, [])),
            ]
            for view in views:
                assert await _finishes(view), f"{view.get_coro()} waited for the write lock"
            status, patient = views[0].result(), views[1].result()
            assert screening.number in status[0].text
            assert screening.number in patient[0].text
            assert views[2].result()[0].photo is not None
        finally:
            pause.go()
            await writer
    finally:
        await ctx.db.close()


async def test_a_write_runs_whole_off_the_event_loop_as_one_transaction(db: Database) -> None:
    """`write(fn)` calls `fn` once, on storage's thread (the event loop stays free), and
    commits everything it wrote together; a function that raises leaves nothing written and
    its exception reaches the caller unchanged."""
    threads: list[int] = []

    def body(conn: Connection) -> int:
        threads.append(threading.get_ident())
        user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        append_audit(conn, AuditEntry(NOW, "system", "test", None, None, None, None))
        return int(value(conn, "SELECT COUNT(*) FROM users"))

    assert await db.write(body) == 1
    assert len(threads) == 1 and threads[0] != threading.get_ident()

    class ChangedItsMind(Exception):
        """A flow's own reason to give up its write (not a storage error)."""

    def half(conn: Connection) -> None:
        user_store.grant_roles(conn, COORDINATOR, {"coordinator"}, "test", NOW)
        append_audit(conn, AuditEntry(NOW, "system", "half", None, None, None, None))
        raise ChangedItsMind

    with pytest.raises(ChangedItsMind):
        await db.write(half)
    assert await db.read(_user_ids) == [CLINICIAN]  # nothing half-written
    assert await db.read(value, "SELECT COUNT(*) FROM audit") == 1
    assert await db.write(body) == 1  # the writer is usable again after the rollback


def test_storage_and_bot_use_no_private_attribute_of_a_database_wrapper() -> None:
    """The storage seam owns its sqlite3 connections: nothing in storage/ or bot/ imports
    aiosqlite, nor reaches into a connection's private parts (`._conn`, `._execute`, …)."""
    # aiosqlite's internals that storage/db.py used to drive (`Connection._execute`, `_conn`,
    # its queue `_tx`, `_running`, `_connector`), on whatever object.
    private = re.compile(r"\._(?:execute|conn|tx|running|connector)\b")
    offenders = []
    for folder in ("storage", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if re.search(r"^\s*(?:import|from)\s+aiosqlite\b", code) or private.search(code):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
