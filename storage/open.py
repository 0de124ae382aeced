"""Opening the bot's database, whichever the backend: the one module that knows both.

`storage.db.Database` is the abstract API; `SqliteDatabase` (storage/db.py) and
`PostgresDatabase` (storage/postgres_db.py) implement it. The choice between them by the
target's shape lives here, so that the abstract class never imports its own subclass (no
import cycle: storage.db imports neither storage.postgres_db nor storage.open, which
`lint-imports` checks).
"""

from __future__ import annotations

from pathlib import Path

from storage.db import Database, SqliteDatabase
from storage.postgres import is_postgres_url


async def open_database(
    target: str | Path, *, migrate: bool = True, pool_size: int = 5, lease: float = 15.0
) -> Database:
    """Open (and, with `migrate`, bring up to date) the database at `target`: a SQLite file,
    or a PostgreSQL URL (`lease`: the leader lease in seconds, which bounds its write
    connections' lock waits). Raises anchors.DatabaseRefused with one line when it must
    not be used."""
    if is_postgres_url(target):
        from storage.postgres_db import PostgresDatabase

        return await PostgresDatabase.open_url(
            str(target), migrate=migrate, pool_size=pool_size, lease=lease
        )
    return await SqliteDatabase.open_file(Path(target), migrate=migrate)
