"""Schema version 2: the reminder outbox and the record of handled Telegram updates."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    execute(
        """CREATE TABLE reminders(
            id {ID},
            screening_id {BIGINT} REFERENCES screenings(id),
            kind {TEXT} NOT NULL,
            step {TEXT} NOT NULL,
            recipient {TEXT} NOT NULL,
            due_at {TEXT} NOT NULL,
            state {TEXT} NOT NULL DEFAULT 'scheduled',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {TEXT},
            claimed_at {TEXT},
            sent_at {TEXT},
            late INTEGER NOT NULL DEFAULT 0,
            last_error {TEXT})""",
        # Partial index: the sweep only ever looks at what is still to be sent.
        """CREATE INDEX reminders_due ON reminders(due_at)
            WHERE state IN ('scheduled', 'claimed')""",
        "CREATE INDEX reminders_by_screening ON reminders(screening_id, kind)",
        """CREATE TABLE processed_updates(
            update_id {BIGINT} PRIMARY KEY,
            processed_at {TEXT} NOT NULL)""",
    )
