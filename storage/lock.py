"""One process per database: an exclusive `flock` on `<database>.lock`.

Two bots on one database (systemd plus a manual run) both poll, both sweep, and release each
other's claimed reminders: everything is sent twice. `run`, `console`, `migrate` and `init`
take this lock before opening the database and hold it until the process ends. The kernel
releases a `flock` when its process dies, however it dies, so a kill -9 never blocks the
restart. The file holds the holder's pid, host, start time and command (JSON, mode 0600), for
the one-line refusal the second process prints.

The file is never deleted (deleting it while another process waits on it would let two
processes each lock a different file). But someone else may delete it (an `rm`, a clean-up
script): a new file at that path is a new lock, free. So the database file itself is locked
too (`flock` on a descriptor of the database file, from the moment it exists), which an `rm`
of the lock file cannot replace: a second process is refused even then. (`flock` locks are
independent of the POSIX locks SQLite takes on the same file.)
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path

__all__ = ["LOCK_SUFFIX", "DatabaseLocked", "acquire", "hold_database_file", "lock_path"]

LOCK_SUFFIX = ".lock"

#: The open lock files of this process (closing one would release its lock).
_HELD: dict[Path, int] = {}
#: The database files this process holds locked (their descriptors, kept open).
_HELD_DATABASES: dict[tuple[int, int], int] = {}  # (st_dev, st_ino) → descriptor


class DatabaseLocked(Exception):
    """Another process holds the database: one line naming it."""


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}{LOCK_SUFFIX}")


def acquire(database: str | Path, command: str) -> None:
    """Lock `database` for this process (until it exits), or raise DatabaseLocked.

    Idempotent within a process. The database's folder must exist."""
    path = lock_path(database).absolute()
    if path in _HELD:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _describe(fd)
        os.close(fd)
        raise DatabaseLocked(
            f"database {database} is in use by {holder}; stop that process first"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.fchmod(fd, 0o600)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
    }
    try:
        _lock_database_file(database)
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
    _HELD[path] = fd


def hold_database_file(database: str | Path) -> None:
    """Once the database file exists (created after `acquire`): lock it too, if this process
    holds its lock file. Raises DatabaseLocked if another process holds the file."""
    if lock_path(database).absolute() in _HELD:
        _lock_database_file(database)


def _lock_database_file(database: str | Path) -> None:
    path = Path(database).absolute()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return  # a fresh machine: locked as soon as it is created (`hold_database_file`)
    status = os.fstat(fd)
    identity = (status.st_dev, status.st_ino)
    if identity in _HELD_DATABASES:  # (a new file at the path, after `init --force`: locked too)
        os.close(fd)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseLocked(
            f"database {database} is in use by another process (its lock file "
            f"{lock_path(database)} was removed or replaced); stop that process first"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    _HELD_DATABASES[identity] = fd


def _describe(fd: int) -> str:
    """'pid 123 on host (lysyme-bot run) since …' from the holder's record."""
    try:
        data = os.pread(fd, 4096, 0)
        record = json.loads(data.decode("utf-8"))
        return (
            f"pid {int(record['pid'])} on {record['host']} "
            f"(lysyme-bot {record.get('command', '?')}) since {record['since']}"
        )
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "another process (it has not written its pid yet)"
