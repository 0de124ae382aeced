"""`Database.write` / `read` / `defer` (issue 21): one transaction per call, the deferred
shown-prompt mark that rides in the next write, and the anchor moved at most once a second."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage import anchor as anchors
from storage import db as db_module
from storage.db import Database
from storage.errors import StorageIntegrity
from storage.open import open_database
from storage.sql import after_commit, execute, value
from tests.conversations.support import NOW


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


def _put(conn: Connection, key: str, text: str) -> None:
    execute(conn, "INSERT INTO meta(key, value) VALUES (:key, :value)", {"key": key, "value": text})


def _get(conn: Connection, key: str) -> str | None:
    found = value(conn, "SELECT value FROM meta WHERE key = :key", {"key": key})
    return None if found is None else str(found)


async def test_a_write_commits_all_or_nothing(db: Database) -> None:
    def two_then_a_duplicate(conn: Connection) -> None:
        _put(conn, "first", "1")
        _put(conn, "second", "2")
        _put(conn, "first", "again")  # the primary key refuses it: the whole write goes

    with pytest.raises(StorageIntegrity):
        await db.write(two_then_a_duplicate)
    assert await db.read(_get, "first") is None
    assert await db.read(_get, "second") is None
    await db.write(_put, "first", "1")
    assert await db.read(_get, "first") == "1"


async def test_a_deferred_write_rides_in_the_next_write(db: Database) -> None:
    await db.defer(_put, "shown", "q1")
    await db.write(_put, "answer", "a1")  # carries the mark, in the same commit
    assert await db.read(_get, "shown") == "q1"
    assert await db.read(_get, "answer") == "a1"


async def test_a_deferred_write_alone_is_written_soon(db: Database) -> None:
    await db.defer(_put, "shown", "q2")
    for _ in range(200):  # DEFER_AT_MOST is 50 ms; a busy machine gets 2 s
        if await db.read(_get, "shown") == "q2":
            break
        await asyncio.sleep(0.01)
    assert await db.read(_get, "shown") == "q2"


async def test_a_failing_deferred_write_never_costs_the_write_it_rides_in(db: Database) -> None:
    await db.write(_put, "taken", "x")
    await db.defer(_put, "taken", "duplicate")  # fails: rolled back to its own savepoint
    await db.write(_put, "answer", "kept")
    assert await db.read(_get, "answer") == "kept"
    assert await db.read(_get, "taken") == "x"


async def test_deferred_writes_are_saved_at_close(database_target: Path | str) -> None:
    first = await open_database(database_target)
    await first.defer(_put, "shown", "q3")
    await first.close()
    second = await open_database(database_target)
    try:
        assert await second.read(_get, "shown") == "q3"
    finally:
        await second.close()


def _anchored_rows(path: Path) -> int:
    return int(json.loads(anchors.anchor_path(path).read_text())["audit_rows"])


def _audit_rows(conn: Connection) -> int:
    return int(value(conn, "SELECT count(*) FROM audit"))


def _append(conn: Connection, n: int) -> None:
    from storage.audit import AuditEntry, append_audit

    append_audit(
        conn,
        AuditEntry(NOW, "test", "note", None, None, None, str(n), None),
    )


async def test_the_anchor_trails_by_at_most_a_second_and_is_written_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "ANCHOR_EVERY", 0.3)
    path = tmp_path / "lysyme.sqlite3"
    db = await open_database(path)
    try:
        for n in range(5):  # a burst: the anchor moves for the first, then waits
            await db.write(_append, n)
        rows = await db.read(_audit_rows)
        assert _anchored_rows(path) <= rows  # never ahead of the database
        for _ in range(300):
            if _anchored_rows(path) == rows:
                break
            await asyncio.sleep(0.01)
        assert _anchored_rows(path) == rows  # caught up within the period
        await db.write(_append, 99)
    finally:
        await db.close()
    assert _anchored_rows(path) == rows + 1  # close wrote what was behind
    anchors.check(path)  # and the file opens again as the anchored database


async def test_a_deferred_write_outlives_the_failed_write_it_rode_in(db: Database) -> None:
    def fails(conn: Connection) -> None:
        _put(conn, "answer", "lost")
        raise RuntimeError("the flow failed")

    await db.defer(_put, "shown", "q4")
    with pytest.raises(RuntimeError):
        await db.write(fails)
    await db.write(_put, "answer", "a4")  # the next write carries the mark again
    assert await db.read(_get, "shown") == "q4"
    assert await db.read(_get, "answer") == "a4"


async def test_after_commit_runs_once_committed_and_never_after_a_rollback(db: Database) -> None:
    seen: list[str | None] = []

    def queues(conn: Connection, key: str, fails: bool) -> None:
        _put(conn, key, "queued")
        after_commit(conn, lambda: seen.append(key))
        assert key not in seen  # not before the commit
        if fails:
            raise RuntimeError("the flow failed")

    await db.write(queues, "kept", False)
    assert seen == ["kept"]
    with pytest.raises(RuntimeError):
        await db.write(queues, "lost", True)
    assert seen == ["kept"]  # rolled back: never called
    with pytest.raises(RuntimeError, match=r"Database\.write"):
        await db.read(lambda conn: after_commit(conn, lambda: None))  # a read commits nothing
