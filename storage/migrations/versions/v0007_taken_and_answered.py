"""Schema version 7 (issue 26): when the current owner took the patient (kept when a plan is
added; the latest acknowledgement stays in `acknowledged_at`), and who answered a follow-up
question a reminder asked, and when (every copy of it then reads as answered)."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    execute(
        "ALTER TABLE ownership ADD COLUMN taken_at {TEXT}",
        "ALTER TABLE reminder_notes ADD COLUMN answered_by {BIGINT}",
        "ALTER TABLE reminder_notes ADD COLUMN answered_at {TEXT}",
    )
