"""Online backups: a whole, private, verifiable copy even while the bot keeps writing."""

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage.audit import AUDIT_STATEMENTS, AuditEntry, append_audit, verify_chain
from storage.backup import (
    BACKUP_NAME_RE,
    BackupError,
    backup_database,
    backup_file_name,
    backup_instant,
    prune_backups,
)
from storage.sql import execute
from tests.storage.support import connect

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


async def open_db(path: Path | str) -> Connection:
    """A connection of the test's own (autocommit), with the bot's pragmas."""
    conn = connect(path)
    execute(conn, "PRAGMA journal_mode = WAL")
    execute(conn, "PRAGMA synchronous = FULL")
    execute(conn, "PRAGMA busy_timeout = 5000")
    return conn


def _write_row(conn: Connection, n: int) -> None:
    execute(conn, "BEGIN IMMEDIATE")
    at = T0 + timedelta(seconds=n)
    append_audit(conn, AuditEntry(at, "42", "answer", "HMN-001", f"q{n}", None, str(n)))
    execute(conn, "COMMIT")


async def write_row(conn: Connection, n: int) -> None:
    """One acknowledged answer: the audit row commits with it (on a worker thread, as the
    bot's storage does, so the event loop — and a backup — go on meanwhile)."""
    await asyncio.to_thread(_write_row, conn, n)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "lysyme.sqlite3"


@pytest.fixture
async def bot_db(db_path: Path) -> AsyncIterator[Connection]:
    conn = await open_db(db_path)
    for statement in AUDIT_STATEMENTS:
        execute(conn, statement)
    for n in range(1, 11):
        await write_row(conn, n)
    yield conn
    conn.close()


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The worst case: a umask that would make new files world-readable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def audit_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return [row_id for (row_id,) in copy.execute("SELECT id FROM audit ORDER BY id")]


async def copy_verifies(path: Path) -> bool:
    copy = connect(path)
    try:
        return verify_chain(copy).ok
    finally:
        copy.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_backup_while_another_connection_keeps_writing(
    db_path: Path, bot_db: Connection, backups: Path, open_umask: None
) -> None:
    writer = await open_db(db_path)
    written: list[int] = []
    progress = asyncio.Event()
    stop = asyncio.Event()

    async def keep_writing() -> None:
        n = 11
        while not stop.is_set():
            await write_row(writer, n)
            written.append(n)
            n += 1
            progress.set()

    async def rows_written(count: int) -> None:
        target = len(written) + count
        while len(written) < target:
            progress.clear()
            await progress.wait()

    task = asyncio.create_task(keep_writing())
    try:
        await rows_written(5)
        path = await backup_database(str(db_path), backups)
        await rows_written(5)
    finally:
        stop.set()
        await task
        writer.close()

    assert path.parent == backups and BACKUP_NAME_RE.fullmatch(path.name)
    assert mode(path) == 0o600
    assert listing(backups) == [path.name]  # no temporary file left behind
    ids = audit_ids(path)
    assert len(ids) >= 15  # the ten before, and at least five written meanwhile
    assert ids == list(range(1, len(ids) + 1))  # a committed prefix, nothing half-written
    assert len(ids) < 10 + len(written)
    assert await copy_verifies(path)
    assert audit_ids(db_path) == list(range(1, 11 + len(written)))  # the source kept going


async def test_backup_does_not_wait_for_an_open_write_transaction(
    db_path: Path, bot_db: Connection, backups: Path
) -> None:
    writer = await open_db(db_path)
    try:
        execute(writer, "BEGIN IMMEDIATE")
        append_audit(writer, AuditEntry(T0, "42", "answer", "HMN-002", "q1", None, "yes"))
        path = await backup_database(db_path, backups)
        execute(writer, "COMMIT")
    finally:
        writer.close()
    assert audit_ids(path) == list(range(1, 11))  # the uncommitted answer is not in the copy
    assert await copy_verifies(path)


async def test_backup_through_the_bots_own_connection(
    bot_db: Connection, backups: Path, open_umask: None
) -> None:
    """Mid-transaction on that connection: the copy holds only what is committed."""
    execute(bot_db, "BEGIN IMMEDIATE")
    append_audit(bot_db, AuditEntry(T0, "42", "answer", "HMN-002", "q1", None, "yes"))
    target = backups / "manual.sqlite3"
    path = await backup_database(bot_db, target)
    execute(bot_db, "ROLLBACK")

    assert path == target and mode(path) == 0o600
    assert audit_ids(path) == list(range(1, 11))
    assert await copy_verifies(path)


async def test_backup_replaces_an_existing_file(
    db_path: Path, bot_db: Connection, backups: Path
) -> None:
    target = backups / "latest.sqlite3"
    target.write_text("stale")
    target.chmod(0o644)
    assert await backup_database(db_path, target) == target
    assert mode(target) == 0o600
    assert audit_ids(target) == list(range(1, 11))


async def test_backup_of_an_in_memory_database(backups: Path) -> None:
    conn = connect(":memory:")
    try:
        for statement in AUDIT_STATEMENTS:
            execute(conn, statement)
        await write_row(conn, 1)
        path = await backup_database(conn, backups)
        assert audit_ids(path) == [1]
        execute(conn, "BEGIN IMMEDIATE")
        with pytest.raises(BackupError, match="transaction"):
            await backup_database(conn, backups / "again.sqlite3")
        execute(conn, "ROLLBACK")
    finally:
        conn.close()
    assert listing(backups) == [path.name]


@pytest.mark.parametrize(
    "destination",
    ["missing/", "missing/copy.sqlite3", "missing/deeper/"],
)
async def test_missing_folder_is_a_clear_error(
    db_path: Path, bot_db: Connection, tmp_path: Path, destination: str
) -> None:
    with pytest.raises(BackupError, match="backup folder does not exist") as caught:
        await backup_database(db_path, f"{tmp_path}/{destination}")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "missing").exists()


async def test_other_bad_destinations_and_sources(
    db_path: Path, bot_db: Connection, tmp_path: Path, backups: Path
) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        await backup_database(tmp_path / "nowhere.sqlite3", backups)
    with pytest.raises(BackupError, match="database itself"):
        await backup_database(bot_db, db_path)
    os.mkfifo(backups / "a-pipe")
    with pytest.raises(BackupError, match="not a regular file"):
        await backup_database(db_path, backups / "a-pipe")
    assert listing(backups) == ["a-pipe"]


async def test_read_only_folder_is_a_clear_error(
    db_path: Path, bot_db: Connection, backups: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.chmod(backups, 0o500)
    if os.geteuid() == 0:
        # Root may write anywhere (CI runs as root): let the folder answer as it would to the
        # bot's unprivileged user.
        real_access = os.access
        monkeypatch.setattr(
            "storage.backup.os.access",
            lambda path, mode: False if Path(path) == backups else real_access(path, mode),
        )
    try:
        with pytest.raises(BackupError, match="not writable"):
            await backup_database(db_path, backups)
        assert listing(backups) == []
    finally:
        os.chmod(backups, 0o700)


def test_backup_names_are_local_time_with_their_offset() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 25, 0, 10, 5, tzinfo=paris)
    assert backup_file_name(moment, paris) == "lysyme-20261125-001005+0100.sqlite3"
    assert backup_file_name(moment) == "lysyme-20261124-231005+0000.sqlite3"  # no zone: UTC
    assert BACKUP_NAME_RE.fullmatch(backup_file_name())
    # The instant is read back from the name, old UTC names (no offset) included.
    assert backup_instant("lysyme-20261125-001005+0100.sqlite3") == moment
    assert backup_instant("lysyme-20261124-231005.sqlite3") == moment


def test_prune_orders_by_instant_across_the_autumn_dst_change(backups: Path) -> None:
    """02:30 summer time comes before 02:15 winter time (the hour repeats): pruning keeps the
    newest instant, not the greatest name."""
    older = "lysyme-20261025-023000+0200.sqlite3"  # 00:30 UTC
    newer = "lysyme-20261025-021500+0100.sqlite3"  # 01:15 UTC
    legacy = "lysyme-20261024-230000.sqlite3"  # an old UTC name, the oldest
    for name in (older, newer, legacy):
        (backups / name).write_bytes(b"")
    assert prune_backups(backups, keep=1) == [backups / legacy, backups / older]
    assert listing(backups) == [newer]


def test_prune_keeps_the_newest(backups: Path) -> None:
    names = [f"lysyme-202611{day:02d}-030000.sqlite3" for day in range(20, 26)]
    for name in reversed(names):
        (backups / name).write_bytes(b"")
    (backups / f"{names[0]}-wal").write_bytes(b"")
    untouchable = ["lysyme.sqlite3", "lysyme-main.sqlite3", "notes.txt", ".lysyme-backup-x.tmp"]
    for name in untouchable:
        (backups / name).write_bytes(b"")

    deleted = prune_backups(backups, keep=3)

    assert deleted == [backups / name for name in names[:3]]
    assert listing(backups) == sorted(names[3:] + untouchable)
    assert prune_backups(backups, keep=3) == []
    assert prune_backups(str(backups), keep=0) == [backups / name for name in names[3:]]
    assert listing(backups) == sorted(untouchable)


def test_prune_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        prune_backups(tmp_path, keep=-1)
    with pytest.raises(BackupError, match="does not exist"):
        prune_backups(tmp_path / "missing", keep=3)
