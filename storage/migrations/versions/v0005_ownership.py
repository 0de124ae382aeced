"""Schema version 5 (issue 14), in tables of their own (existing rows untouched): who owns a
patient in the D0 window and its planned injection time; which Telegram message each reminder
became, who acknowledged it and what cancelled it; users who cannot be reached privately (and
their first name, staff only); the team's morning board message."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    execute(
        """CREATE TABLE ownership(
            screening_id {BIGINT} PRIMARY KEY REFERENCES screenings(id),
            owner_id {BIGINT},
            acknowledged_at {TEXT},
            planned_at {TEXT})""",
        """CREATE TABLE reminder_notes(
            reminder_id {BIGINT} PRIMARY KEY REFERENCES reminders(id),
            message_chat_id {BIGINT},
            message_id {BIGINT},
            acknowledged_by {BIGINT},
            acknowledged_at {TEXT},
            cancelled_by {TEXT},
            rerouted_from {TEXT})""",
        "CREATE INDEX reminder_notes_by_message ON reminder_notes(message_chat_id, message_id)",
        """CREATE TABLE user_reach(
            telegram_id {BIGINT} PRIMARY KEY,
            display_name {TEXT},
            unreachable_since {TEXT},
            unreachable_why {TEXT})""",
        """CREATE TABLE boards(
            day {TEXT} PRIMARY KEY,
            chat_id {BIGINT} NOT NULL,
            message_id {BIGINT} NOT NULL,
            text {TEXT} NOT NULL,
            updated_at {TEXT} NOT NULL)""",
    )
