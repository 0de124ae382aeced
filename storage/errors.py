"""Storage's own errors: what a caller outside storage/ catches, whatever the backend.

The database drivers' exceptions (`sqlite3.Error`, `psycopg.Error`) never leave storage/: they
are translated at one seam per driver — `storage.sqlite` for sqlite3, `storage.postgres` for
psycopg, where each hop to a database thread returns (storage/db.py) — into one of these, with
the driver's exception kept as `__cause__` (a log or a traceback still shows it).

* `StorageUnavailable`: the database cannot be reached or used right now — the connection
  refused or lost, the server shut down, a timeout, a SQLite file locked or busy, a disk full.
  Nothing was written; trying again later may work.
* `StorageConflict`: the transaction lost to another one (a serialization failure, a
  deadlock, a lock not granted in time). Rolled back; trying again normally works.
* `StorageIntegrity`: a rule of the schema refused the statement (a unique key, a foreign
  key, the audit trail's append-only trigger). Rolled back; the same statement fails again.
* `StorageGone`: the SQLite database file, or its journal, was deleted or replaced under the
  running bot. No more writes until a person looks (storage/db.py `file_problem`).

Anything else the drivers raise (a malformed file, a statement the schema does not know) is a
plain `StorageError`.

The refusals to open a database at all — `storage.anchor.DatabaseRefused` (wrong or older
file, no anchor…) and `storage.lock.DatabaseLocked` (another process holds it) — are not
faults of a running database and stay outside this hierarchy: they stop the start with one
line, and a handler that answers "try again" for a `StorageError` never sees them.
"""

from __future__ import annotations


class StorageError(Exception):
    """A database operation failed; the transaction it belonged to was rolled back."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or used right now (lost, refused, locked, timed out)."""


class StorageConflict(StorageError):
    """The transaction lost to a concurrent one (serialization, deadlock, lock timeout)."""


class StorageIntegrity(StorageError):
    """A constraint of the schema refused the statement."""


class StorageGone(StorageError):
    """The database file or its journal was deleted or replaced under the running bot."""


__all__ = [
    "StorageConflict",
    "StorageError",
    "StorageGone",
    "StorageIntegrity",
    "StorageUnavailable",
]
