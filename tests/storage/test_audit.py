"""The audit trail: append-only in the database, and any tampering named by the hash chain.

The chain's SQL runs on both backends (`db`: a SQLite file through an independent driver, or
a private PostgreSQL schema through storage's own connection); what only SQLite can store
(BLOBs, text of another type) is tried on SQLite alone (`sqlite_db`)."""

import itertools
import json
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from storage.audit import (
    AUDIT_DDL,
    AUDIT_STATEMENTS,
    AUDIT_STATEMENTS_POSTGRESQL,
    GENESIS_HASH,
    AuditEntry,
    append_audit,
    append_audit_many,
    canonical_encoding,
    compute_hash,
    format_timestamp,
    parse_timestamp,
    verify_chain,
    verify_incremental,
)
from storage.errors import StorageIntegrity
from storage.sql import dialect, execute, in_transaction
from tests.conftest import is_postgres, sqlite_only
from tests.storage.support import connect

#: A refused change: the driver's error as SQLAlchemy raises it on the plain connection these
#: tests open (outside `Database`), or storage's own if storage translated it.
REFUSED = (sqlalchemy.exc.IntegrityError, StorageIntegrity)

T0 = datetime(2026, 11, 24, 23, 10, 5, 123456, tzinfo=UTC)
TRIGGERS = ("audit_append_only_insert", "audit_append_only_update", "audit_append_only_delete")
#: The audit table's columns, in order (a whole row written by hand, as a forger would).
COLUMNS = ("id", "at", "actor", "screening", "action", "field", "old_value", "new_value",
           "reason", "prev_hash", "hash")  # fmt: skip
INSERT_ROW = f"INSERT INTO audit VALUES ({', '.join(f':{c}' for c in COLUMNS)})"


def as_row(values: Sequence[Any]) -> dict[str, Any]:
    """A whole row's values, named after its columns."""
    return dict(zip(COLUMNS, values, strict=True))


def insert_forged(db: Connection, row_id: int, forged: AuditEntry, prev: str) -> None:
    """What a forger writes with the triggers dropped: row `row_id` holding `forged`, linked
    to `prev`, its own hash computed right."""
    values = (row_id, format_timestamp(forged.at), forged.actor, forged.screening, forged.action,
              forged.field, forged.old_value, forged.new_value, forged.reason, prev,
              compute_hash(row_id, forged, prev))  # fmt: skip
    execute(db, INSERT_ROW, as_row(values))


def open_db(path: Path, *, create: bool = True) -> Connection:
    """A connection of the test's own to a SQLite file (autocommit, WAL, synchronous=FULL),
    holding the audit table."""
    db = connect(path)
    execute(db, "PRAGMA journal_mode = WAL")
    execute(db, "PRAGMA synchronous = FULL")
    execute(db, "PRAGMA busy_timeout = 5000")
    if create:
        for statement in AUDIT_STATEMENTS:
            execute(db, statement)
    return db


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Connection]:
    conn = open_db(tmp_path / "audit.sqlite3")
    yield conn
    conn.close()


def open_postgres(url: str) -> Connection:
    """The audit table, its append-only trigger and `meta` (schema version 1), on a PostgreSQL
    connection of the test's own (autocommit, like the SQLite one above)."""
    conn = connect(url)
    for statement in AUDIT_STATEMENTS_POSTGRESQL:
        execute(conn, statement)
    return conn


@pytest.fixture
def db(database_target: Path | str) -> Iterator[Connection]:
    """An autocommit connection to a database holding the audit table: SQLite or PostgreSQL."""
    if is_postgres(database_target):
        conn = open_postgres(str(database_target))
    else:
        conn = open_db(Path(database_target))
    yield conn
    conn.close()


def on_postgres(db: Connection) -> bool:
    return dialect(db) == "postgresql"


def begin(db: Any) -> None:
    """The write transaction the storage layer opens around an append."""
    execute(db, "BEGIN" if on_postgres(db) else "BEGIN IMMEDIATE")


def entry(n: int, **changes: Any) -> AuditEntry:
    base = AuditEntry(
        at=T0 + timedelta(seconds=n),
        actor="123456789",
        action="answer",
        screening="HMN-001",
        field=f"q{n}",
        old_value=None,
        new_value=f"value {n}",
    )
    return replace(base, **changes)


def append(db: Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """What the storage layer does: the audit rows commit with the change they record."""
    begin(db)
    ids = append_audit_many(db, entries)
    execute(db, "COMMIT")
    return ids


def append_n(db: Connection, count: int, start: int = 1) -> list[int]:
    return append(db, [entry(n) for n in range(start, start + count)])


def rows(db: Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in execute(db, "SELECT * FROM audit ORDER BY id").all()]


def drop_triggers(db: Connection) -> None:
    """What someone with the database file and the sqlite3 shell (or the PostgreSQL table's
    owner) can do."""
    if on_postgres(db):
        execute(db, "ALTER TABLE audit DISABLE TRIGGER USER")
        return
    for name in TRIGGERS:
        execute(db, f"DROP TRIGGER {name}")


def restore_triggers(db: Connection) -> None:
    if on_postgres(db):
        execute(db, "ALTER TABLE audit ENABLE TRIGGER USER")
        return
    for trigger in AUDIT_STATEMENTS[2:5]:
        execute(db, trigger)


def row_hash(db: Connection, row_id: int) -> str:
    found = execute(db, "SELECT hash FROM audit WHERE id = :id", {"id": row_id}).first()
    assert found is not None
    return str(found[0])


def row_entry(row: tuple[Any, ...]) -> AuditEntry:
    _id, at, actor, screening, action, field, old, new, reason, _prev, _hash = row
    return AuditEntry(parse_timestamp(at), actor, action, screening, field, old, new, reason)


# --- appending ---------------------------------------------------------------------------


def test_append_then_verify(db: Connection) -> None:
    first = append(db, [entry(1)])
    rest = append_n(db, 4, start=2)
    assert first + rest == [1, 2, 3, 4, 5]

    stored = rows(db)
    assert [r[0] for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0][1] == "2026-11-24T23:10:06.123456Z"
    assert stored[0][9] == GENESIS_HASH
    for before, after in itertools.pairwise(stored):
        assert after[9] == before[10]  # each row links to the one before
    for row in stored:
        assert row[10] == compute_hash(row[0], row_entry(row), row[9])

    result = verify_chain(db)
    assert result.ok and result.problem is None and result.first_bad_id is None
    assert (result.rows_checked, result.last_id) == (5, 5)


def test_append_audit_single_returns_id(db: Connection) -> None:
    begin(db)
    assert append_audit(db, entry(1, actor="system", action="reminder_sent")) == 1
    assert append_audit(db, entry(2)) == 2
    execute(db, "COMMIT")
    assert (verify_chain(db)).ok


def test_rows_roll_back_with_the_callers_transaction(db: Connection) -> None:
    begin(db)
    append_audit(db, entry(1))
    execute(db, "ROLLBACK")
    assert rows(db) == []
    assert append_n(db, 1) == [1]
    assert (verify_chain(db)).ok


def test_append_needs_the_callers_transaction(db: Connection) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        append_audit(db, entry(1))
    assert append_audit_many(db, []) == []
    assert rows(db) == []


@sqlite_only
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"at": datetime(2026, 11, 24, 12, 0)}, ValueError),  # naive: which zone?
        ({"actor": ""}, ValueError),
        ({"action": ""}, ValueError),
        ({"new_value": 1.73}, TypeError),  # would come back as the text "1.73"
        ({"screening": 1}, TypeError),
    ],
)
def test_bad_entries_are_refused_before_writing(
    db: Connection, changes: dict[str, Any], error: type[Exception]
) -> None:
    begin(db)
    with pytest.raises(error):
        append_audit_many(db, [entry(1), entry(2, **changes)])
    execute(db, "COMMIT")
    assert rows(db) == []


def test_timestamps_are_utc_with_microseconds() -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 25, 0, 10, 5, 7, tzinfo=paris)
    assert format_timestamp(at) == "2026-11-24T23:10:05.000007Z"
    assert parse_timestamp(format_timestamp(at)) == at
    assert format_timestamp(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"


def test_ddl_script_matches_the_statements() -> None:
    by_script, by_statement = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    by_script.executescript(AUDIT_DDL)
    for statement in AUDIT_STATEMENTS:
        by_statement.execute(statement)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert by_script.execute(schema).fetchall() == by_statement.execute(schema).fetchall()
    names = {name for _type, name, _sql in by_script.execute(schema)}
    assert names == {"audit", "meta", "audit_screening", "sqlite_autoindex_meta_1", *TRIGGERS}


# --- the database refuses changes -----------------------------------------------------------


def test_update_and_delete_are_refused(db: Connection) -> None:
    append_n(db, 3)
    with pytest.raises(REFUSED, match="append-only"):
        execute(db, "UPDATE audit SET new_value = 'edited' WHERE id = 2")
    with pytest.raises(REFUSED, match="append-only"):
        execute(db, "DELETE FROM audit WHERE id = 3")
    with pytest.raises(REFUSED, match="append-only"):
        execute(db, "DELETE FROM audit")
    assert len(rows(db)) == 3
    assert (verify_chain(db)).ok


def test_replace_and_out_of_chain_inserts_are_refused(db: Connection) -> None:
    """INSERT OR REPLACE deletes without firing DELETE triggers, hence the INSERT trigger."""
    append_n(db, 3)
    original = rows(db)
    forged = list(original[1])
    forged[7] = "forged"
    replace_row = (
        f"{INSERT_ROW} ON CONFLICT (id) DO UPDATE SET new_value = excluded.new_value"
        if on_postgres(db)
        else INSERT_ROW.replace("INSERT", "INSERT OR REPLACE", 1)
    )
    with pytest.raises(REFUSED, match="append-only"):
        execute(db, replace_row, as_row(forged))
    wrong_id = [10, *original[2][1:9], original[2][10], "x"]
    wrong_link = [4, *original[2][1:9], GENESIS_HASH, "x"]
    for values in (wrong_id, wrong_link):
        with pytest.raises(REFUSED, match="append-only"):
            execute(db, INSERT_ROW, as_row(values))
    assert rows(db) == original


# --- tampering by someone who dropped the triggers -----------------------------------------


def test_edited_row_is_named(db: Connection) -> None:
    append_n(db, 6)
    drop_triggers(db)
    execute(db, "UPDATE audit SET new_value = 'not eligible' WHERE id = 4")
    result = verify_chain(db)
    assert not result.ok
    assert result.first_bad_id == 4
    assert (result.last_id, result.rows_checked) == (3, 3)
    assert result.problem == "row 4: hash does not match its contents"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", "2026-11-24T23:10:09.123456+00:00"),  # the same instant, spelt differently
        ("actor", "987654321"),
        ("screening", None),
        ("action", "correction"),
        ("field", "q9"),
        ("old_value", "yes"),
        ("reason", ""),
        ("hash", "f" * 64),
    ],
)
def test_any_edited_column_is_detected(db: Connection, column: str, value: str | None) -> None:
    append_n(db, 4)
    drop_triggers(db)
    execute(db, f"UPDATE audit SET {column} = :value WHERE id = 3", {"value": value})
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id) == (False, 3)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("CAST(new_value AS BLOB)", "row 2: column new_value holds a non-text value (blob)"),
        ("17", "row 2: hash does not match its contents"),  # TEXT affinity: stored as '17'
        ("CAST(17 AS INTEGER) + 0.5", "row 2: hash does not match its contents"),
        ("CAST(x'ff00' AS TEXT)", "row 2: column new_value holds text that is not valid Unicode"),
    ],
)
def test_malformed_values_are_reported_not_crashed_on(
    sqlite_db: Connection, expression: str, problem: str
) -> None:
    """SQLite stores whatever it is given in a TEXT column; PostgreSQL's are typed."""
    db = sqlite_db
    append_n(db, 3)
    verify_incremental(db)
    drop_triggers(db)
    execute(db, f"UPDATE audit SET new_value = {expression} WHERE id = 2")
    execute(db, f"UPDATE audit SET new_value = {expression} WHERE id = 3")
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id, result.problem) == (False, 2, problem)
    result = verify_incremental(db)  # the checkpoint row (3) is bad: from the start
    assert (result.ok, result.first_bad_id, result.problem) == (False, 2, problem)


def test_deleted_middle_row_is_named_at_the_gap(db: Connection) -> None:
    append_n(db, 6)
    drop_triggers(db)
    execute(db, "DELETE FROM audit WHERE id = 3")
    result = verify_chain(db)
    assert not result.ok
    assert (result.first_bad_id, result.last_id) == (3, 2)
    assert result.problem == "row 3 missing (ids jump from 2 to 4)"

    execute(db, "DELETE FROM audit WHERE id IN (1, 4)")
    result = verify_chain(db)
    assert result.problem == "row 1 missing (ids jump from 0 to 2)"
    result = verify_chain(db, after_id=2)
    assert result.problem == "rows 3–4 missing (ids jump from 2 to 5)"


def test_forged_last_row_with_wrong_link_is_detected(db: Connection) -> None:
    append_n(db, 6)
    drop_triggers(db)
    execute(db, "DELETE FROM audit WHERE id = 6")
    forged = entry(6, new_value="eligible")
    wrong_prev = row_hash(db, 4)  # not row 5's hash
    insert_forged(db, 6, forged, wrong_prev)  # its own hash is right
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id, result.last_id) == (False, 6, 5)
    assert result.problem == "row 6: previous-hash link broken"


def test_edit_with_recomputed_hash_breaks_the_next_link(db: Connection) -> None:
    append_n(db, 6)
    drop_triggers(db)
    stored = (rows(db))[2]
    edited = replace(row_entry(stored), new_value="edited")
    execute(
        db,
        "UPDATE audit SET new_value = :new_value, hash = :hash WHERE id = 3",
        {"new_value": edited.new_value, "hash": compute_hash(3, edited, stored[9])},
    )
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id, result.last_id) == (False, 4, 3)
    assert result.problem == "row 4: previous-hash link broken"


def test_reordered_rows_are_detected(db: Connection) -> None:
    append_n(db, 4)
    drop_triggers(db)
    execute(db, "UPDATE audit SET id = id + 1000 WHERE id IN (2, 3)")
    execute(db, "UPDATE audit SET id = CASE id WHEN 1002 THEN 3 ELSE 2 END WHERE id > 1000")
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id) == (False, 2)


def test_inserted_row_is_detected(db: Connection) -> None:
    """A row slipped in (ids shifted up, the new row correctly linked) breaks the next link."""
    append_n(db, 4)
    drop_triggers(db)
    execute(db, "UPDATE audit SET id = id + 1000 WHERE id >= 3")
    execute(db, "UPDATE audit SET id = id - 999 WHERE id > 1000")
    forged = entry(3, new_value="forged")
    prev = row_hash(db, 2)
    insert_forged(db, 3, forged, prev)
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id, result.last_id) == (False, 4, 3)


def test_row_with_id_below_one_is_detected(db: Connection) -> None:
    append_n(db, 2)
    drop_triggers(db)
    if on_postgres(db):
        execute(db, "ALTER TABLE audit DROP CONSTRAINT audit_id_check")
    else:
        execute(db, "PRAGMA ignore_check_constraints = ON")
    execute(
        db,
        "INSERT INTO audit SELECT 0, at, actor, screening, action, field, old_value,"
        " new_value, reason, prev_hash, hash FROM audit WHERE id = 1",
    )
    result = verify_chain(db)
    assert (result.ok, result.first_bad_id) == (False, 0)


def test_verify_from_a_known_row(db: Connection) -> None:
    append_n(db, 5)
    known = row_hash(db, 2)
    result = verify_chain(db, after_id=2, after_hash=known)
    assert (result.ok, result.rows_checked, result.last_id) == (True, 3, 5)
    assert (verify_chain(db, after_id=2)).rows_checked == 3  # trusts row 2's hash
    result = verify_chain(db, after_id=2, after_hash="0" * 64)
    assert (result.ok, result.first_bad_id) == (False, 3)
    result = verify_chain(db, after_id=9)
    assert (result.ok, result.first_bad_id) == (False, 9)
    empty = verify_chain(db, after_id=5)
    assert (empty.ok, empty.rows_checked, empty.last_id) == (True, 0, 5)


def test_long_trail_is_verified_in_batches(db: Connection) -> None:
    append(db, [entry(n) for n in range(1, 2502)])
    result = verify_chain(db)
    assert (result.ok, result.rows_checked, result.last_id) == (True, 2501, 2501)
    drop_triggers(db)
    execute(db, "UPDATE audit SET actor = 'system' WHERE id = 2001")
    assert (verify_chain(db)).first_bad_id == 2001


def test_empty_trail_verifies(db: Connection) -> None:
    result = verify_chain(db)
    assert (result.ok, result.rows_checked, result.last_id) == (True, 0, 0)
    assert (verify_incremental(db)).ok


# --- incremental verification --------------------------------------------------------------


def checkpoint(db: Connection) -> dict[str, str]:
    return {key: value for key, value in execute(db, "SELECT key, value FROM meta").all()}


def test_incremental_stores_and_uses_the_checkpoint(db: Connection) -> None:
    append_n(db, 5)
    first = verify_incremental(db)
    assert (first.ok, first.rows_checked, first.last_id) == (True, 5, 5)
    assert checkpoint(db) == {
        "audit_verified_id": "5",
        "audit_verified_hash": row_hash(db, 5),
    }
    assert not in_transaction(db)

    append_n(db, 3, start=6)
    second = verify_incremental(db)
    assert (second.ok, second.rows_checked, second.last_id) == (True, 3, 8)
    assert (checkpoint(db))["audit_verified_id"] == "8"

    third = verify_incremental(db)
    assert (third.ok, third.rows_checked, third.last_id) == (True, 0, 8)


def test_incremental_checkpoint_is_one_autocommit_statement(
    db: Connection,
) -> None:
    """No BEGIN/COMMIT of its own: inside a caller's transaction it rolls back with it."""
    append_n(db, 2)
    begin(db)
    assert (verify_incremental(db)).ok
    assert in_transaction(db)  # not committed behind the caller's back
    execute(db, "ROLLBACK")
    assert checkpoint(db) == {}
    assert (verify_incremental(db)).rows_checked == 2
    assert not in_transaction(db)
    assert (checkpoint(db))["audit_verified_id"] == "2"


def test_incremental_catches_tampering_after_the_checkpoint(
    db: Connection,
) -> None:
    append_n(db, 4)
    verify_incremental(db)
    append_n(db, 3, start=5)
    drop_triggers(db)
    execute(db, "UPDATE audit SET new_value = 'x' WHERE id = 6")
    result = verify_incremental(db)
    assert (result.ok, result.first_bad_id, result.rows_checked, result.last_id) == (
        False,
        6,
        1,
        5,
    )
    assert (checkpoint(db))["audit_verified_id"] == "4"  # not advanced on failure


def test_incremental_does_not_see_edits_before_the_checkpoint(
    db: Connection,
) -> None:
    """By design: start-up checks only new rows; `verify-audit` (from row 1) sees everything."""
    append_n(db, 6)
    assert (verify_incremental(db)).ok
    drop_triggers(db)
    execute(db, "UPDATE audit SET new_value = 'edited' WHERE id = 2")

    incremental = verify_incremental(db)
    assert (incremental.ok, incremental.rows_checked) == (True, 0)

    full = verify_chain(db)
    assert (full.ok, full.first_bad_id) == (False, 2)


def test_incremental_rechecks_the_checkpoint_row(db: Connection) -> None:
    append_n(db, 6)
    verify_incremental(db)
    drop_triggers(db)
    execute(db, "UPDATE audit SET new_value = 'edited' WHERE id = 2")
    execute(db, "UPDATE audit SET new_value = 'edited' WHERE id = 6")
    result = verify_incremental(db)  # row 6 is edited: verify from the start
    assert (result.ok, result.first_bad_id) == (False, 2)


def test_incremental_detects_a_truncated_trail(db: Connection) -> None:
    append_n(db, 6)
    verify_incremental(db)
    drop_triggers(db)
    execute(db, "DELETE FROM audit WHERE id >= 5")

    assert (verify_chain(db)).ok  # the chain alone cannot see a cut end
    result = verify_incremental(db)
    assert (result.ok, result.first_bad_id, result.last_id) == (False, 5, 4)
    assert result.problem == "rows 5–6 verified before but now missing: the trail was truncated"


def test_incremental_detects_a_consistently_rewritten_tail(
    db: Connection,
) -> None:
    append_n(db, 6)
    verify_incremental(db)
    drop_triggers(db)
    execute(db, "DELETE FROM audit WHERE id >= 4")
    restore_triggers(db)  # the forger re-creates the triggers, even
    append(db, [entry(n, new_value="rewritten") for n in (4, 5, 6)])

    assert (verify_chain(db)).ok  # every hash recomputed: the chain is consistent
    result = verify_incremental(db)
    assert (result.ok, result.first_bad_id) == (False, 6)
    assert result.problem is not None and "rewritten" in result.problem


def test_unreadable_checkpoint_means_verify_everything(db: Connection) -> None:
    append_n(db, 3)
    execute(
        db, "INSERT INTO meta VALUES ('audit_verified_id', 'three'), ('audit_verified_hash', 'x')"
    )
    result = verify_incremental(db)
    assert (result.ok, result.rows_checked) == (True, 3)
    assert (checkpoint(db))["audit_verified_id"] == "3"


# --- encoding properties -------------------------------------------------------------------

TRICKY = st.sampled_from(
    ["", "null", "None", '"', "\\", "\x00", "a\x00b", '","new_value":"', "é", "é", "🧪🩹"]
)
TEXT = st.one_of(st.text(), TRICKY)
OPTIONAL_TEXT = st.one_of(st.none(), TEXT)
NON_EMPTY = st.one_of(st.text(min_size=1), TRICKY.filter(bool))
ZONES = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
MOMENTS = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=ZONES
)
ENTRIES = st.builds(
    AuditEntry,
    at=MOMENTS,
    actor=NON_EMPTY,
    action=NON_EMPTY,
    screening=OPTIONAL_TEXT,
    field=OPTIONAL_TEXT,
    old_value=OPTIONAL_TEXT,
    new_value=OPTIONAL_TEXT,
    reason=OPTIONAL_TEXT,
)
IDS = st.integers(min_value=1, max_value=2**62)
HASHES = st.one_of(st.just(GENESIS_HASH), st.text(alphabet="0123456789abcdef", min_size=64))


@given(IDS, ENTRIES, HASHES)
def test_encoding_is_deterministic_and_decodes_to_its_fields(
    row_id: int, item: AuditEntry, prev: str
) -> None:
    encoded = canonical_encoding(row_id, item, prev)
    assert encoded == canonical_encoding(row_id, replace(item), prev)
    decoded = json.loads(encoded.decode("utf-8"))  # decodable, hence injective
    assert decoded.pop("v") == 1
    assert decoded.pop("id") == row_id
    assert decoded.pop("prev_hash") == prev
    assert parse_timestamp(decoded.pop("at")) == item.at
    assert decoded == {f.name: getattr(item, f.name) for f in fields(item) if f.name != "at"}


@given(IDS, ENTRIES, HASHES, st.data())
def test_changing_anything_changes_the_encoding(
    row_id: int, item: AuditEntry, prev: str, data: st.DataObject
) -> None:
    part = data.draw(st.sampled_from(["id", "prev", *[f.name for f in fields(item)]]))
    other_id, other_item, other_prev = row_id, item, prev
    if part == "id":
        other_id = data.draw(IDS)
    elif part == "prev":
        other_prev = data.draw(HASHES)
    else:
        values = {"at": MOMENTS, "actor": NON_EMPTY, "action": NON_EMPTY}
        change: dict[str, Any] = {part: data.draw(values.get(part, OPTIONAL_TEXT))}
        other_item = replace(item, **change)
    assume((row_id, item, prev) != (other_id, other_item, other_prev))
    assert canonical_encoding(row_id, item, prev) != canonical_encoding(
        other_id, other_item, other_prev
    )
    assert compute_hash(row_id, item, prev) != compute_hash(other_id, other_item, other_prev)


@given(st.lists(ENTRIES, min_size=1, max_size=6), st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_text_round_trips_and_verifies(
    entries: list[AuditEntry], data: st.DataObject
) -> None:
    long_text = data.draw(st.sampled_from(["", "🩺\x00" * 50_000]))
    entries[0] = replace(entries[0], reason=(entries[0].reason or "") + long_text)

    def scenario(path: Path) -> None:
        conn = open_db(path)
        try:
            ids = append(conn, entries)
            assert ids == list(range(1, len(entries) + 1))
            assert [row_entry(row) for row in rows(conn)] == entries
            result = verify_chain(conn)
            assert (result.ok, result.rows_checked) == (True, len(entries))
        finally:
            conn.close()

    with tempfile.TemporaryDirectory() as folder:
        scenario(Path(folder) / "audit.sqlite3")
