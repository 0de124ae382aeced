"""`lysyme-bot migrate` upgrades an older database in place: from every earlier schema version
(the first one included) to the latest, rows intact and the audit chain still verifying;
running it again changes nothing; a database newer than the program is refused (exit 2, one
line) and left alone. Then `Database.write`, the one-hop write transaction of the answer path:
a body of storage functions commits whole and returns its value, or rolls back whole, and
storage's few SQL words (storage/sql.py) behave alike on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, verify_chain
from storage.db import SCHEMA_VERSION
from storage.errors import StorageUnavailable
from storage.open import open_database
from storage.sql import execute, execute_many, fetch_all, fetch_one, value
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

        def fill(conn: Connection) -> None:
            user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "system", NOW)
            append_audit(conn, AuditEntry(NOW, "system", "user_added", None,
                                          str(CLINICIAN), None, "clinician"))  # fmt: skip
            # Written with the first schema's columns: today's storage code writes columns
            # that an old database does not have yet.
            screening_id = execute(
                conn,
                """INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id,
                       chat_id, status, stage, cursor, created_at, updated_at, last_activity_at)
                   VALUES ('HMN-001', 'HMN', 1, :clinician, :clinician, :clinician,
                           'in_screening', 'question', 'index_date', :stamp, :stamp, :stamp)
                   RETURNING id""",
                {"clinician": CLINICIAN, "stamp": NOW.isoformat()},
            ).scalar_one()
            store.set_session(conn, CLINICIAN, CLINICIAN, screening_id, "screen", NOW)
            for question, answer in (("index_date", '"2026-11-19"'), ("age", "54")):
                store.add_answer(conn, screening_id, question, answer, by=CLINICIAN,
                                 now=NOW, source="screening")  # fmt: skip
                append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer",
                                              "HMN-001", question, None, answer))  # fmt: skip

        await db.write(fill)
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
        result = await db.read(verify_chain)
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

            def work(conn: Connection) -> None:
                screening = store.get_by_number(conn, "HMN-001")
                assert screening is not None and screening.status == store.IN_SCREENING
                assert store.current_answers(conn, screening.id) == {
                    "index_date": '"2026-11-19"',
                    "age": "54",
                }
                assert store.claim_update(conn, 7, NOW)  # a table from version 2
                following = store.create_screening(
                    conn, site="HMN", clinician_id=CLINICIAN, chat_id=CLINICIAN, now=NOW,
                    first_question="index_date",
                )  # fmt: skip
                assert following.number == "HMN-002"

            await db.write(work)
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


# --- Database.write: the one-hop write transaction the answer path uses -----------------
# (Kept here with the other whole-database tests: the storage functions must behave the same
# through one body of several as one by one, on an upgraded database as on a new one.)


async def test_a_write_commits_the_body_and_returns_its_value(database_target: Path | str) -> None:
    db = await open_database(database_target)
    try:

        def body(conn: Connection) -> tuple[int, bool]:
            user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "system", NOW)
            screening = store.create_screening(
                conn, site="HMN", clinician_id=CLINICIAN, chat_id=CLINICIAN, now=NOW,
                first_question="age",
            )  # fmt: skip
            store.add_answer(conn, screening.id, "age", "54", by=CLINICIAN, now=NOW,
                             source="screening")  # fmt: skip
            append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer", screening.number,
                                          "age", None, "54"))  # fmt: skip
            claimed = store.claim_update(conn, 41, NOW)
            return screening.id, claimed

        screening_id, claimed = await db.write(body)
        assert claimed

        def check(conn: Connection) -> bool:
            found = store.get_with_answers(conn, screening_id)
            assert found is not None
            assert found == (
                store.get_by_id(conn, screening_id),
                store.current_answers(conn, screening_id),
            )
            assert found[1] == {"age": "54"}
            return store.claim_update(conn, 41, NOW)

        assert not await db.write(check)  # committed: the update id is taken
        assert (await db.read(verify_chain)).ok
    finally:
        await db.close()


async def test_a_write_rolls_back_on_any_exception(database_target: Path | str) -> None:
    db = await open_database(database_target)
    try:

        def fails(conn: Connection) -> None:
            store.claim_update(conn, 1, NOW)
            append_audit(conn, AuditEntry(NOW, "system", "test"))
            raise LookupError("stop")

        with pytest.raises(LookupError, match="stop"):
            await db.write(fails)
        assert await db.read(fetch_all, "SELECT update_id FROM processed_updates") == []
        assert await db.read(value, "SELECT count(*) FROM audit") == 0
        # The writer was left out of any transaction: the next write commits on its own.
        assert await db.write(store.claim_update, 1, NOW)
        assert await db.read(value, "SELECT count(*) FROM processed_updates") == 1
    finally:
        await db.close()


async def test_the_sql_words_storage_uses_behave_alike_on_both_backends(
    database_target: Path | str,
) -> None:
    db = await open_database(database_target)
    postgres = is_postgres(database_target)
    try:

        def body(conn: Connection) -> list[object]:
            assert conn.in_transaction()
            key = "id BIGINT GENERATED BY DEFAULT AS IDENTITY" if postgres else "id INTEGER"
            execute(conn, f"CREATE TABLE t({key} PRIMARY KEY, v TEXT)")
            execute_many(conn, "INSERT INTO t(v) VALUES (:v)", [{"v": "a"}, {"v": "b"}])
            inserted = execute(conn, "INSERT INTO t(v) VALUES (:v) RETURNING id", {"v": "c"})
            seen: list[object] = [inserted.scalar_one()]
            seen.append(
                execute(conn, "UPDATE t SET v = v || '!' WHERE id > :id", {"id": 1}).rowcount
            )
            first = fetch_one(conn, "SELECT v FROM t ORDER BY id")
            seen.append(first["v"] if first is not None else None)
            seen.append(fetch_one(conn, "SELECT v FROM t WHERE id = :id", {"id": 99}))
            seen.append([r["v"] for r in fetch_all(conn, "SELECT v FROM t ORDER BY id")])
            seen.append(value(conn, "SELECT count(*) FROM t WHERE v LIKE '%!'"))
            seen.append(value(conn, "SELECT v FROM t WHERE id = :id", {"id": 99}))
            return seen

        assert await db.write(body) == [3, 2, "a", None, ["a", "b!", "c!"], 2, None]
        with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
            await db.read(user_store.grant_roles, CLINICIAN, {"clinician"}, "test", NOW)
        with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
            await db.read(execute, "DELETE FROM users")
        assert await db.read(user_store.list_users) == []  # the failed reads left it clean
    finally:
        await db.close()
