"""Schema version 8 (issue 24, team membership): each access's end (the instant it lapses and
the local day shown), who the person is on Telegram (name, username), whether they were told
of a lapse; invitations (the token's SHA-256 only, never the token); refused attempts per id."""

from __future__ import annotations

from storage.migrations.ddl import execute

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    execute(
        "ALTER TABLE users ADD COLUMN access_until {TEXT}",
        "ALTER TABLE users ADD COLUMN until_day {TEXT}",
        "ALTER TABLE users ADD COLUMN full_name {TEXT}",
        "ALTER TABLE users ADD COLUMN username {TEXT}",
        "ALTER TABLE users ADD COLUMN lapse_notice {TEXT}",
        "CREATE INDEX users_by_access_until ON users(access_until) WHERE active = 1",
        """CREATE TABLE invitations(
            id {ID},
            token_hash {TEXT} NOT NULL UNIQUE,
            roles {TEXT} NOT NULL,
            until_day {TEXT},
            created_by {BIGINT} NOT NULL,
            created_at {TEXT} NOT NULL,
            expires_at {TEXT} NOT NULL,
            used_by {BIGINT},
            used_at {TEXT},
            revoked_by {BIGINT},
            revoked_at {TEXT})""",
        """CREATE TABLE invitation_attempts(
            telegram_id {BIGINT} PRIMARY KEY,
            window_start {TEXT} NOT NULL,
            attempts INTEGER NOT NULL)""",
    )
