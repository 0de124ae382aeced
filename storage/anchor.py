"""The database's identity and audit head, kept outside the database: `<database>.anchor`.

A database file can be deleted, replaced by an older copy, or swapped for another one; its
audit trail can be cut at its end or rewritten with every hash recomputed. Nothing inside the
file can show that. The anchor, a small JSON file beside it (mode 0600), records

* `database_id`: a random id created with the database and also stored in its `meta` table;
* `audit_rows` and `audit_head`: how many audit rows the trail had and the hash of the last.

It is rewritten (temporary file, fsync, rename, fsync of the folder) after commits that
appended audit rows, at most once a second (storage/db.py `ANCHOR_EVERY`: two fsyncs per
commit would double an answer's cost), and when the bot stops. The anchor may therefore trail
the database by the commits of the last second — never lead it: it is written from what was
committed. A database *ahead* of its anchor (a crash within that second) is accepted: the
anchored row is still there with the same hash. Everything else is refused as before: an older
copy, a trail cut or rewritten before the anchored row, another database.

`check(database)` is what `run`, `console` and `migrate` ask before opening: it refuses (raises
DatabaseRefused, one line) a missing folder, a file that is no LYSYME database (not SQLite,
or without its tables), a missing database whose anchor exists, a database whose id differs,
a trail shorter than, or diverging from, the anchored head — and a database file that exists
without its anchor: an older copy put back with its anchor deleted looks exactly like that.
`lysyme-bot init --adopt` is the one deliberate, audited way to accept such a file as it is.
A fresh machine (no database file, or an empty one, and no anchor) is allowed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from storage.sql import execute, fetch_one, value
from storage.sqlite import translated

__all__ = [
    "ANCHOR_SUFFIX",
    "DATABASE_ID_KEY",
    "Anchor",
    "DatabaseRefused",
    "Head",
    "anchor_path",
    "check",
    "compare",
    "give_id",
    "new_database_id",
    "not_lysyme",
    "read_anchor",
    "read_head",
    "read_head_of",
    "write_anchor",
]

ANCHOR_SUFFIX = ".anchor"
DATABASE_ID_KEY = "database_id"
RESTORE_HINT = (
    "restore the right database file (from a backup: copy the backup to the database path "
    "and its .anchor file beside it), or run `lysyme-bot init --force` to start a new, "
    "empty database deliberately"
)


ADOPT_HINT = (
    "restore the right database file with its .anchor file beside it, or, if this file is the "
    "right one, accept it as it is with `lysyme-bot init --adopt` (audited)"
)
#: Tables every LYSYME database has (from its first migration).
LYSYME_TABLES = ("meta", "audit", "screenings")


def not_lysyme(path: Path) -> str | None:
    """Why the file at `path` is not a LYSYME database (one line), or None — also when there
    is no file, or an empty one (a database about to be created)."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror}"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            tables = {
                str(row[0])
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"{path} is not a LYSYME database (not a SQLite database file: {exc})"
    if not tables:
        return f"{path} is not a LYSYME database: it has no tables"
    missing = [name for name in LYSYME_TABLES if name not in tables]
    if missing:
        return f"{path} is not a LYSYME database: it has no {', '.join(missing)} table"
    return None


class DatabaseRefused(Exception):
    """The bot must not start on this database: one line saying why and what to do."""


@dataclass(frozen=True)
class Anchor:
    database_id: str
    audit_rows: int
    audit_head: str
    updated_at: str = ""

    def same_head(self, other: Anchor) -> bool:
        return (self.database_id, self.audit_rows, self.audit_head) == (
            other.database_id,
            other.audit_rows,
            other.audit_head,
        )


def anchor_path(database: str | Path) -> Path:
    return Path(f"{database}{ANCHOR_SUFFIX}")


def new_database_id() -> str:
    return secrets.token_hex(16)


def give_id(conn: Connection) -> None:
    """Give the database its random id (`meta`), unless it has one already."""
    execute(
        conn,
        "INSERT INTO meta(key, value) VALUES (:key, :value) ON CONFLICT DO NOTHING",
        {"key": DATABASE_ID_KEY, "value": new_database_id()},
    )


def read_anchor(path: Path) -> Anchor | None:
    """The anchor stored at `path` (an anchor file), None if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DatabaseRefused(f"cannot read {path}: {exc.strerror}") from None
    try:
        document: dict[str, Any] = json.loads(text)
        anchor = Anchor(
            database_id=str(document["database_id"]),
            audit_rows=int(document["audit_rows"]),
            audit_head=str(document["audit_head"]),
            updated_at=str(document.get("updated_at", "")),
        )
    except (ValueError, KeyError, TypeError):
        raise DatabaseRefused(
            f"{path} is unreadable: put back a good copy (a backup's .anchor file), or run "
            "`lysyme-bot init --force` to start a new, empty database deliberately"
        ) from None
    if anchor.audit_rows < 0:
        raise DatabaseRefused(f"{path} is unreadable (negative row count)")
    return anchor


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Atomically and durably: a crash leaves the old anchor or the new one, never half."""
    stamped = Anchor(
        anchor.database_id,
        anchor.audit_rows,
        anchor.audit_head,
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(asdict(stamped), sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def read_head(conn: Connection | sqlite3.Connection) -> tuple[str | None, int, str]:
    """(database id or None, audit row count, head hash) of an open SQLite database: through
    the bot's own connection (a SQLAlchemy `Connection`: after each commit, in the write
    transaction's wake), or a sqlite3 connection of its own (a backup's copy, the CLI)."""
    if isinstance(conn, sqlite3.Connection):
        return _read_head_raw(conn)
    tables = set(
        conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars()
    )
    database_id = None
    if "meta" in tables:
        found = value(conn, "SELECT value FROM meta WHERE key=:key", {"key": DATABASE_ID_KEY})
        database_id = None if found is None else str(found)
    if "audit" not in tables:
        return database_id, 0, "0" * 64
    row = fetch_one(conn, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
    if row is None:
        return database_id, 0, "0" * 64
    return database_id, int(row["id"]), str(row["hash"])


def _read_head_raw(conn: sqlite3.Connection) -> tuple[str | None, int, str]:
    """`read_head` through a sqlite3 connection of its own."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    database_id = None
    if "meta" in tables:
        row = conn.execute("SELECT value FROM meta WHERE key=?", (DATABASE_ID_KEY,)).fetchone()
        database_id = None if row is None else str(row[0])
    if "audit" not in tables:
        return database_id, 0, "0" * 64
    row = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (database_id, 0, "0" * 64) if row is None else (database_id, int(row[0]), str(row[1]))


@dataclass(frozen=True)
class Head:
    """A database's identity and audit head, read through the bot's own connection."""

    database_id: str | None
    audit_rows: int
    audit_head: str


def read_head_of(conn: Connection) -> Head:
    """`read_head` through a storage connection (exports; the caller's transaction)."""
    found = value(conn, "SELECT value FROM meta WHERE key=:key", {"key": DATABASE_ID_KEY})
    database_id = None if found is None else str(found)
    last = fetch_one(conn, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
    if last is not None:
        return Head(database_id, int(last["id"]), str(last["hash"]))
    return Head(database_id, 0, "0" * 64)


def compare(conn: sqlite3.Connection, database: Path, anchor: Anchor) -> str | None:
    """Why this database is not the anchored one (one line), or None if it is."""
    database_id, rows, _ = _read_head_raw(conn)
    if database_id != anchor.database_id:
        return (
            f"{database} is not the database its anchor {anchor_path(database)} knows "
            f"(id {database_id or 'none'}, anchored {anchor.database_id}): the file was "
            f"replaced by another database; {RESTORE_HINT}"
        )
    if rows < anchor.audit_rows:
        return (
            f"{database} has {rows} audit rows but its anchor recorded {anchor.audit_rows}: "
            f"it is an older copy or was truncated; {RESTORE_HINT}"
        )
    if anchor.audit_rows > 0:
        row = conn.execute("SELECT hash FROM audit WHERE id=?", (anchor.audit_rows,)).fetchone()
        if row is None or str(row[0]) != anchor.audit_head:
            return (
                f"{database}: audit row {anchor.audit_rows} differs from the head its anchor "
                f"recorded: the trail was rewritten; {RESTORE_HINT}"
            )
    return None


def compare_file(database: Path, anchor: Anchor) -> str | None:
    """`compare` on a read-only connection of its own (`lysyme-bot verify-audit`)."""
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            return compare(conn, database, anchor)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise translated(exc) from exc


def read_head_file(database: Path) -> tuple[str | None, int, str]:
    """`read_head` on a read-only connection of its own (`lysyme-bot init --adopt`)."""
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            return _read_head_raw(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise translated(exc) from exc


def check(database: str | Path) -> None:
    """Before opening `database` to write: refuse (DatabaseRefused) what must not be used.

    Fresh machine (no database, no anchor): allowed, the database is created as before."""
    path = Path(database)
    if not path.parent.is_dir():
        raise DatabaseRefused(
            f"the folder of LYSYME_DATABASE ({path.parent}) does not exist: create it, or fix "
            "the path"
        )
    problem = not_lysyme(path)
    if problem is not None:
        raise DatabaseRefused(f"{problem}; fix LYSYME_DATABASE, or put the right file back")
    anchor = read_anchor(anchor_path(path))
    if anchor is None:
        if path.exists() and path.stat().st_size > 0:
            raise DatabaseRefused(
                f"database {path} has no anchor file {anchor_path(path)}: it may be an older "
                f"copy put back with its anchor deleted; {ADOPT_HINT}"
            )
        return
    if not path.exists():
        raise DatabaseRefused(
            f"database {path} is missing but its anchor records {anchor.audit_rows} audit rows "
            f"(id {anchor.database_id}); {RESTORE_HINT}"
        )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        problem = compare(conn, path, anchor)
    except sqlite3.Error as exc:
        problem = f"{path} cannot be read as a database ({exc}); {RESTORE_HINT}"
    finally:
        conn.close()
    if problem is not None:
        raise DatabaseRefused(problem)
