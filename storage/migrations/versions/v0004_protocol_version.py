"""Schema version 4: the protocol version each screening is judged under (issue 15).
Screenings opened before versions were recorded were all judged under the only version there
was."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    execute(
        "ALTER TABLE screenings ADD COLUMN protocol_version {TEXT} NOT NULL DEFAULT 'LYSYME 1.0'"
    )
