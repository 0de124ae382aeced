"""Schema version 6 (issue 16, several replicas): who claimed a reminder and until when (a
claim of a dead replica is taken over once it has expired), and the named leases (polling,
sending) one replica holds at a time."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    execute(
        "ALTER TABLE reminders ADD COLUMN claimed_by {TEXT}",
        "ALTER TABLE reminders ADD COLUMN claimed_until {TEXT}",
        """CREATE TABLE leases(
            name {TEXT} PRIMARY KEY,
            holder {TEXT} NOT NULL,
            expires_at {TEXT} NOT NULL,
            acquired_at {TEXT} NOT NULL)""",
    )
