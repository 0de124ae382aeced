"""The schema's migrations, written once for both dialects as Alembic revisions
(storage/migrations/versions/), run by Alembic on the database's own write connection.

Why Alembic (and SQLAlchemy, its dialect layer): a migration runner and a dialect layer we
would otherwise keep writing twice — once per backend. Each revision is one file; the words the
dialects spell differently (`TEXT COLLATE "C"`, BIGINT, identity columns) are named once in
`storage.migrations.ddl`; only what is each dialect's own by nature (the audit trail's
append-only triggers) branches on the dialect.

Revisions are numbered "0001", "0002", …: revision N is schema version N, the number
`Database.schema_version()` returns, the health check reads and a newer program is refused
by. That number is still written where the previous programs wrote it — SQLite's
`PRAGMA user_version`, PostgreSQL's `schema_version` table — in the same transaction as the
revisions, so every reader of it (`lysyme-bot check`, `python -m bot.health`, backups) is
unchanged.

A database an earlier program migrated (version N, no `alembic_version` table) is adopted: it
is stamped at revision N, then upgraded, with no row touched. All pending revisions run in
ONE transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: under the advisory write lock, so
replicas starting together migrate once): a failure leaves the database as it was.

This module imports neither Alembic nor SQLAlchemy at import time (the health check and the
CLI start fast); `upgrade` does, on the database thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import sqlalchemy

FOLDER: Final = Path(__file__).resolve().parent
_REVISION_FILE: Final = re.compile(r"^v(\d{4})_\w+\.py$")


def _numbers() -> list[int]:
    found = sorted(
        int(match.group(1))
        for name in (path.name for path in (FOLDER / "versions").iterdir())
        if (match := _REVISION_FILE.match(name))
    )
    if found != list(range(1, len(found) + 1)):
        raise RuntimeError(f"storage/migrations/versions: revisions {found} are not 1..N")
    return found


#: The latest schema version: the number of revisions (they are 1..N, checked).
SCHEMA_VERSION: Final = len(_numbers())


def revision_id(version: int) -> str:
    """Alembic's revision id of schema version `version` ("0009")."""
    return f"{version:04d}"


def version_of(revision: str | None) -> int:
    """The schema version of an Alembic revision id (0: none applied)."""
    return 0 if revision is None else int(revision)


def upgrade(
    connection: sqlalchemy.Connection,
    *,
    legacy_version: Callable[[sqlalchemy.Connection], int],
    record_version: Callable[[sqlalchemy.Connection, int, int], None],
    target: int = SCHEMA_VERSION,
    after_begin: Sequence[str] = (),
) -> tuple[int, int]:
    """On the database's write thread, with its write connection (no transaction open):
    bring the database up to `target` in one transaction.

    The write engine opens the transaction its own way (SQLite's BEGIN IMMEDIATE);
    `after_begin`: what follows it (PostgreSQL's advisory write lock); `legacy_version`: the
    version the previous programs recorded (for adoption); `record_version(connection,
    before, after)`: write it where they did. Returns (version before, version after)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    with connection.begin():
        for statement in after_begin:
            connection.exec_driver_sql(statement)
        current = MigrationContext.configure(connection).get_current_revision()
        config = Config()
        config.set_main_option("script_location", str(FOLDER))
        config.attributes["connection"] = connection
        before = version_of(current)
        if current is None:
            before = legacy_version(connection)
            if before > 0:  # an earlier program's database: adopted as it is
                command.stamp(config, revision_id(before))
        if before < target:
            command.upgrade(config, revision_id(target))
            record_version(connection, before, target)
    return before, max(before, target)
