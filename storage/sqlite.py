"""sqlite3's one error seam: its exceptions as storage's own (storage/errors.py)."""

from __future__ import annotations

import sqlite3

from storage.errors import StorageError, StorageIntegrity, StorageUnavailable


def translated(exc: sqlite3.Error) -> StorageError:
    """sqlite3's exception as storage's own (storage/errors.py), the original as `__cause__`:

    * IntegrityError (a unique or foreign key, a CHECK, the audit trigger's RAISE(ABORT)) →
      `StorageIntegrity`;
    * OperationalError ("database is locked", a busy timeout, a disk full or an I/O error,
      a write on a read-only connection) → `StorageUnavailable`;
    * anything else (a malformed file, a closed connection, a misused API) → `StorageError`.
    """
    kind: type[StorageError]
    if isinstance(exc, sqlite3.IntegrityError):
        kind = StorageIntegrity
    elif isinstance(exc, sqlite3.OperationalError):
        kind = StorageUnavailable
    else:
        kind = StorageError
    error = kind(str(exc) or type(exc).__name__)
    error.__cause__ = exc
    return error
