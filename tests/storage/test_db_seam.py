"""The database seam: reads on read-only connections (a WAL snapshot never sees a write that
is not committed), views that answer while a write holds the lock, and storage that owns its
sqlite3 connections (no private attributes of a third-party wrapper)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.common import Actor, Context
from bot.settings import load_settings
from bot.views import patient as patient_view
from bot.views import stats as stats_view
from bot.views import status as status_view
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.connection import Connection
from storage.db import Database
from storage.errors import StorageUnavailable
from storage.open import open_database
from tests.conversations.support import NOW

ROOT = Path(__file__).resolve().parents[2]
CLINICIAN = 101
COORDINATOR = 202
#: Generous bound for "answers at once" (a read that waited for the lock would never finish).
PATIENCE_S = 30


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


async def _holding_write(db: Database, hold: asyncio.Event, entered: asyncio.Event) -> None:
    """A write transaction that adds a user and stays open (lock held) until `hold` is set."""
    async with db.transaction() as conn:
        await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        entered.set()
        await hold.wait()


async def _finishes(task: asyncio.Task[object]) -> bool:
    done, _ = await asyncio.wait({task}, timeout=PATIENCE_S)
    return task in done


async def test_a_read_never_sees_rows_a_write_has_not_committed(db: Database) -> None:
    hold, entered = asyncio.Event(), asyncio.Event()
    writer = asyncio.create_task(_holding_write(db, hold, entered))
    await entered.wait()
    async with db.read() as conn:
        assert await user_store.get_user(conn, CLINICIAN) is None
    assert await user_store.get_user(db.conn, CLINICIAN) is None
    hold.set()
    await writer
    async with db.read() as conn:
        assert await user_store.get_user(conn, CLINICIAN) is not None
    assert await user_store.get_user(db.conn, CLINICIAN) is not None


async def test_a_read_sees_one_snapshot_while_writes_commit(db: Database) -> None:
    async with db.read() as conn:
        assert await user_store.list_users(conn) == []  # the snapshot starts here
        async with db.transaction() as write:  # not held up by the open read
            await user_store.grant_roles(write, CLINICIAN, {"clinician"}, "test", NOW)
        assert await user_store.list_users(conn) == []  # same snapshot, whatever commits
        assert [u.telegram_id for u in await user_store.list_users(db.conn)] == [CLINICIAN]
    async with db.read() as conn:
        assert [u.telegram_id for u in await user_store.list_users(conn)] == [CLINICIAN]


async def test_reads_cannot_write(db: Database) -> None:
    with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
        async with db.read() as conn:
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
    with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
        await db.conn.execute("DELETE FROM users")
    async with db.read() as conn:  # the failed read gave its connection back cleanly
        assert await user_store.list_users(conn) == []


async def test_a_read_does_not_wait_for_the_write_lock(db: Database) -> None:
    hold, entered = asyncio.Event(), asyncio.Event()
    writer = asyncio.create_task(_holding_write(db, hold, entered))
    await entered.wait()

    async def read() -> object:
        async with db.read() as conn:
            return await user_store.list_users(conn)

    reading = asyncio.create_task(read())
    try:
        assert await _finishes(reading), "the read waited for the write transaction"
        assert reading.result() == []
    finally:
        hold.set()
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
        async with ctx.db.transaction() as conn:
            await user_store.grant_roles(conn, COORDINATOR, {"coordinator"}, "test", NOW)
            screening = await store.create_screening(
                conn, site="HMN", clinician_id=COORDINATOR, chat_id=COORDINATOR, now=NOW,
                first_question="index_date",
            )  # fmt: skip
            coordinator_user = await user_store.get_user(conn, COORDINATOR)
        actor = Actor(user_id=COORDINATOR, chat_id=COORDINATOR, private=True,
                      user=coordinator_user)  # fmt: skip
        hold, entered = asyncio.Event(), asyncio.Event()

        async def long_write() -> None:
            async with ctx.db.transaction() as conn:
                await append_audit(conn, AuditEntry(NOW, "system", "test", None, None, None, None))
                entered.set()
                await hold.wait()

        writer = asyncio.create_task(long_write())
        await entered.wait()
        views = [
            asyncio.create_task(status_view.status(ctx, actor, [])),
            asyncio.create_task(patient_view.patient(ctx, actor, [screening.number])),
            asyncio.create_task(stats_view.stats(ctx, actor, [])),
        ]
        try:
            for view in views:
                assert await _finishes(view), f"{view.get_coro()} waited for the write lock"
            status, patient = views[0].result(), views[1].result()
            assert screening.number in status[0].text
            assert screening.number in patient[0].text
            assert views[2].result()[0].photo is not None
        finally:
            hold.set()
            await writer
    finally:
        await ctx.db.close()


async def test_run_writes_the_whole_transaction_in_one_hop(db: Database) -> None:
    hops: list[str] = []
    call = Connection.call

    async def counted(self: Connection, function: object, *args: object) -> object:
        if self.thread is not None:
            hops.append(getattr(function, "__name__", "?"))
        return await call(self, function, *args)  # type: ignore[arg-type]

    async def body(conn: Connection) -> int:
        await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        await append_audit(conn, AuditEntry(NOW, "system", "test", None, None, None, None))
        rows = await conn.execute_fetchall("SELECT COUNT(*) FROM users")
        return int(rows[0][0])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Connection, "call", counted)
        assert await db.run(body) == 1
    assert hops == ["_run_inline" if db.dialect == "sqlite" else "run_inline"]


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
