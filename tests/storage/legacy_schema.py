"""The schema as the previous programs migrated it (frozen from commit 663a275, storage/db.py
MIGRATIONS and storage/postgres_schema.py, before the migrations became Alembic revisions):
test data, to build a database exactly as an earlier release left it and upgrade it in place.

`SQLITE[N - 1]` and `POSTGRESQL[N - 1]` are the statements of schema version N, run in one
transaction each, then the version recorded where those programs recorded it: SQLite's
`PRAGMA user_version`, PostgreSQL's `schema_version` table. Never edit: it is what shipped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

SQLITE: Final[tuple[tuple[str, ...], ...]] = (
    (  # version 1
        "CREATE TABLE audit (\n    id INTEGER PRIMARY KEY CHECK (id >= 1),\n    at TEXT NOT NULL,\n    actor TEXT NOT NULL,\n    screening TEXT,\n    action TEXT NOT NULL,\n    field TEXT,\n    old_value TEXT,\n    new_value TEXT,\n    reason TEXT,\n    prev_hash TEXT NOT NULL,\n    hash TEXT NOT NULL\n)",
        "CREATE INDEX audit_screening ON audit (screening, id)",
        "CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit\nWHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM audit)\n    OR NEW.prev_hash IS NOT coalesce(\n        (SELECT hash FROM audit WHERE id = NEW.id - 1), '0000000000000000000000000000000000000000000000000000000000000000')\nBEGIN\n    SELECT RAISE(ABORT, 'audit trail is append-only: a new row must follow the last one');\nEND",
        "CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit\nBEGIN\n    SELECT RAISE(ABORT, 'audit trail is append-only');\nEND",
        "CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit\nBEGIN\n    SELECT RAISE(ABORT, 'audit trail is append-only');\nEND",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE users(\n            telegram_id INTEGER PRIMARY KEY,\n            roles TEXT NOT NULL,\n            language TEXT,\n            added_by TEXT NOT NULL,\n            added_at TEXT NOT NULL,\n            active INTEGER NOT NULL DEFAULT 1)",
        "CREATE TABLE access_requests(\n            telegram_id INTEGER PRIMARY KEY,\n            last_notified_at TEXT NOT NULL)",
        "CREATE TABLE screenings(\n            id INTEGER PRIMARY KEY,\n            number TEXT NOT NULL UNIQUE,\n            site TEXT NOT NULL,\n            sequence INTEGER NOT NULL,\n            rescreen_of TEXT,\n            clinician_id INTEGER NOT NULL,\n            last_actor_id INTEGER NOT NULL,\n            chat_id INTEGER NOT NULL,\n            status TEXT NOT NULL,\n            outcome TEXT,\n            reasons TEXT NOT NULL DEFAULT '',\n            stage TEXT NOT NULL,\n            cursor TEXT,\n            proposed TEXT,\n            prompt_message_id INTEGER,\n            admission_date TEXT,\n            d0_deadline TEXT,\n            dose_cells INTEGER,\n            injected_at TEXT,\n            injected_by INTEGER,\n            d0_override_reason TEXT,\n            withdrawn_reason TEXT,\n            created_at TEXT NOT NULL,\n            updated_at TEXT NOT NULL,\n            closed_at TEXT,\n            last_activity_at TEXT NOT NULL,\n            idle_reminded INTEGER NOT NULL DEFAULT 0,\n            UNIQUE(site, sequence))",
        "CREATE INDEX screenings_by_status ON screenings(status, last_activity_at)",
        "CREATE TABLE answers(\n            id INTEGER PRIMARY KEY,\n            screening_id INTEGER NOT NULL REFERENCES screenings(id),\n            question_id TEXT NOT NULL,\n            value TEXT,\n            answered_by INTEGER NOT NULL,\n            answered_at TEXT NOT NULL,\n            source TEXT NOT NULL,\n            reason TEXT)",
        "CREATE INDEX answers_by_screening ON answers(screening_id, question_id, id)",
        "CREATE TABLE sessions(\n            user_id INTEGER NOT NULL,\n            chat_id INTEGER NOT NULL,\n            screening_id INTEGER REFERENCES screenings(id),\n            mode TEXT NOT NULL,\n            data TEXT,\n            updated_at TEXT NOT NULL,\n            PRIMARY KEY(user_id, chat_id))",
    ),
    (  # version 2
        "CREATE TABLE reminders(\n            id INTEGER PRIMARY KEY,\n            screening_id INTEGER REFERENCES screenings(id),\n            kind TEXT NOT NULL,\n            step TEXT NOT NULL,\n            recipient TEXT NOT NULL,\n            due_at TEXT NOT NULL,\n            state TEXT NOT NULL DEFAULT 'scheduled',\n            attempts INTEGER NOT NULL DEFAULT 0,\n            next_attempt_at TEXT,\n            claimed_at TEXT,\n            sent_at TEXT,\n            late INTEGER NOT NULL DEFAULT 0,\n            last_error TEXT)",
        "CREATE INDEX reminders_due ON reminders(due_at)\n            WHERE state IN ('scheduled', 'claimed')",
        "CREATE INDEX reminders_by_screening ON reminders(screening_id, kind)",
        "CREATE TABLE processed_updates(\n            update_id INTEGER PRIMARY KEY,\n            processed_at TEXT NOT NULL)",
    ),
    (  # version 3
        "ALTER TABLE screenings ADD COLUMN shown TEXT",
        "UPDATE screenings SET shown = CASE\n               WHEN stage = 'scorten' THEN 'scorten:' || CASE WHEN instr(cursor, '@') > 0\n                   THEN substr(cursor, 1, instr(cursor, '@') - 1) ELSE COALESCE(cursor, '') END\n               ELSE stage || ':' || COALESCE(cursor, '') END\n           WHERE status = 'in_screening' OR stage = 'scorten'",
    ),
    (  # version 4
        "ALTER TABLE screenings ADD COLUMN protocol_version TEXT NOT NULL DEFAULT 'LYSYME 1.0'",
    ),
    (  # version 5
        "CREATE TABLE ownership(\n            screening_id INTEGER PRIMARY KEY REFERENCES screenings(id),\n            owner_id INTEGER,\n            acknowledged_at TEXT,\n            planned_at TEXT)",
        "CREATE TABLE reminder_notes(\n            reminder_id INTEGER PRIMARY KEY REFERENCES reminders(id),\n            message_chat_id INTEGER,\n            message_id INTEGER,\n            acknowledged_by INTEGER,\n            acknowledged_at TEXT,\n            cancelled_by TEXT,\n            rerouted_from TEXT)",
        "CREATE INDEX reminder_notes_by_message ON reminder_notes(message_chat_id, message_id)",
        "CREATE TABLE user_reach(\n            telegram_id INTEGER PRIMARY KEY,\n            display_name TEXT,\n            unreachable_since TEXT,\n            unreachable_why TEXT)",
        "CREATE TABLE boards(\n            day TEXT PRIMARY KEY,\n            chat_id INTEGER NOT NULL,\n            message_id INTEGER NOT NULL,\n            text TEXT NOT NULL,\n            updated_at TEXT NOT NULL)",
    ),
    (  # version 6
        "ALTER TABLE reminders ADD COLUMN claimed_by TEXT",
        "ALTER TABLE reminders ADD COLUMN claimed_until TEXT",
        "CREATE TABLE leases(\n            name TEXT PRIMARY KEY,\n            holder TEXT NOT NULL,\n            expires_at TEXT NOT NULL,\n            acquired_at TEXT NOT NULL)",
    ),
    (  # version 7
        "ALTER TABLE ownership ADD COLUMN taken_at TEXT",
        "ALTER TABLE reminder_notes ADD COLUMN answered_by INTEGER",
        "ALTER TABLE reminder_notes ADD COLUMN answered_at TEXT",
    ),
    (  # version 8
        "ALTER TABLE users ADD COLUMN access_until TEXT",
        "ALTER TABLE users ADD COLUMN until_day TEXT",
        "ALTER TABLE users ADD COLUMN full_name TEXT",
        "ALTER TABLE users ADD COLUMN username TEXT",
        "ALTER TABLE users ADD COLUMN lapse_notice TEXT",
        "CREATE INDEX users_by_access_until ON users(access_until) WHERE active = 1",
        "CREATE TABLE invitations(\n            id INTEGER PRIMARY KEY,\n            token_hash TEXT NOT NULL UNIQUE,\n            roles TEXT NOT NULL,\n            until_day TEXT,\n            created_by INTEGER NOT NULL,\n            created_at TEXT NOT NULL,\n            expires_at TEXT NOT NULL,\n            used_by INTEGER,\n            used_at TEXT,\n            revoked_by INTEGER,\n            revoked_at TEXT)",
        "CREATE TABLE invitation_attempts(\n            telegram_id INTEGER PRIMARY KEY,\n            window_start TEXT NOT NULL,\n            attempts INTEGER NOT NULL)",
    ),
    (  # version 9
        "ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE reminders ADD COLUMN claim_epoch INTEGER",
    ),
)

POSTGRESQL: Final[tuple[tuple[str, ...], ...]] = (
    (  # version 1
        'CREATE TABLE audit (\n            id BIGINT PRIMARY KEY CHECK (id >= 1),\n            at TEXT COLLATE "C" NOT NULL,\n            actor TEXT COLLATE "C" NOT NULL,\n            screening TEXT COLLATE "C",\n            action TEXT COLLATE "C" NOT NULL,\n            field TEXT COLLATE "C",\n            old_value TEXT COLLATE "C",\n            new_value TEXT COLLATE "C",\n            reason TEXT COLLATE "C",\n            prev_hash TEXT COLLATE "C" NOT NULL,\n            hash TEXT COLLATE "C" NOT NULL)',
        "CREATE INDEX audit_screening ON audit (screening, id)",
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n        BEGIN\n            IF TG_OP = 'INSERT' THEN\n                IF NEW.id IS DISTINCT FROM (SELECT coalesce(max(id), 0) + 1 FROM audit)\n                   OR NEW.prev_hash IS DISTINCT FROM coalesce(\n                       (SELECT hash FROM audit WHERE id = NEW.id - 1), '0000000000000000000000000000000000000000000000000000000000000000') THEN\n                    RAISE EXCEPTION 'audit trail is append-only: a new row must follow the last one'\n                        USING ERRCODE = '23000';\n                END IF;\n                RETURN NEW;\n            END IF;\n            RAISE EXCEPTION 'audit trail is append-only' USING ERRCODE = '23000';\n        END $$",
        "CREATE TRIGGER audit_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit\n            FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit\n            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
        'CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL)',
        'CREATE TABLE users(\n            telegram_id BIGINT PRIMARY KEY,\n            roles TEXT COLLATE "C" NOT NULL,\n            language TEXT COLLATE "C",\n            added_by TEXT COLLATE "C" NOT NULL,\n            added_at TEXT COLLATE "C" NOT NULL,\n            active INTEGER NOT NULL DEFAULT 1)',
        'CREATE TABLE access_requests(\n            telegram_id BIGINT PRIMARY KEY,\n            last_notified_at TEXT COLLATE "C" NOT NULL)',
        'CREATE TABLE screenings(\n            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n            number TEXT COLLATE "C" NOT NULL UNIQUE,\n            site TEXT COLLATE "C" NOT NULL,\n            sequence INTEGER NOT NULL,\n            rescreen_of TEXT COLLATE "C",\n            clinician_id BIGINT NOT NULL,\n            last_actor_id BIGINT NOT NULL,\n            chat_id BIGINT NOT NULL,\n            status TEXT COLLATE "C" NOT NULL,\n            outcome TEXT COLLATE "C",\n            reasons TEXT COLLATE "C" NOT NULL DEFAULT \'\',\n            stage TEXT COLLATE "C" NOT NULL,\n            cursor TEXT COLLATE "C",\n            proposed TEXT COLLATE "C",\n            prompt_message_id BIGINT,\n            admission_date TEXT COLLATE "C",\n            d0_deadline TEXT COLLATE "C",\n            dose_cells BIGINT,\n            injected_at TEXT COLLATE "C",\n            injected_by BIGINT,\n            d0_override_reason TEXT COLLATE "C",\n            withdrawn_reason TEXT COLLATE "C",\n            created_at TEXT COLLATE "C" NOT NULL,\n            updated_at TEXT COLLATE "C" NOT NULL,\n            closed_at TEXT COLLATE "C",\n            last_activity_at TEXT COLLATE "C" NOT NULL,\n            idle_reminded INTEGER NOT NULL DEFAULT 0,\n            UNIQUE(site, sequence))',
        "CREATE INDEX screenings_by_status ON screenings(status, last_activity_at)",
        'CREATE TABLE answers(\n            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n            screening_id BIGINT NOT NULL REFERENCES screenings(id),\n            question_id TEXT COLLATE "C" NOT NULL,\n            value TEXT COLLATE "C",\n            answered_by BIGINT NOT NULL,\n            answered_at TEXT COLLATE "C" NOT NULL,\n            source TEXT COLLATE "C" NOT NULL,\n            reason TEXT COLLATE "C")',
        "CREATE INDEX answers_by_screening ON answers(screening_id, question_id, id)",
        'CREATE TABLE sessions(\n            user_id BIGINT NOT NULL,\n            chat_id BIGINT NOT NULL,\n            screening_id BIGINT REFERENCES screenings(id),\n            mode TEXT COLLATE "C" NOT NULL,\n            data TEXT COLLATE "C",\n            updated_at TEXT COLLATE "C" NOT NULL,\n            PRIMARY KEY(user_id, chat_id))',
    ),
    (  # version 2
        'CREATE TABLE reminders(\n            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n            screening_id BIGINT REFERENCES screenings(id),\n            kind TEXT COLLATE "C" NOT NULL,\n            step TEXT COLLATE "C" NOT NULL,\n            recipient TEXT COLLATE "C" NOT NULL,\n            due_at TEXT COLLATE "C" NOT NULL,\n            state TEXT COLLATE "C" NOT NULL DEFAULT \'scheduled\',\n            attempts INTEGER NOT NULL DEFAULT 0,\n            next_attempt_at TEXT COLLATE "C",\n            claimed_at TEXT COLLATE "C",\n            sent_at TEXT COLLATE "C",\n            late INTEGER NOT NULL DEFAULT 0,\n            last_error TEXT COLLATE "C")',
        "CREATE INDEX reminders_due ON reminders(due_at) WHERE state IN ('scheduled', 'claimed')",
        "CREATE INDEX reminders_by_screening ON reminders(screening_id, kind)",
        'CREATE TABLE processed_updates(\n            update_id BIGINT PRIMARY KEY,\n            processed_at TEXT COLLATE "C" NOT NULL)',
    ),
    (  # version 3
        'ALTER TABLE screenings ADD COLUMN shown TEXT COLLATE "C"',
        "UPDATE screenings SET shown = CASE\n               WHEN stage = 'scorten' THEN 'scorten:' || CASE WHEN strpos(cursor, '@') > 0\n                   THEN substr(cursor, 1, strpos(cursor, '@') - 1) ELSE COALESCE(cursor, '') END\n               ELSE stage || ':' || COALESCE(cursor, '') END\n           WHERE status = 'in_screening' OR stage = 'scorten'",
    ),
    (  # version 4
        "ALTER TABLE screenings ADD COLUMN protocol_version TEXT COLLATE \"C\" NOT NULL DEFAULT 'LYSYME 1.0'",
    ),
    (  # version 5
        'CREATE TABLE ownership(\n            screening_id BIGINT PRIMARY KEY REFERENCES screenings(id),\n            owner_id BIGINT,\n            acknowledged_at TEXT COLLATE "C",\n            planned_at TEXT COLLATE "C")',
        'CREATE TABLE reminder_notes(\n            reminder_id BIGINT PRIMARY KEY REFERENCES reminders(id),\n            message_chat_id BIGINT,\n            message_id BIGINT,\n            acknowledged_by BIGINT,\n            acknowledged_at TEXT COLLATE "C",\n            cancelled_by TEXT COLLATE "C",\n            rerouted_from TEXT COLLATE "C")',
        "CREATE INDEX reminder_notes_by_message ON reminder_notes(message_chat_id, message_id)",
        'CREATE TABLE user_reach(\n            telegram_id BIGINT PRIMARY KEY,\n            display_name TEXT COLLATE "C",\n            unreachable_since TEXT COLLATE "C",\n            unreachable_why TEXT COLLATE "C")',
        'CREATE TABLE boards(\n            day TEXT COLLATE "C" PRIMARY KEY,\n            chat_id BIGINT NOT NULL,\n            message_id BIGINT NOT NULL,\n            text TEXT COLLATE "C" NOT NULL,\n            updated_at TEXT COLLATE "C" NOT NULL)',
    ),
    (  # version 6
        'ALTER TABLE reminders ADD COLUMN claimed_by TEXT COLLATE "C"',
        'ALTER TABLE reminders ADD COLUMN claimed_until TEXT COLLATE "C"',
        'CREATE TABLE leases(\n            name TEXT COLLATE "C" PRIMARY KEY,\n            holder TEXT COLLATE "C" NOT NULL,\n            expires_at TEXT COLLATE "C" NOT NULL,\n            acquired_at TEXT COLLATE "C" NOT NULL)',
    ),
    (  # version 7
        'ALTER TABLE ownership ADD COLUMN taken_at TEXT COLLATE "C"',
        "ALTER TABLE reminder_notes ADD COLUMN answered_by BIGINT",
        'ALTER TABLE reminder_notes ADD COLUMN answered_at TEXT COLLATE "C"',
    ),
    (  # version 8
        'ALTER TABLE users ADD COLUMN access_until TEXT COLLATE "C"',
        'ALTER TABLE users ADD COLUMN until_day TEXT COLLATE "C"',
        'ALTER TABLE users ADD COLUMN full_name TEXT COLLATE "C"',
        'ALTER TABLE users ADD COLUMN username TEXT COLLATE "C"',
        'ALTER TABLE users ADD COLUMN lapse_notice TEXT COLLATE "C"',
        "CREATE INDEX users_by_access_until ON users(access_until) WHERE active = 1",
        'CREATE TABLE invitations(\n            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n            token_hash TEXT COLLATE "C" NOT NULL UNIQUE,\n            roles TEXT COLLATE "C" NOT NULL,\n            until_day TEXT COLLATE "C",\n            created_by BIGINT NOT NULL,\n            created_at TEXT COLLATE "C" NOT NULL,\n            expires_at TEXT COLLATE "C" NOT NULL,\n            used_by BIGINT,\n            used_at TEXT COLLATE "C",\n            revoked_by BIGINT,\n            revoked_at TEXT COLLATE "C")',
        'CREATE TABLE invitation_attempts(\n            telegram_id BIGINT PRIMARY KEY,\n            window_start TEXT COLLATE "C" NOT NULL,\n            attempts INTEGER NOT NULL)',
    ),
    (  # version 9
        "ALTER TABLE leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE reminders ADD COLUMN claim_epoch BIGINT",
    ),
)


def build(target: Path | str, version: int) -> None:
    """A database at schema `version`, migrated as the previous programs did (no Alembic)."""
    if isinstance(target, str):
        _build_postgresql(target, version)
    else:
        _build_sqlite(target, version)


def _build_sqlite(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for number, statements in enumerate(SQLITE[:version], start=1):
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
    finally:
        conn.close()


def _build_postgresql(url: str, version: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for number, statements in enumerate(POSTGRESQL[:version], start=1):
            with conn.transaction():
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version(version) VALUES (%s)", (number,))
