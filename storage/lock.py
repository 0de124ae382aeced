"""One process per database: an exclusive `flock` on `<database>.lock`.

Two bots on one database (systemd plus a manual run) both poll, both sweep, and release each
other's claimed reminders: everything is sent twice. `run`, `console`, `migrate` and `init`
take this lock before opening the database and hold it until the process ends. The kernel
releases a `flock` when its process dies, however it dies, so a kill -9 never blocks the
restart. The file holds the holder's pid, host, start time and command (JSON, mode 0600), for
the one-line refusal the second process prints.

The file is never deleted (deleting it while another process waits on it would let two
processes each lock a different file).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path

__all__ = ["LOCK_SUFFIX", "DatabaseLocked", "acquire", "lock_path"]

LOCK_SUFFIX = ".lock"

#: The open lock files of this process (closing one would release its lock).
_HELD: dict[Path, int] = {}


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
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
    _HELD[path] = fd


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
