"""`lysyme-bot migrate` upgrades an older database in place: from every earlier schema version
(the first one included) to the latest, rows intact and the audit chain still verifying;
running it again changes nothing; a database newer than the program is refused (exit 2, one
line) and left alone. Then `Database.run`, the one-hop write transaction of the answer path:
the storage functions behave through it exactly as through `transaction()`."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, verify_chain
from storage.connection import Connection
from storage.db import SCHEMA_VERSION
from storage.errors import StorageUnavailable
from storage.open import open_database
from tests.cli_in_process import lysyme_bot_in_process
from tests.conftest import is_postgres
from tests.storage import legacy_schema

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
CLINICIAN = 2002


async def make_old_database(target: Path | str, version: int) -> None:
    """A database at schema `version`, as the previous programs migrated it (their SQL, frozen
    in tests/storage/legacy_schema.py), with a screening in progress."""
    legacy_schema.build(target, version)
    db = await open_database(target, migrate=False)
    try:
        async with db.transaction() as conn:
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "system", NOW)
            await append_audit(conn, AuditEntry(NOW, "system", "user_added", None,
                                                str(CLINICIAN), None, "clinician"))  # fmt: skip
            # Written with the first schema's columns: today's storage code writes columns
            # that an old database does not have yet.
            stamp = NOW.isoformat()
            cursor = await conn.execute(
                """INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id,
                       chat_id, status, stage, cursor, created_at, updated_at, last_activity_at)
                   VALUES ('HMN-001', 'HMN', 1, ?, ?, ?, 'in_screening', 'question',
                           'index_date', ?, ?, ?) RETURNING id""",
                (CLINICIAN, CLINICIAN, CLINICIAN, stamp, stamp, stamp),
            )
            (screening_id,) = await cursor.fetchone()
            await store.set_session(conn, CLINICIAN, CLINICIAN, screening_id, "screen", NOW)
            for question, value in (("index_date", '"2026-11-19"'), ("age", "54")):
                await store.add_answer(conn, screening_id, question, value, by=CLINICIAN,
                                       now=NOW, source="screening")  # fmt: skip
                await append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer",
                                                    "HMN-001", question, None, value))  # fmt: skip
    finally:
        await db.close()
    if not is_postgres(target):
        _anchor_as_the_older_program_did(Path(target))


def _anchor_as_the_older_program_did(path: Path) -> None:
    """The programs that wrote these schemas anchored their database (a database file without
    its anchor is refused: `init --adopt`, tests/storage/test_files_moved.py)."""
    from storage import anchor as anchors

    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
            (anchors.DATABASE_ID_KEY, anchors.new_database_id()),
        )
        conn.commit()
        database_id, rows, head = anchors.read_head(conn)
    finally:
        conn.close()
    assert database_id is not None
    anchors.write_anchor(anchors.anchor_path(path), anchors.Anchor(database_id, rows, head))


def snapshot(target: Path | str) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows in insertion order, and the schema version, read around the program
    (sqlite3 on the file; psycopg on the schema)."""
    if is_postgres(target):
        return _postgres_snapshot(str(target))
    with sqlite3.connect(target) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        contents = {n: conn.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}
        contents["user_version"] = [tuple(conn.execute("PRAGMA user_version").fetchone())]
    conn.close()
    return contents


def _postgres_snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    import psycopg

    with psycopg.connect(url) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE'"
                " AND table_name NOT IN ('schema_version', 'alembic_version')"
            )
        ]
        # No rowid: every table's first column is its key, or (sessions) the first of it.
        contents = {n: conn.execute(f"SELECT * FROM {n} ORDER BY 1, 2").fetchall() for n in names}
        version = conn.execute("SELECT count(*), max(version) FROM schema_version").fetchone()
        assert version is not None and version[0] == version[1]  # each applied once
        contents["user_version"] = [(version[1],)]
    return contents


def _scalar_rows(target: Path | str, sql: str) -> list[tuple[object, ...]]:
    if is_postgres(target):
        import psycopg

        with psycopg.connect(str(target)) as pg:
            return [tuple(r) for r in pg.execute(sql).fetchall()]
    with sqlite3.connect(target) as conn:
        rows = [tuple(r) for r in conn.execute(sql).fetchall()]
    conn.close()
    return rows


def lysyme_bot(database: Path | str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database`, in this process (tests/cli_in_process.py): the upgrade
    from each version runs `migrate` twice and `verify-audit` once, 24 interpreters less.
    `lysyme_bot_process` below runs one for what a shell sees."""
    return lysyme_bot_in_process(*args, env={"LYSYME_DATABASE": str(database)}, cwd=folder)


def lysyme_bot_process(
    database: Path | str, folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database` in a new process."""
    env = {"PATH": os.environ.get("PATH", ""), "LYSYME_DATABASE": str(database)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def migrate_in_process(target: Path | str) -> tuple[int, int]:
    """What `lysyme-bot migrate` does, in this process: (from, to)."""
    db = await open_database(target, migrate=False)
    try:
        return await db.migrate()
    finally:
        await db.close()


async def verified_rows(target: Path | str) -> int:
    """What `lysyme-bot verify-audit` checks first, in this process: the chain from row 1."""
    db = await open_database(target, migrate=False)
    try:
        result = await verify_chain(db.conn)
        assert result.ok, result.problem
        return result.rows_checked
    finally:
        await db.close()


def upgrade(database: Path | str, folder: Path, start: int) -> None:
    """`lysyme-bot migrate` on SQLite. On PostgreSQL, the same upgrade in this process: the
    command line's migrate and verify-audit take a URL in another change (issue 16)."""
    if is_postgres(database):
        assert asyncio.run(migrate_in_process(database)) == (start, SCHEMA_VERSION)
        return
    upgraded = lysyme_bot(database, folder, "migrate")
    assert upgraded.returncode == 0, upgraded.stderr
    if start == SCHEMA_VERSION:
        assert upgraded.stdout.strip().endswith(
            f"schema version {SCHEMA_VERSION}, already up to date"
        )
    else:
        assert upgraded.stdout.strip().endswith(f"schema version {start} → {SCHEMA_VERSION}")
    assert upgraded.stderr == ""


@pytest.mark.parametrize("start", range(1, SCHEMA_VERSION))
def test_migrate_upgrades_an_older_database_in_place(
    database_target: Path | str, tmp_path: Path, start: int
) -> None:
    database = database_target
    asyncio.run(make_old_database(database, start))
    before = snapshot(database)
    assert before["user_version"] == [(start,)]
    assert len(legacy_schema.SQLITE) == len(legacy_schema.POSTGRESQL) == SCHEMA_VERSION > start

    upgrade(database, tmp_path, start)
    after = snapshot(database)
    assert after["user_version"] == [(SCHEMA_VERSION,)]
    for table, rows in before.items():
        if table != "user_version":
            # Every row intact; columns added by later versions come after the old ones.
            assert [row[: len(old)] for row, old in zip(after[table], rows, strict=True)] == rows
    assert {"reminders", "processed_updates", "leases"} <= set(after)  # what later versions add
    # Screenings opened before versions were recorded were judged under LYSYME 1.0.
    assert _scalar_rows(database, "SELECT protocol_version FROM screenings") == [("LYSYME 1.0",)]
    if is_postgres(database):
        assert asyncio.run(verified_rows(database)) == 3
    else:
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()
        verified = lysyme_bot(database, tmp_path, "verify-audit")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "intact, 3 rows" in verified.stdout

    upgrade(database, tmp_path, SCHEMA_VERSION)  # again
    assert snapshot(database) == after  # a no-op


def test_the_upgraded_database_works_for_the_program(
    database_target: Path | str, tmp_path: Path
) -> None:
    """After the upgrade the storage layer reads the old screening and writes new rows."""
    database = database_target
    asyncio.run(make_old_database(database, 1))
    upgrade(database, tmp_path, 1)

    async def use() -> None:
        db = await open_database(database)
        try:
            async with db.transaction() as conn:
                screening = await store.get_by_number(conn, "HMN-001")
                assert screening is not None and screening.status == store.IN_SCREENING
                assert await store.current_answers(conn, screening.id) == {
                    "index_date": '"2026-11-19"',
                    "age": "54",
                }
                assert await store.claim_update(conn, 7, NOW)  # a table from version 2
                following = await store.create_screening(
                    conn, site="HMN", clinician_id=CLINICIAN, chat_id=CLINICIAN, now=NOW,
                    first_question="index_date",
                )  # fmt: skip
                assert following.number == "HMN-002"
        finally:
            await db.close()

    asyncio.run(use())


def test_a_database_newer_than_the_program_is_refused_and_left_alone(
    database_target: Path | str, tmp_path: Path
) -> None:
    database = database_target
    asyncio.run(make_old_database(database, SCHEMA_VERSION))
    newer = SCHEMA_VERSION + 1
    if is_postgres(database):
        import psycopg

        with psycopg.connect(str(database)) as pg:
            pg.execute("INSERT INTO schema_version(version) VALUES (%s)", (newer,))
    else:
        with sqlite3.connect(database) as conn:
            conn.execute(f"PRAGMA user_version={newer}")
        conn.close()
    before = snapshot(database)

    if is_postgres(database):  # in this process (see `upgrade`)
        with pytest.raises(RuntimeError, match=f"schema version {newer} is newer"):
            asyncio.run(migrate_in_process(database))
    else:
        refused = lysyme_bot_process(database, tmp_path, "migrate")  # what a shell sees
        assert refused.returncode == 2
        assert refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert f"schema version {newer} is newer" in refused.stderr
    assert snapshot(database) == before


# --- Database.run: the one-hop write transaction the answer path uses -------------------
# (Kept here with the other whole-database tests: the storage functions must behave the same
# through `run` as through `transaction()`, on an upgraded database as on a new one.)


async def test_run_commits_the_body_and_returns_its_value(database_target: Path | str) -> None:
    db = await open_database(database_target)
    try:

        async def body(conn: Connection) -> tuple[int, bool]:
            await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "system", NOW)
            screening = await store.create_screening(
                conn, site="HMN", clinician_id=CLINICIAN, chat_id=CLINICIAN, now=NOW,
                first_question="age",
            )  # fmt: skip
            await store.add_answer(conn, screening.id, "age", "54", by=CLINICIAN, now=NOW,
                                   source="screening")  # fmt: skip
            await append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer", screening.number,
                                                "age", None, "54"))  # fmt: skip
            claimed = await store.claim_update(conn, 41, NOW)
            return screening.id, claimed

        screening_id, claimed = await db.run(body)
        assert claimed
        async with db.transaction() as conn:
            found = await store.get_with_answers(conn, screening_id)
            assert found is not None
            assert found == (
                await store.get_by_id(conn, screening_id),
                await store.current_answers(conn, screening_id),
            )
            assert found[1] == {"age": "54"}
            assert not await store.claim_update(conn, 41, NOW)  # committed
        assert (await verify_chain(db.conn)).ok
    finally:
        await db.close()


async def test_run_rolls_back_on_any_exception_and_refuses_foreign_awaits(
    database_target: Path | str,
) -> None:
    db = await open_database(database_target)
    try:

        async def fails(conn: Connection) -> None:
            await store.claim_update(conn, 1, NOW)
            raise LookupError("stop")

        with pytest.raises(LookupError, match="stop"):
            await db.run(fails)

        async def sleeps(conn: Connection) -> None:
            await store.claim_update(conn, 2, NOW)
            await asyncio.sleep(0)  # not the database: would run on the wrong thread

        with pytest.raises(RuntimeError, match="awaited something other than the database"):
            await db.run(sleeps)
        rows = await db.conn.execute_fetchall("SELECT update_id FROM processed_updates")
        assert list(rows) == []
        assert not db.conn.in_transaction
    finally:
        await db.close()


async def test_run_offers_the_connection_api_storage_uses(database_target: Path | str) -> None:
    db = await open_database(database_target)
    postgres = is_postgres(database_target)
    try:

        async def body(conn: Connection) -> list[object]:
            assert conn.in_transaction
            key = "id BIGINT GENERATED BY DEFAULT AS IDENTITY" if postgres else "id INTEGER"
            await conn.execute(f"CREATE TABLE t({key} PRIMARY KEY, v TEXT)")
            await conn.executemany("INSERT INTO t(v) VALUES (?)", [("a",), ("b",)])
            inserted = await conn.execute("INSERT INTO t(v) VALUES (:v)", {"v": "c"})
            seen: list[object] = [inserted.lastrowid, inserted.rowcount]
            async with conn.execute("SELECT v FROM t ORDER BY id") as cursor:
                seen.append((await cursor.fetchone())["v"])
                seen.append([r["v"] for r in await cursor.fetchall()])
            cursor = await conn.cursor()
            cursor.row_factory = None
            await cursor.execute("SELECT count(*) FROM t")
            seen.append(await cursor.fetchall())
            await cursor.close()
            seen.append([tuple(r) for r in await conn.execute_fetchall("SELECT id FROM t")])
            return seen

        # PostgreSQL has no last row id: inserts that need theirs say RETURNING id.
        last_id = None if postgres else 3
        assert await db.run(body) == [last_id, 1, "a", ["b", "c"], [(3,)], [(1,), (2,), (3,)]]
        with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
            async with db.read() as conn:
                await user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
            await db.conn.execute("DELETE FROM users")
        async with db.read() as conn:  # the failed read gave its connection back cleanly
            assert await user_store.list_users(conn) == []
    finally:
        await db.close()
