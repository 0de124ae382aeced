"""Schema version 3: which prompt of a screening Telegram actually delivered
(`screenings.shown`): a typed answer is taken only for that question. Screenings open at the
upgrade count as shown (the previous program did not know; asking again would surprise the
clinician)."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    execute(
        "ALTER TABLE screenings ADD COLUMN shown {TEXT}",
        """UPDATE screenings SET shown = CASE
               WHEN stage = 'scorten' THEN 'scorten:' || CASE WHEN {INSTR}(cursor, '@') > 0
                   THEN substr(cursor, 1, {INSTR}(cursor, '@') - 1) ELSE COALESCE(cursor, '') END
               ELSE stage || ':' || COALESCE(cursor, '') END
           WHERE status = 'in_screening' OR stage = 'scorten'""",
    )
