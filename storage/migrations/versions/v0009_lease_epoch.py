"""Schema version 9 (issue 23, fencing): the leader lease's epoch (one more at each takeover),
and the epoch under which a reminder was claimed. A row is marked by its claimer only while
its claim is intact; an ex-leader's claim (an older epoch) is taken over at once."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    execute(
        "ALTER TABLE leases ADD COLUMN epoch {BIGINT} NOT NULL DEFAULT 0",
        "ALTER TABLE reminders ADD COLUMN claim_epoch {BIGINT}",
    )
