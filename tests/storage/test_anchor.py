"""A database that cannot be swapped silently (storage/anchor.py), as an operator meets it:
`migrate` / `console` / `verify-audit` / `init` on a deleted, replaced, older or rewritten
database (in this process, through `bot.cli.command_line`; one real process checks what a shell sees);
and the anchor following every commit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection

from storage.anchor import anchor_path, read_anchor
from storage.audit import AuditEntry, append_audit, compute_hash
from storage.open import open_database
from tests.cli_in_process import lysyme_bot_in_process

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def lysyme_bot(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database`, in this process (tests/cli_in_process.py): 16
    interpreters less. `lysyme_bot_process` runs one where what a shell sees is checked."""
    return lysyme_bot_in_process(
        *args, env={"LYSYME_DATABASE": str(database), "LYSYME_LANGUAGE": "en"}
    )


def lysyme_bot_process(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database` in a new process."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(database.parent),
        "LYSYME_DATABASE": str(database),
        "LYSYME_LANGUAGE": "en",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def make_database(path: Path, rows: int) -> None:
    db = await open_database(path)
    try:
        for n in range(rows):
            await db.write(append_audit, AuditEntry(NOW, "test", "note", new_value=str(n)))
    finally:
        await db.close()


def audit_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM audit").fetchone()
    conn.close()
    return int(count)


def names_in(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()]


def loosen(path: Path) -> None:
    """What an older version (or a copy) left: the database and its WAL world-readable."""
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        if file.exists():
            os.chmod(file, 0o644)


def modes(path: Path) -> dict[str, int]:
    files = {suffix: Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", ".anchor")}
    return {s: stat.S_IMODE(f.stat().st_mode) for s, f in files.items() if f.exists()}


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


async def test_the_anchor_follows_every_commit_that_appends_audit_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await make_database(path, 3)
    anchor = read_anchor(anchor_path(path))
    assert anchor is not None and anchor.audit_rows == 3
    with sqlite3.connect(path) as conn:
        (head,) = conn.execute("SELECT hash FROM audit WHERE id=3").fetchone()
        (database_id,) = conn.execute("SELECT value FROM meta WHERE key='database_id'").fetchone()
    conn.close()
    assert (anchor.audit_head, anchor.database_id) == (head, database_id)
    assert stat.S_IMODE(anchor_path(path).stat().st_mode) == 0o600
    # Through a body of several statements (every screening answer) as well.
    db = await open_database(path)
    try:

        def body(conn: Connection) -> None:
            append_audit(conn, AuditEntry(NOW, "test", "note"))

        await db.write(body)
        moved = read_anchor(anchor_path(path))
        assert moved is not None and moved.audit_rows == 4
    finally:
        await db.close()


def test_a_deleted_database_is_refused_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(make_database(path, 2))
    path.unlink()
    for command in ("migrate", "console"):
        refused(lysyme_bot(path, command), f"{command}: database {path} is missing", "init --force")
    assert not path.exists()


def test_another_database_moved_in_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    other = tmp_path / "other.sqlite3"
    asyncio.run(make_database(path, 2))
    asyncio.run(make_database(other, 5))
    shutil.copyfile(other, path)
    # A real process: what a shell sees (exit 2, one line, no traceback).
    refused(lysyme_bot_process(path, "migrate"), "is not the database its anchor", "restore")


def test_an_older_copy_or_a_truncated_trail_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    backup = tmp_path / "older.sqlite3"
    asyncio.run(make_database(path, 2))
    shutil.copyfile(path, backup)
    asyncio.run(make_database(path, 3))  # five rows now
    shutil.copyfile(backup, path)  # the backup moved over the live file
    refused(lysyme_bot(path, "migrate"), "has 2 audit rows but its anchor recorded 5")
    verify = lysyme_bot(path, "verify-audit")
    assert verify.returncode == 1 and "anchor recorded 5" in verify.stdout, verify


def test_a_rewritten_and_rehashed_trail_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(make_database(path, 4))
    # Edit row 2 and recompute every hash after it: the chain alone is intact again.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_append_only_update")
        rows = conn.execute("SELECT id, at, actor, action FROM audit ORDER BY id").fetchall()
        previous = "0" * 64
        for row_id, at, actor, action in rows:
            value = "forged" if row_id == 2 else str(row_id - 1)
            entry = AuditEntry(
                dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC),
                actor,
                action,
                new_value=value,
            )
            new_hash = compute_hash(row_id, entry, previous)
            conn.execute(
                "UPDATE audit SET new_value=?, prev_hash=?, hash=? WHERE id=?",
                (value, previous, new_hash, row_id),
            )
            previous = new_hash
    conn.close()
    verify = lysyme_bot(path, "verify-audit")
    assert verify.returncode == 1, verify
    assert "audit row 4 differs from the head its anchor recorded" in verify.stdout
    refused(lysyme_bot(path, "migrate"), "the trail was rewritten")


def test_rows_removed_from_the_end_fail_verification_by_the_checkpoint_too(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(make_database(path, 4))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_verified_id', '4'),"
            " ('audit_verified_hash', (SELECT hash FROM audit WHERE id=4))"
        )
        conn.execute("DROP TRIGGER audit_append_only_delete")
        conn.execute("DELETE FROM audit WHERE id > 2")
    conn.close()
    anchor_path(path).unlink()  # even without the anchor
    verify = lysyme_bot(path, "verify-audit")
    assert verify.returncode == 1, verify
    assert "row 4 was verified before (checkpoint) but is now missing" in verify.stdout


def test_init_starts_anew_only_when_asked_and_keeps_the_old_files(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(make_database(path, 3))
    refused(lysyme_bot(path, "init"), "already exists", "init --force")
    assert audit_count(path) == 3
    path.unlink()  # lost: the operator starts anew deliberately
    done = lysyme_bot(path, "init", "--force")
    assert done.returncode == 0, done.stderr
    assert audit_count(path) == 1  # a fresh trail: "database_created"
    kept = [name for name in names_in(tmp_path) if ".replaced-" in name]
    assert any(name.endswith(".anchor") for name in kept)  # the old anchor, set aside
    assert lysyme_bot(path, "migrate").returncode == 0
    fresh = tmp_path / "fresh.sqlite3"
    assert lysyme_bot(fresh, "init").returncode == 0  # nothing there: no --force needed


def test_a_missing_folder_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "bot.sqlite3"
    for command in ("migrate", "console", "init"):
        refused(lysyme_bot(path, command), "does not exist")
    assert not path.parent.exists()


async def test_existing_world_readable_files_are_tightened_at_open(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await make_database(path, 1)
    with sqlite3.connect(path) as conn:  # leaves a -wal behind while open
        conn.execute("PRAGMA journal_mode=WAL")
        loosen(path)
        db = await open_database(path)
        await db.close()
    conn.close()
    assert modes(path) == dict.fromkeys(modes(path), 0o600), modes(path)


def test_the_console_uses_its_own_demo_database_and_audits_its_admin(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LYSYME_LANGUAGE": "en"}
    session = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        input="/help\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert session.returncode == 0, session.stderr
    assert not (tmp_path / "lysyme.sqlite3").exists()  # the production default is untouched
    demo = tmp_path / "lysyme-demo.sqlite3"
    with sqlite3.connect(demo) as conn:
        grants = conn.execute(
            "SELECT actor, field, new_value FROM audit WHERE action='user_added'"
        ).fetchall()
    conn.close()
    assert grants == [("console", "0", "admin")]


@pytest.mark.parametrize("token", ["123456:TEST", "not a token"])
def test_a_rejected_or_malformed_token_is_one_line_without_the_token(
    tmp_path: Path, token: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LYSYME_DATABASE": str(tmp_path / "bot.sqlite3"),
        # Nothing listens there: a well-formed token fails at getMe (refused connection is
        # not a rejection), so the rejection itself is checked against the fake server in
        # tests/e2e/test_intake_e2e.py; here, the malformed one.
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # README: errors exit 2, Telegram unreachable too
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and token not in result.stderr
    if token == "not a token":
        assert result.returncode == 2 and "malformed" in result.stderr
    else:
        assert "cannot reach Telegram" in result.stderr


def test_anchor_file_is_json_with_the_documented_keys(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    assert lysyme_bot(path, "init").returncode == 0
    document = json.loads(anchor_path(path).read_text(encoding="utf-8"))
    assert set(document) == {"database_id", "audit_rows", "audit_head", "updated_at"}
