"""Schema version 1: users, screenings, answers (never overwritten), the audit trail."""

from __future__ import annotations

from alembic import op

from storage.audit import AUDIT_STATEMENTS, AUDIT_STATEMENTS_POSTGRESQL
from storage.migrations.ddl import dialect, execute

revision = "0001"
down_revision: str | None = None


def upgrade() -> None:
    # The audit trail: the append-only rule is each dialect's own (SQLite's RAISE(ABORT)
    # triggers, one PL/pgSQL trigger function that also refuses TRUNCATE), in storage/audit.py.
    audit = AUDIT_STATEMENTS if dialect() == "sqlite" else AUDIT_STATEMENTS_POSTGRESQL
    for statement in audit:
        op.execute(statement)
    execute(
        """CREATE TABLE users(
            telegram_id {BIGINT} PRIMARY KEY,
            roles {TEXT} NOT NULL,
            language {TEXT},
            added_by {TEXT} NOT NULL,
            added_at {TEXT} NOT NULL,
            active INTEGER NOT NULL DEFAULT 1)""",
        """CREATE TABLE access_requests(
            telegram_id {BIGINT} PRIMARY KEY,
            last_notified_at {TEXT} NOT NULL)""",
        """CREATE TABLE screenings(
            id {ID},
            number {TEXT} NOT NULL UNIQUE,
            site {TEXT} NOT NULL,
            sequence INTEGER NOT NULL,
            rescreen_of {TEXT},
            clinician_id {BIGINT} NOT NULL,
            last_actor_id {BIGINT} NOT NULL,
            chat_id {BIGINT} NOT NULL,
            status {TEXT} NOT NULL,
            outcome {TEXT},
            reasons {TEXT} NOT NULL DEFAULT '',
            stage {TEXT} NOT NULL,
            cursor {TEXT},
            proposed {TEXT},
            prompt_message_id {BIGINT},
            admission_date {TEXT},
            d0_deadline {TEXT},
            dose_cells {BIGINT},
            injected_at {TEXT},
            injected_by {BIGINT},
            d0_override_reason {TEXT},
            withdrawn_reason {TEXT},
            created_at {TEXT} NOT NULL,
            updated_at {TEXT} NOT NULL,
            closed_at {TEXT},
            last_activity_at {TEXT} NOT NULL,
            idle_reminded INTEGER NOT NULL DEFAULT 0,
            UNIQUE(site, sequence))""",
        "CREATE INDEX screenings_by_status ON screenings(status, last_activity_at)",
        """CREATE TABLE answers(
            id {ID},
            screening_id {BIGINT} NOT NULL REFERENCES screenings(id),
            question_id {TEXT} NOT NULL,
            value {TEXT},
            answered_by {BIGINT} NOT NULL,
            answered_at {TEXT} NOT NULL,
            source {TEXT} NOT NULL,
            reason {TEXT})""",
        "CREATE INDEX answers_by_screening ON answers(screening_id, question_id, id)",
        """CREATE TABLE sessions(
            user_id {BIGINT} NOT NULL,
            chat_id {BIGINT} NOT NULL,
            screening_id {BIGINT} REFERENCES screenings(id),
            mode {TEXT} NOT NULL,
            data {TEXT},
            updated_at {TEXT} NOT NULL,
            PRIMARY KEY(user_id, chat_id))""",
    )
