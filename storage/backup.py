"""Online backups of the database, and their rotation.

SQLite's backup API copies a consistent snapshot while the bot keeps writing (WAL: the reader
blocks nobody). The copy is written to a temporary file created with mode 0600 in the
destination folder — health data is never world-readable, not even for an instant — and only
renamed into place once complete and checked, so a backup file is always whole.
"""

import asyncio
import contextlib
import os
import re
import sqlite3
import tempfile
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from storage.anchor import ANCHOR_SUFFIX, Anchor, anchor_path, read_head, write_anchor
from storage.errors import StorageError
from storage.sql import fetch_all

__all__ = [
    "BACKUP_NAME_RE",
    "BackupError",
    "backup_database",
    "backup_file_name",
    "backup_instant",
    "database_file",
    "prune_backups",
]

BACKUP_NAME_RE: Final = re.compile(r"lysyme-\d{8}-\d{6}(?:[+-]\d{4})?\.sqlite3")
"""Names this module writes and prunes (local time with its UTC offset; older names, in UTC,
without one); anything else in the folder is never deleted."""

_BUSY_TIMEOUT_SECONDS: Final = 30.0


class BackupError(Exception):
    """A backup could not be made; the message is one line for the operator."""


def backup_file_name(now: datetime | None = None, zone: tzinfo | None = None) -> str:
    """``lysyme-YYYYMMDD-HHMMSS+HHMM.sqlite3``: the local time of ``zone`` (UTC if None) with
    its offset, as the export files are named, so the name says the instant unambiguously
    (even in the repeated hour of a DST change)."""
    moment = (now or datetime.now(UTC)).astimezone(zone or UTC)
    return f"lysyme-{moment:%Y%m%d-%H%M%S%z}.sqlite3"


def backup_instant(name: str) -> datetime | None:
    """The instant in a backup's name (UTC when the name carries no offset), None otherwise."""
    if not BACKUP_NAME_RE.fullmatch(name):
        return None
    stamp = name.removeprefix("lysyme-").removesuffix(".sqlite3")
    try:
        if len(stamp) > 15:
            return datetime.strptime(stamp, "%Y%m%d-%H%M%S%z")
        return datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _target_path(destination: str | Path, zone: tzinfo | None = None) -> Path:
    """The final file: inside ``destination`` if it is a folder, else ``destination`` itself."""
    text = os.fspath(destination)
    path = Path(text)
    if path.is_dir():
        return path / backup_file_name(None, zone)
    if text.endswith((os.sep, "/")) or not path.parent.is_dir():
        folder = path if text.endswith((os.sep, "/")) else path.parent
        raise BackupError(f"backup folder does not exist: {folder}")
    if path.exists() and not path.is_file():
        raise BackupError(f"backup destination is not a regular file: {path}")
    return path


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def _open_destination(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: the connection's database thread may drive the copy.
    target = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    # The file is a throw-away until renamed, so no journal (and no journal file) is needed.
    target.execute("PRAGMA journal_mode = OFF")
    return target


def _finish(target: sqlite3.Connection, tmp: Path) -> None:
    """Check the copy, close it and flush it to disk before it may replace anything."""
    try:
        (result,) = target.execute("PRAGMA quick_check").fetchone()
    finally:
        target.close()
    if result != "ok":
        raise BackupError(f"the copy failed its integrity check: {result}")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_file(source: Path, tmp: Path) -> None:
    """Copy from an independent connection: its snapshot never sees a caller's open transaction."""
    src = sqlite3.connect(source, timeout=_BUSY_TIMEOUT_SECONDS)
    try:
        target = _open_destination(tmp)
        try:
            src.backup(target)  # pages=-1: one step, one consistent snapshot
        except BaseException:
            target.close()
            raise
        _finish(target, tmp)
    finally:
        src.close()


def database_file(conn: Connection) -> Path | None:
    """The file behind ``conn``'s main database, or None for an in-memory database (a
    storage function: `await db.read(database_file)`)."""
    for row in fetch_all(conn, "PRAGMA database_list"):
        if row["name"] == "main" and row["file"]:
            return Path(row["file"])
    return None


def _driver_connection(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under ``conn`` (an in-memory database is copied through it)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise BackupError("only a SQLite database can be backed up")
    return raw


async def _copy_connection(conn: Connection, tmp: Path) -> None:
    """Copy an in-memory database through its own connection (it has no file to reopen)."""
    raw = _driver_connection(conn)
    if raw.in_transaction:  # its uncommitted changes would be in the copy
        raise BackupError("cannot back up an in-memory database inside an open transaction")
    target = await asyncio.to_thread(_open_destination, tmp)
    try:
        raw.backup(target, pages=-1)
    except BaseException:
        await asyncio.to_thread(target.close)
        raise
    await asyncio.to_thread(_finish, target, tmp)


def _prepare(
    source_file: Path | None, destination: str | Path, zone: tzinfo | None = None
) -> tuple[Path, Path]:
    """Check both ends and create the 0600 temporary file; return (final path, temp path)."""
    if source_file is not None and not source_file.is_file():
        raise BackupError(f"database to back up does not exist: {source_file}")
    target = _target_path(destination, zone)
    folder = target.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"backup folder is not writable: {folder}")
    if source_file is not None and source_file.resolve() == target.resolve():
        raise BackupError(f"backup destination is the database itself: {target}")
    try:
        # mkstemp creates the file with mode 0600 in one system call: never readable by others.
        fd, tmp_name = tempfile.mkstemp(prefix=".lysyme-backup-", suffix=".tmp", dir=folder)
    except OSError as error:
        raise BackupError(f"cannot write in backup folder {folder}: {error.strerror}") from error
    os.close(fd)
    return target, Path(tmp_name)


def _install(tmp: Path, target: Path) -> None:
    os.chmod(tmp, 0o600)
    head = _head_of(tmp)
    os.replace(tmp, target)
    _fsync_directory(target.parent)
    if head is not None:
        # The copy's identity and audit head, in the anchor format: restoring is copying the
        # backup to the database path and this file beside it as `<database>.anchor`.
        write_anchor(anchor_path(target), Anchor(*head))


def _head_of(copy: Path) -> tuple[str, int, str] | None:
    conn = sqlite3.connect(copy)
    try:
        database_id, rows, head = read_head(conn)
    finally:
        conn.close()
    return None if database_id is None else (database_id, rows, head)


async def backup_database(
    source: Connection | str | Path, destination: str | Path, zone: tzinfo | None = None
) -> Path:
    """Copy the live database to ``destination`` (a file, or a folder to name it in); safe
    while the bot writes. Returns the final path of the 0600 copy. Beside it,
    ``<copy>.anchor``: the copy's database id and audit head (storage/anchor.py).

    A connection to a file (a SQLAlchemy `Connection`, used on the caller's thread) is not used
    for the copy itself: the file is reopened, so the copy never includes a transaction the
    caller has not committed yet. The bot's own database passes its path (`db.path`).
    Raises BackupError if the folder is missing or not writable, or the copy fails.
    """
    if isinstance(source, str | Path):
        source_file: Path | None = Path(source)
    else:
        source_file = database_file(source)
    target, tmp = await asyncio.to_thread(_prepare, source_file, destination, zone)
    try:
        if source_file is not None:
            await asyncio.to_thread(_copy_file, source_file, tmp)
        else:
            assert not isinstance(source, str | Path)
            await _copy_connection(source, tmp)
        await asyncio.to_thread(_install, tmp, target)
    except (sqlite3.Error, DBAPIError, StorageError) as error:
        raise BackupError(f"backup failed: {error}") from error
    except OSError as error:
        raise BackupError(f"backup failed: {error.strerror or error}") from error
    finally:
        await asyncio.to_thread(tmp.unlink, missing_ok=True)
    return target


def prune_backups(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups (by the UTC time in their names).

    Only files named like ``lysyme-YYYYMMDD-HHMMSS.sqlite3`` are considered, so the live
    database is safe even in the same folder. Returns the deleted files, oldest first.
    """
    if keep < 0:
        raise ValueError("keep must be >= 0")
    folder = Path(directory)
    if not folder.is_dir():
        raise BackupError(f"backup folder does not exist: {folder}")
    backups = sorted(
        (
            path
            for path in folder.iterdir()
            if backup_instant(path.name) is not None and path.is_file() and not path.is_symlink()
        ),
        key=lambda path: (backup_instant(path.name), path.name),
    )
    doomed = backups[: max(len(backups) - keep, 0)]
    for path in doomed:
        path.unlink(missing_ok=True)
        for suffix in (
            "-wal",
            "-shm",
            "-journal",
            ANCHOR_SUFFIX,
        ):  # its sidecar; left by whoever opened the copy
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return doomed
