"""Append-only, hash-chained audit trail.

Every change of state is one row of the ``audit`` table. SQLite triggers refuse UPDATE and
DELETE (and any INSERT that is not a proper append), and each row carries
``hash = sha256(canonical_encoding(id, entry, prev_hash))`` where ``prev_hash`` is the hash of
the row before it (64 zeros for row 1). Anyone who drops the triggers and edits, deletes,
inserts or reorders rows breaks the chain, and :func:`verify_chain` names the first bad row.

What the chain cannot show on its own: a trail cut at its end, or rewritten from some row to
its end with every hash recomputed (SHA-256 has no secret). The checkpoint kept in ``meta`` by
:func:`verify_incremental` catches both for the rows it has already verified.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection

from storage.sql import dialect, execute, execute_many, in_transaction

__all__ = [
    "APPEND_ONLY_MESSAGE",
    "AUDIT_DDL",
    "AUDIT_STATEMENTS",
    "AUDIT_STATEMENTS_POSTGRESQL",
    "GENESIS_HASH",
    "AuditEntry",
    "VerifyResult",
    "append_audit",
    "append_audit_many",
    "canonical_encoding",
    "checkpoint_problem",
    "compute_hash",
    "format_timestamp",
    "has_rows",
    "parse_timestamp",
    "verify_chain",
    "verify_incremental",
]

GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of row 1: the chain has to start from a value everybody agrees on."""

APPEND_ONLY_MESSAGE: Final = "audit trail is append-only"

# Bumped if the encoding ever changes, so old and new rows can never be confused.
_ENCODING_VERSION: Final = 1
_TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
_CHECKPOINT_ID_KEY: Final = "audit_verified_id"
_CHECKPOINT_HASH_KEY: Final = "audit_verified_hash"
# Rows per read while verifying: bounded memory, and the event loop gets a turn between batches.
_BATCH_SIZE: Final = 1000

_COLUMNS: Final = (
    "id, at, actor, screening, action, field, old_value, new_value, reason, prev_hash, hash"
)
#: The INSERT's named parameters, one per column of `_COLUMNS`, in order.
_MARKS: Final = ", ".join(f":{name.strip()}" for name in _COLUMNS.split(","))
_TEXT_COLUMNS: Final = (
    "at",
    "actor",
    "screening",
    "action",
    "field",
    "old_value",
    "new_value",
    "reason",
    "prev_hash",
    "hash",
)

AUDIT_STATEMENTS: Final[tuple[str, ...]] = (
    """CREATE TABLE audit (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    screening TEXT,
    action TEXT NOT NULL,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)""",
    "CREATE INDEX audit_screening ON audit (screening, id)",
    # INSERT OR REPLACE deletes without firing DELETE triggers (recursive_triggers is off), so
    # inserts are guarded too: a new row must take the next id and link to the last row's hash.
    f"""CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit
WHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM audit)
    OR NEW.prev_hash IS NOT coalesce(
        (SELECT hash FROM audit WHERE id = NEW.id - 1), '{GENESIS_HASH}')
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: a new row must follow the last one');
END""",
    f"""CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}');
END""",
    f"""CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}');
END""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
"""The schema, one statement each, for a migration that runs statements one by one."""

AUDIT_STATEMENTS_POSTGRESQL: Final[tuple[str, ...]] = (
    """CREATE TABLE audit (
            id BIGINT PRIMARY KEY CHECK (id >= 1),
            at TEXT COLLATE "C" NOT NULL,
            actor TEXT COLLATE "C" NOT NULL,
            screening TEXT COLLATE "C",
            action TEXT COLLATE "C" NOT NULL,
            field TEXT COLLATE "C",
            old_value TEXT COLLATE "C",
            new_value TEXT COLLATE "C",
            reason TEXT COLLATE "C",
            prev_hash TEXT COLLATE "C" NOT NULL,
            hash TEXT COLLATE "C" NOT NULL)""",
    "CREATE INDEX audit_screening ON audit (screening, id)",
    # A new row must take the next id and link to the last row's hash; nothing else
    # may change the trail. ERRCODE 23000: an integrity error, as SQLite's RAISE(ABORT).
    f"""CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.id IS DISTINCT FROM (SELECT coalesce(max(id), 0) + 1 FROM audit)
                   OR NEW.prev_hash IS DISTINCT FROM coalesce(
                       (SELECT hash FROM audit WHERE id = NEW.id - 1), '{GENESIS_HASH}') THEN
                    RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: a new row must follow the last one'
                        USING ERRCODE = '23000';
                END IF;
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = '23000';
        END $$""",
    """CREATE TRIGGER audit_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit
            FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
    'CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL)',
)
"""The same on PostgreSQL: one PL/pgSQL trigger function refuses UPDATE, DELETE, TRUNCATE and
any INSERT that is not a proper append (schema version 1, storage/migrations)."""

AUDIT_DDL: Final = "".join(f"{statement};\n" for statement in AUDIT_STATEMENTS)
"""The same schema as one script (``executescript``)."""


@dataclass(frozen=True)
class AuditEntry:
    """One change of state: who did what, when, to which screening, old → new, and why."""

    at: datetime
    actor: str
    action: str
    screening: str | None = None
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verification; ``problem`` is one line naming the first bad row."""

    ok: bool
    rows_checked: int
    last_id: int
    first_bad_id: int | None
    problem: str | None


def format_timestamp(at: datetime) -> str:
    """UTC, microseconds, 'Z': one spelling per instant, so the hash does not depend on a zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit time must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a stored ``at`` value (for display and exports)."""
    return datetime.strptime(text, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _encode(row_id: int, values: dict[str, str | None]) -> bytes:
    # JSON escapes every quote, backslash and control character and names every key, so no
    # two different rows encode alike; sort_keys and fixed separators make it byte-stable.
    document: dict[str, Any] = {"v": _ENCODING_VERSION, "id": row_id, **values}
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_entry(entry: AuditEntry) -> None:
    """Refuse what would not survive a round trip through a TEXT column unchanged."""
    if not isinstance(entry.at, datetime):
        raise TypeError("audit time must be a datetime")
    format_timestamp(entry.at)  # aware?
    for name in ("actor", "action"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"audit {name} must be a non-empty string")
    for name in ("screening", "field", "old_value", "new_value", "reason"):
        value = getattr(entry, name)
        if value is not None and not isinstance(value, str):
            # A number would be stored as text and then no longer match its hash.
            raise TypeError(f"audit {name} must be a string or None, not {type(value).__name__}")


def _entry_values(entry: AuditEntry, prev_hash: str) -> dict[str, str | None]:
    return {
        "at": format_timestamp(entry.at),
        "actor": entry.actor,
        "screening": entry.screening,
        "action": entry.action,
        "field": entry.field,
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "reason": entry.reason,
        "prev_hash": prev_hash,
    }


def canonical_encoding(row_id: int, entry: AuditEntry, prev_hash: str) -> bytes:
    """The exact bytes that are hashed: deterministic, and different for any two rows."""
    if isinstance(row_id, bool) or not isinstance(row_id, int):
        raise TypeError("audit row id must be an int")
    if not isinstance(prev_hash, str):
        raise TypeError("prev_hash must be a string")
    _check_entry(entry)
    return _encode(row_id, _entry_values(entry, prev_hash))


def compute_hash(row_id: int, entry: AuditEntry, prev_hash: str) -> str:
    """The row's hash: SHA-256 (hex) of its canonical encoding, which includes ``prev_hash``."""
    return hashlib.sha256(canonical_encoding(row_id, entry, prev_hash)).hexdigest()


def _fetch(
    conn: Connection, sql: str, parameters: Mapping[str, object] | None = None
) -> list[tuple[Any, ...]]:
    """The rows as plain tuples (columns by position)."""
    return [tuple(row) for row in execute(conn, sql, parameters)]


def has_rows(conn: Connection) -> bool:
    """Whether the trail holds any row (a database already in use)."""
    rows = _fetch(conn, "SELECT 1 FROM audit LIMIT 1")
    return bool(rows)


def append_audit(conn: Connection, entry: AuditEntry) -> int:
    """Append one row to the trail and return its id.

    Runs inside the caller's write transaction (``Database.write``), so the row
    is committed or rolled back together with the change it records; it never commits.
    """
    (row_id,) = append_audit_many(conn, (entry,))
    return row_id


def append_audit_many(conn: Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """Append rows in order, each chained to the one before; same transaction rule as above."""
    if not entries:
        return []
    if not in_transaction(conn):
        raise RuntimeError(
            "append_audit must run inside the caller's write transaction (Database.write)"
        )
    for entry in entries:
        _check_entry(entry)
    last = _fetch(conn, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
    row_id, prev_hash = (int(last[0][0]), str(last[0][1])) if last else (0, GENESIS_HASH)
    ids: list[int] = []
    rows: list[dict[str, object]] = []
    for entry in entries:
        row_id += 1
        values = _entry_values(entry, prev_hash)
        row_hash = hashlib.sha256(_encode(row_id, values)).hexdigest()
        ids.append(row_id)
        rows.append({"id": row_id, **values, "hash": row_hash})
        prev_hash = row_hash
    execute_many(conn, f"INSERT INTO audit ({_COLUMNS}) VALUES ({_MARKS})", rows)
    return ids


# The verifier reads text columns as bytes, with their types, and decodes them itself: a
# tampered row (a BLOB, invalid UTF-8) must be reported as such, not crash the verification.
def _as_bytes(conn: Connection, name: str) -> str:
    """A text column read as its stored bytes."""
    if dialect(conn) == "postgresql":
        return f"convert_to({name}, 'UTF8')"
    return f"CAST({name} AS BLOB)"


def _raw_columns(conn: Connection) -> str:
    """id, then each text column as (bytes, type). PostgreSQL's columns are typed TEXT, so a
    value there is text or NULL; SQLite's may hold anything, hence typeof()."""
    if dialect(conn) == "postgresql":
        kinds = [f"CASE WHEN {name} IS NULL THEN 'null' ELSE 'text' END" for name in _TEXT_COLUMNS]
    else:
        kinds = [f"typeof({name})" for name in _TEXT_COLUMNS]
    pairs = (
        f"{_as_bytes(conn, name)}, {kind}" for name, kind in zip(_TEXT_COLUMNS, kinds, strict=True)
    )
    return "id, " + ", ".join(pairs)


_SQLITE_CODECS: Final = {"UTF-8": "utf-8", "UTF-16le": "utf-16-le", "UTF-16be": "utf-16-be"}


def _codec(conn: Connection) -> str:
    if dialect(conn) == "postgresql":
        return "utf-8"  # convert_to(…, 'UTF8') above
    rows = _fetch(conn, "PRAGMA encoding")
    return _SQLITE_CODECS.get(str(rows[0][0]) if rows else "UTF-8", "utf-8")


def _decode(raw: tuple[Any, ...], codec: str) -> tuple[tuple[Any, ...], str | None]:
    """(id, at, …, prev_hash, hash) as stored, or a problem naming the row and column."""
    row_id = int(raw[0])
    values: list[str | None] = []
    for index, name in enumerate(_TEXT_COLUMNS):
        data, kind = raw[1 + 2 * index], raw[2 + 2 * index]
        if kind == "null":
            values.append(None)
        elif kind != "text":
            return (), f"row {row_id}: column {name} holds a non-text value ({kind})"
        else:
            try:
                values.append(bytes(data).decode(codec))
            except UnicodeDecodeError:
                return (), f"row {row_id}: column {name} holds text that is not valid Unicode"
    return (row_id, *values), None


def _content_problem(row: tuple[Any, ...]) -> str | None:
    """Why a decoded row does not match its own hash, or None if it does."""
    row_id = row[0]
    values: dict[str, str | None] = dict(zip(_TEXT_COLUMNS, row[1:], strict=True))
    stored_hash = values.pop("hash")
    try:
        encoded = _encode(row_id, values)
    except UnicodeEncodeError:  # lone surrogates, from a database in UTF-16
        return f"row {row_id}: a column holds text that is not valid Unicode"
    if hashlib.sha256(encoded).hexdigest() != stored_hash:
        return f"row {row_id}: hash does not match its contents"
    return None


def _rows(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}–{last}"


def _gap_problem(last_id: int, next_id: int) -> str:
    return f"{_rows(last_id + 1, next_id - 1)} missing (ids jump from {last_id} to {next_id})"


def _failure(checked: int, last_id: int, bad_id: int, problem: str) -> VerifyResult:
    return VerifyResult(
        ok=False, rows_checked=checked, last_id=last_id, first_bad_id=bad_id, problem=problem
    )


def _walk(conn: Connection, after_id: int, after_hash: str) -> tuple[VerifyResult, str]:
    """Verify rows after ``after_id`` in id order; also return the last verified hash."""
    if after_id == 0:
        stray = _fetch(conn, "SELECT id FROM audit WHERE id < 1 ORDER BY id LIMIT 1")
        if stray:
            bad = int(stray[0][0])
            return _failure(0, 0, bad, f"row {bad}: id out of range (ids start at 1)"), after_hash
    codec = _codec(conn)
    checked, last_id, last_hash = 0, after_id, after_hash
    while True:
        # Keyset pages: each batch is a complete statement, so appends meanwhile are harmless.
        batch = _fetch(
            conn,
            f"SELECT {_raw_columns(conn)} FROM audit WHERE id > :after_id ORDER BY id "
            "LIMIT :batch_size",
            {"after_id": last_id, "batch_size": _BATCH_SIZE},
        )
        for raw in batch:
            row_id = int(raw[0])
            if row_id != last_id + 1:
                problem = _gap_problem(last_id, row_id)
                return _failure(checked, last_id, last_id + 1, problem), last_hash
            row, decode_problem = _decode(raw, codec)
            if decode_problem is not None:
                return _failure(checked, last_id, row_id, decode_problem), last_hash
            if row[9] != last_hash:
                problem = f"row {row_id}: previous-hash link broken"
                return _failure(checked, last_id, row_id, problem), last_hash
            content_problem = _content_problem(row)
            if content_problem is not None:
                return _failure(checked, last_id, row_id, content_problem), last_hash
            checked, last_id, last_hash = checked + 1, row_id, str(row[10])
        if len(batch) < _BATCH_SIZE:
            result = VerifyResult(
                ok=True, rows_checked=checked, last_id=last_id, first_bad_id=None, problem=None
            )
            return result, last_hash


def verify_chain(
    conn: Connection, after_id: int = 0, after_hash: str | None = None
) -> VerifyResult:
    """Recompute every hash and link after ``after_id``, streaming; name the first bad row.

    ``after_hash`` is the hash of row ``after_id`` as known from an earlier verification; when
    None (and ``after_id`` > 0) the stored hash of that row is trusted. Only rows after
    ``after_id`` are checked: an edit of an older row shows only when verifying from 0.
    """
    if after_id < 0:
        raise ValueError("after_id must be >= 0")
    if after_hash is None:
        if after_id == 0:
            after_hash = GENESIS_HASH
        else:
            start = _fetch(
                conn,
                f"SELECT {_as_bytes(conn, 'hash')} FROM audit WHERE id = :after_id",
                {"after_id": after_id},
            )
            if not start:
                return _failure(0, after_id, after_id, f"row {after_id} missing")
            after_hash = bytes(start[0][0] or b"").decode("utf-8", errors="replace")
    result, _ = _walk(conn, after_id, after_hash)
    return result


def _read_checkpoint(conn: Connection) -> tuple[int, str] | None:
    rows = _fetch(
        conn,
        "SELECT key, value FROM meta WHERE key IN (:id_key, :hash_key)",
        {"id_key": _CHECKPOINT_ID_KEY, "hash_key": _CHECKPOINT_HASH_KEY},
    )
    values = {str(key): value for key, value in rows}
    row_id, row_hash = values.get(_CHECKPOINT_ID_KEY), values.get(_CHECKPOINT_HASH_KEY)
    if not isinstance(row_id, str) or not isinstance(row_hash, str):
        return None
    try:
        parsed = int(row_id)
    except ValueError:
        return None  # unreadable: as if there were none, i.e. verify everything
    return (parsed, row_hash) if parsed >= 1 else None


def _write_checkpoint(conn: Connection, row_id: int, row_hash: str) -> None:
    """Store both keys in one statement, in the caller's transaction (never a commit here)."""
    execute(
        conn,
        "INSERT INTO meta (key, value) VALUES (:id_key, :row_id), (:hash_key, :row_hash) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"id_key": _CHECKPOINT_ID_KEY, "row_id": str(row_id),
         "hash_key": _CHECKPOINT_HASH_KEY, "row_hash": row_hash},
    )  # fmt: skip


def checkpoint_problem(conn: Connection) -> str | None:
    """Whether the trail still holds the row recorded by the last incremental verification,
    with the same hash (None: it does, or there is no checkpoint yet)."""
    checkpoint = _read_checkpoint(conn)
    if checkpoint is None:
        return None
    row_id, row_hash = checkpoint
    rows = _fetch(
        conn, f"SELECT {_as_bytes(conn, 'hash')} FROM audit WHERE id = :row_id", {"row_id": row_id}
    )
    if not rows:
        return (
            f"row {row_id} was verified before (checkpoint) but is now missing:"
            " rows were removed from the end of the trail"
        )
    if bytes(rows[0][0] or b"").decode("utf-8", errors="replace") != row_hash:
        return (
            f"row {row_id}: hash differs from the one recorded when it was verified"
            " (checkpoint): the trail was rewritten"
        )
    return None


def verify_incremental(conn: Connection) -> VerifyResult:
    """Verify only the rows added since the last successful run, so start-up stays fast.

    The checkpoint (``meta``: ``audit_verified_id``, ``audit_verified_hash``) is advanced by
    one statement in the caller's transaction (the bot's start-up: ``Database.write``, under
    the write lock): it commits or rolls back with it. The checkpoint row itself is
    re-checked: if it no longer matches its hash, the whole trail is verified from row 1; if
    it is missing, or its hash differs from the one recorded, the trail was truncated or
    rewritten and the result is a failure. Edits of rows *before* the checkpoint are not seen
    here — run :func:`verify_chain` from 0 (``lysyme-bot verify-audit``) for that.
    """
    checkpoint = _read_checkpoint(conn)
    if checkpoint is None:
        after_id, after_hash = 0, GENESIS_HASH
    else:
        after_id, after_hash = checkpoint
        raw = _fetch(
            conn,
            f"SELECT {_raw_columns(conn)} FROM audit WHERE id = :after_id",
            {"after_id": after_id},
        )
        row, problem = _decode(raw[0], _codec(conn)) if raw else ((), "missing")
        if problem is not None or _content_problem(row) is not None or row[10] != after_hash:
            full = verify_chain(conn)
            if not full.ok:
                return full
            if not raw:
                problem = (
                    f"{_rows(full.last_id + 1, after_id)} verified before but now missing:"
                    " the trail was truncated"
                )
                return _failure(full.rows_checked, full.last_id, full.last_id + 1, problem)
            problem = (
                f"row {after_id}: hash differs from the one recorded when it was verified:"
                " the trail was rewritten up to here, or the checkpoint edited"
            )
            return _failure(full.rows_checked, after_id - 1, after_id, problem)
    result, last_hash = _walk(conn, after_id, after_hash)
    if result.ok and result.last_id > after_id:
        _write_checkpoint(conn, result.last_id, last_hash)
    return result
