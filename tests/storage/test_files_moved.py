"""Files that move under the bot (issue 23), as an operator meets them: the -wal or -shm
deleted or replaced while the bot runs; a file that is no LYSYME database given to every
command; a database file without its anchor (an older backup put back, the anchor deleted),
refused until `lysyme-bot init --adopt`; an anchor that cannot be written after a commit."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage import db as db_module
from storage.anchor import anchor_path, read_anchor
from storage.audit import AuditEntry, append_audit
from storage.db import Database
from storage.errors import StorageGone
from storage.open import open_database
from tests.storage.test_anchor import (
    NOW,
    audit_count,
    lysyme_bot,
    lysyme_bot_process,
    make_database,
    refused,
)


async def _note(db: Database, text: str) -> None:
    await db.write(append_audit, AuditEntry(NOW, "test", "note", new_value=text))


@pytest.mark.parametrize("suffix", ["-wal", "-shm"])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_journal_file_that_moves_pauses_writes_before_the_next_one(
    tmp_path: Path, suffix: str, how: str
) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    told: list[str] = []
    db.on_gone = told.append
    try:
        await _note(db, "before")
        _move(Path(f"{path}{suffix}"), how)
        with pytest.raises(StorageGone, match=f"journal file .*{suffix} was {how}"):
            await _note(db, "after")  # refused before anything is written: nothing saved
        assert len(told) == 1 and suffix in told[0]  # the admins are told (bot/app.py), once
        with pytest.raises(StorageGone):
            await db.write(_write_note)
        assert len(told) == 1
    finally:
        await db.close()


def _move(journal: Path, how: str) -> None:
    assert journal.exists()
    if how == "deleted":
        journal.unlink()
    else:  # a copy put in its place (another inode)
        shutil.copy(journal, f"{journal}.copy")
        os.replace(f"{journal}.copy", journal)


def _put_back_older(path: Path, older: Path) -> None:
    """The older copy moved over the database, the anchor deleted."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(older, path)
    anchor_path(path).unlink()


def _write_note(conn: Connection) -> None:
    append_audit(conn, AuditEntry(NOW, "test", "note", new_value="run"))


async def test_a_wal_deleted_during_a_transaction_is_not_reported_as_saved(
    tmp_path: Path,
) -> None:
    """The -wal deleted between the check before a transaction and its commit: the commit
    went into a deleted file (lost with the process), so the caller is told it failed."""
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    told: list[str] = []
    db.on_gone = told.append
    try:
        await _note(db, "before")

        def delete_the_wal_then_write(conn: Connection) -> None:
            os.unlink(f"{path}-wal")
            append_audit(conn, AuditEntry(NOW, "test", "note", new_value="during"))

        with pytest.raises(StorageGone, match="-wal was deleted"):
            await db.write(delete_the_wal_then_write)
        assert len(told) == 1
    finally:
        await db.close()


async def test_an_anchor_that_cannot_be_written_after_a_commit_is_a_fault_not_a_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The anchor moved after every commit (its period is tested in test_write_api.py).
    monkeypatch.setattr(db_module, "ANCHOR_EVERY", 0.0)
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    faults: list[str] = []
    db.on_fault = faults.append
    try:
        await _note(db, "one")
        anchor = anchor_path(path)
        anchor.unlink()
        anchor.mkdir()  # the anchor cannot be replaced any more (as when made immutable)
        await _note(db, "two")  # no exception: the answer was saved, and is
        await db.write(_write_note)
        assert len(faults) == 1 and "could not be written" in faults[0]  # told once
        assert "is saved" in faults[0]
    finally:
        await db.close()
    assert audit_count(path) == 3  # every note saved
    anchor.rmdir()


def test_a_file_that_is_no_lysyme_database_is_refused_in_one_line_by_every_command(
    tmp_path: Path,
) -> None:
    text_file = tmp_path / "notes.sqlite3"
    text_file.write_text("this is a shopping list, not a database\n" * 20)
    no_tables = tmp_path / "empty.sqlite3"
    sqlite3.connect(no_tables).execute("PRAGMA user_version=1").connection.close()
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things(id INTEGER)")
    conn.close()
    (tmp_path / "out").mkdir()
    # The commands run in this process (`bot.cli.command_line`, as the console script calls it): 21
    # interpreters less; one real process per file below checks what a shell sees.
    for path, why in ((text_file, "not a SQLite"), (no_tables, "no tables"),
                      (other, "no meta, audit, screenings table")):  # fmt: skip
        for command in (["verify-audit"], ["backup", str(tmp_path / "out")],
                        ["export", str(tmp_path / "out")], ["stats", str(tmp_path / "out")],
                        ["migrate"], ["run"], ["init", "--adopt"]):  # fmt: skip
            result = lysyme_bot(path, *command)  # in this process (tests/cli_in_process.py)
            if command == ["run"] and "TELEGRAM_BOT_TOKEN" in result.stderr:
                continue  # refused earlier without a token: see the check below
            refused(result, "is not a LYSYME database", why)
        shell = lysyme_bot_process(path, "verify-audit")  # one line, no traceback
        refused(shell, "is not a LYSYME database", why)
        assert shell.stderr.startswith("verify-audit: ")


def test_an_older_backup_put_back_without_its_anchor_is_refused_until_adopted(
    tmp_path: Path,
) -> None:
    """(A plain `def`: the commands run in this process, and call `asyncio.run`.)"""
    path = tmp_path / "bot.sqlite3"
    older = tmp_path / "older.sqlite3"

    async def older_copy_then_four_more_answers() -> None:
        await make_database(path, 2)
        shutil.copy(path, older)
        db = await open_database(path)
        for n in range(4):  # four more acknowledged answers
            await _note(db, f"later {n}")
        await db.close()

    asyncio.run(older_copy_then_four_more_answers())
    _put_back_older(path, older)

    for command in ("migrate", "console"):
        refused(lysyme_bot(path, command), "has no anchor file", "lysyme-bot init --adopt")
    with pytest.raises(Exception, match="init --adopt"):
        asyncio.run(open_database(path))
    # verify-audit no longer says "intact": the end of the trail cannot be checked.
    checked = lysyme_bot(path, "verify-audit")
    assert checked.returncode == 1 and "intact" not in checked.stdout
    assert "no anchor file" in checked.stdout and "init --adopt" in checked.stdout

    # The one deliberate way: adopted as it is, audited, anchored.
    adopted = lysyme_bot(path, "init", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    assert "adopted as it is" in adopted.stdout
    with sqlite3.connect(path) as conn:
        action, reason = conn.execute(
            "SELECT action, reason FROM audit ORDER BY id DESC LIMIT 1"
        ).fetchone()
    conn.close()
    assert action == "database_adopted" and "init --adopt" in reason
    anchor = read_anchor(anchor_path(path))
    assert anchor is not None and anchor.audit_rows == audit_count(path)
    assert lysyme_bot(path, "migrate").returncode == 0
    verified = lysyme_bot(path, "verify-audit")
    assert verified.returncode == 0 and "intact" in verified.stdout
    # Nothing to adopt twice; --adopt and --force never together.
    refused(lysyme_bot(path, "init", "--adopt"), "nothing to adopt")
    refused(lysyme_bot(path, "init", "--adopt", "--force"), "choose one")
