"""The migrations as Alembic revisions (storage/migrations): a fresh database gets exactly the
schema the previous programs built, on both backends; a version-6 database an earlier release
left, with rows in every table, is adopted and upgraded in place — every row unchanged, the
audit chain still verifying — and the program works on it."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from storage import screenings as store
from storage.anchor import DATABASE_ID_KEY, anchor_path, new_database_id
from storage.audit import AuditEntry, append_audit, verify_chain
from storage.migrations import SCHEMA_VERSION
from storage.open import open_database
from storage.sql import execute
from tests.conftest import is_postgres
from tests.storage import legacy_schema
from tests.storage.test_migrations import NOW, _anchor_as_the_older_program_did

ADOPTED = 6
CLINICIAN = 2002
STAMP = NOW.isoformat()

#: One row in every table of schema version 6 (audit and meta apart: written by the program).
#: Generated ids are left to the database (the first screening and reminder get id 1).
ROWS: dict[str, str] = {
    "users": (
        "INSERT INTO users(telegram_id, roles, language, added_by, added_at, active)"
        " VALUES (:clinician, 'clinician', 'fr', 'system', :stamp, 1)"
    ),
    "access_requests": (
        "INSERT INTO access_requests(telegram_id, last_notified_at) VALUES (777, :stamp)"
    ),
    "screenings": (
        "INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id, chat_id,"
        " status, stage, cursor, created_at, updated_at, last_activity_at, shown)"
        " VALUES ('HMN-001', 'HMN', 1, :clinician, :clinician, :clinician, 'in_screening',"
        " 'question', 'age', :stamp, :stamp, :stamp, 'question:age')"
    ),
    "answers": (
        "INSERT INTO answers(screening_id, question_id, value, answered_by, answered_at,"
        " source) VALUES (1, 'index_date', '\"2026-11-19\"', :clinician, :stamp, 'screening')"
    ),
    "sessions": (
        "INSERT INTO sessions(user_id, chat_id, screening_id, mode, updated_at)"
        " VALUES (:clinician, :clinician, 1, 'screen', :stamp)"
    ),
    "reminders": (
        "INSERT INTO reminders(screening_id, kind, step, recipient, due_at, claimed_by,"
        " claimed_until) VALUES (1, 'd0_window', 'h0', 'clinician', :stamp, 'replica-a', :stamp)"
    ),
    "processed_updates": (
        "INSERT INTO processed_updates(update_id, processed_at) VALUES (41, :stamp)"
    ),
    "ownership": (
        "INSERT INTO ownership(screening_id, owner_id, acknowledged_at, planned_at)"
        " VALUES (1, :clinician, :stamp, :stamp)"
    ),
    "reminder_notes": (
        "INSERT INTO reminder_notes(reminder_id, message_chat_id, message_id, acknowledged_by)"
        " VALUES (1, :clinician, 99, :clinician)"
    ),
    "user_reach": (
        "INSERT INTO user_reach(telegram_id, display_name, unreachable_since, unreachable_why)"
        " VALUES (:clinician, 'Anne', :stamp, 'blocked')"
    ),
    "boards": (
        "INSERT INTO boards(day, chat_id, message_id, text, updated_at)"
        " VALUES ('2026-11-21', -100, 5, 'board', :stamp)"
    ),
    "leases": (
        "INSERT INTO leases(name, holder, expires_at, acquired_at)"
        " VALUES ('leader', 'a', :stamp, :stamp)"
    ),
}


async def _fill(target: Path | str) -> None:
    db = await open_database(target, migrate=False)
    try:

        def fill(conn: Connection) -> None:
            for sql in ROWS.values():
                execute(conn, sql, {"clinician": CLINICIAN, "stamp": STAMP})
            for field in ("index_date", "age", "weight"):
                append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer", "HMN-001",
                                              field, None, "1"))  # fmt: skip
            execute(conn, "INSERT INTO meta(key, value) VALUES ('note', 'kept')")
            # Every earlier program gave its database an id at its first open.
            execute(conn, "INSERT INTO meta(key, value) VALUES (:key, :value)",
                    {"key": DATABASE_ID_KEY, "value": new_database_id()})  # fmt: skip

        await db.write(fill)
    finally:
        await db.close()


def _rows(target: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of version 6, row by row, in the columns version 6 had."""
    tables = [*ROWS, "audit", "meta"]
    if is_postgres(target):
        import psycopg

        with psycopg.connect(str(target)) as pg:
            return {
                table: [
                    tuple(row[: len(_columns_v6(target, table))])
                    for row in pg.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                ]
                for table in tables
            }
    with sqlite3.connect(target) as conn:
        out = {
            table: [
                tuple(row[: len(_columns_v6(target, table))])
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            ]
            for table in tables
        }
    conn.close()
    return out


_V6_COLUMNS: dict[str, list[str]] = {}


def _columns_v6(target: Path | str, table: str) -> list[str]:
    """The columns a version-6 database has (the same order on both backends), read once from
    a fresh SQLite one built with the previous programs' SQL."""
    if not _V6_COLUMNS:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            scratch = Path(folder) / "v6.sqlite3"
            legacy_schema.build(scratch, ADOPTED)
            with sqlite3.connect(scratch) as conn:
                for name in [*ROWS, "audit", "meta"]:
                    _V6_COLUMNS[name] = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
            conn.close()
    return _V6_COLUMNS[table]


def _version(target: Path | str) -> tuple[int, str]:
    """(the version the earlier programs' readers see, Alembic's revision)."""
    if is_postgres(target):
        import psycopg

        with psycopg.connect(str(target)) as pg:
            number = pg.execute("SELECT max(version) FROM schema_version").fetchone()
            revision = pg.execute("SELECT version_num FROM alembic_version").fetchone()
            assert number is not None and revision is not None
            return int(number[0]), str(revision[0])
    with sqlite3.connect(target) as conn:
        number = conn.execute("PRAGMA user_version").fetchone()[0]
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    conn.close()
    return int(number), str(revision)


def test_a_version_6_database_with_rows_in_every_table_upgrades_in_place(
    database_target: Path | str, tmp_path: Path
) -> None:
    legacy_schema.build(database_target, ADOPTED)
    asyncio.run(_fill(database_target))
    if is_postgres(database_target):
        original = database_target  # (a schema of this test's own: the copy is the schema)
        target: Path | str = database_target
    else:
        _anchor_as_the_older_program_did(Path(database_target))
        original = database_target
        target = tmp_path / "copy.sqlite3"  # the upgrade runs on a copy, as the issue asks
        shutil.copyfile(database_target, target)
        shutil.copyfile(anchor_path(Path(database_target)), anchor_path(target))
    before = _rows(original)
    assert all(before[table] for table in before), "a row in every table"

    async def upgrade_and_use() -> None:
        db = await open_database(target)  # adopted at 6, upgraded to the latest
        try:
            assert await db.schema_version() == SCHEMA_VERSION
            result = await db.read(verify_chain)
            assert result.ok and result.rows_checked == 3

            def answer(conn: Connection) -> dict[str, str]:  # the program works on it
                screening = store.get_by_number(conn, "HMN-001")
                assert screening is not None
                store.add_answer(conn, screening.id, "age", "54", by=CLINICIAN, now=NOW,
                                 source="screening")  # fmt: skip
                append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "answer", "HMN-001",
                                              "age", None, "54"))  # fmt: skip
                return store.current_answers(conn, screening.id)

            assert await db.write(answer) == {"index_date": '"2026-11-19"', "age": "54"}
            assert (await db.read(verify_chain)).rows_checked == 4
        finally:
            await db.close()

    async def only_upgrade() -> None:
        db = await open_database(target)
        await db.close()

    asyncio.run(only_upgrade())
    after_upgrade = _rows(target)
    assert after_upgrade == before  # every row of every table unchanged
    assert _version(target) == (SCHEMA_VERSION, f"{SCHEMA_VERSION:04d}")
    asyncio.run(upgrade_and_use())
    if not is_postgres(database_target):
        assert _rows(original) == before  # the original, beside the copy, untouched


def _sqlite_schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'alembic%'"
            " AND name NOT LIKE 'sqlite_autoindex_alembic%' ORDER BY type, name"
        ).fetchall()
    conn.close()
    return [(kind, name, re.sub(r"\s+", " ", sql or "")) for kind, name, sql in rows]


_PG_CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, collation_name, column_default,"
    " is_nullable, is_identity, identity_generation FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name NOT IN ('alembic_version')"
    " ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '')"
    " FROM pg_indexes"
    " WHERE schemaname = current_schema() AND tablename <> 'alembic_version' ORDER BY 1, 2",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
    " AND conrelid::regclass::text <> 'alembic_version' ORDER BY 1, 2",
    "triggers": "SELECT c.relname, t.tgname, t.tgtype, p.proname FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
    " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
    " ORDER BY 1, 2",
    "functions": "SELECT proname, prosrc FROM pg_proc"
    " WHERE pronamespace = current_schema()::regnamespace ORDER BY 1",
}


def _pg_schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    import psycopg

    with psycopg.connect(url) as pg:
        return {name: pg.execute(sql).fetchall() for name, sql in _PG_CATALOG.items()}


def test_the_revisions_build_the_schema_the_previous_programs_built(
    database_target: Path | str, tmp_path: Path, postgres_server_url: str
) -> None:
    async def fresh() -> None:
        db = await open_database(database_target)
        await db.close()

    asyncio.run(fresh())
    if is_postgres(database_target):
        from tests.conftest import private_schema

        with private_schema(postgres_server_url) as legacy:
            legacy_schema.build(legacy, SCHEMA_VERSION)
            assert _pg_schema(str(database_target)) == _pg_schema(legacy)
    else:
        legacy = tmp_path / "legacy.sqlite3"
        legacy_schema.build(legacy, SCHEMA_VERSION)
        assert _sqlite_schema(Path(database_target)) == _sqlite_schema(legacy)
