"""`lysyme-bot verify-audit` and `lysyme-bot backup`, as an operator runs them (a real process
for the first check and the console session; the others call the same entry point in this
process), on a database a real screening has written: intact → exit 0 and one line; deleting or
updating a row is refused by the triggers; an edit made after dropping the triggers → exit 1
naming that row; a backup is a private copy that verifies; a missing database → exit 2."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.fake_request import CLINICIAN, ELIGIBLE_MALE, Harness, answer_all
from tests.cli_in_process import lysyme_bot_in_process
from tests.conftest import day


def lysyme_bot(*args: str, database: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database`, in this process (tests/cli_in_process.py): ten
    interpreters less. `lysyme_bot_process` runs the operator's first check, and the console
    session below, as real processes."""
    return lysyme_bot_in_process(
        *args, env={"LYSYME_DATABASE": str(database), "LYSYME_LANGUAGE": "en"}, cwd=cwd
    )


def lysyme_bot_process(*args: str, database: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lysyme-bot ARGS` on `database` in a new process (the installed script)."""
    script = Path(sys.executable).with_name("lysyme-bot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "LYSYME_DATABASE": str(database),
        "LYSYME_LANGUAGE": "en",
    }
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
async def screened_db(tmp_path: Path) -> Path:
    """A whole eligible screening, then a second one abandoned half-way; database closed."""
    path = tmp_path / "trial.sqlite3"
    async with Harness.started(path) as bot:
        await bot.add_user(CLINICIAN, "clinician")
        await bot.text(CLINICIAN, "/screen")
        await answer_all(bot, CLINICIAN, ELIGIBLE_MALE)
        await bot.tap(CLINICIAN, "Confirm")
        assert "all criteria are met" in " ".join(bot.texts(CLINICIAN))
        await bot.text(CLINICIAN, "/screen")
        await bot.text(CLINICIAN, day(-2))
        await bot.text(CLINICIAN, "/cancel")
    return path


def audit_rows(path: Path) -> list[tuple[int, str, str | None, str | None]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, action, field, new_value FROM audit ORDER BY id").fetchall()


def test_intact_trail_verifies_with_a_one_line_summary(screened_db: Path, tmp_path: Path) -> None:
    rows = audit_rows(screened_db)
    actions = {action for _, action, _, _ in rows}
    assert {"user_added", "screening_opened", "answer", "outcome", "status"} <= actions
    answered = {field for _, action, field, _ in rows if action == "answer"}
    assert {"index_date", "age", "consent", "weight_kg"} <= answered
    result = lysyme_bot_process("verify-audit", database=screened_db, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"verify-audit: intact, {len(rows)} rows, last row {len(rows)}"
    assert result.stdout.count("\n") == 1 and result.stderr == ""


def test_deleting_or_updating_an_audit_row_is_refused(screened_db: Path, tmp_path: Path) -> None:
    before = audit_rows(screened_db)
    conn = sqlite3.connect(screened_db)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit WHERE id = 3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit SET new_value = '45' WHERE id = 3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                "INSERT OR REPLACE INTO audit SELECT * FROM audit WHERE id = 3"
            )  # a replace is a delete in disguise
        conn.commit()
    finally:
        conn.close()
    assert audit_rows(screened_db) == before
    assert lysyme_bot("verify-audit", database=screened_db, cwd=tmp_path).returncode == 0


def drop_triggers(conn: sqlite3.Connection) -> None:
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
        )
    ]
    assert len(names) == 3
    for name in names:
        conn.execute(f"DROP TRIGGER {name}")


def test_an_edit_behind_the_triggers_back_fails_at_that_row(
    screened_db: Path, tmp_path: Path
) -> None:
    rows = audit_rows(screened_db)
    target = next(r for r in rows if r[1] == "answer" and r[2] == "age")
    assert target[3] == "54"
    with sqlite3.connect(screened_db) as conn:
        drop_triggers(conn)
        conn.execute("UPDATE audit SET new_value = '45' WHERE id = ?", (target[0],))
    result = lysyme_bot("verify-audit", database=screened_db, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"verify-audit: first bad row {target[0]}:")
    assert f"row {target[0]}" in lines[0] and "Traceback" not in result.stderr


def test_a_deleted_row_behind_the_triggers_back_is_named(screened_db: Path, tmp_path: Path) -> None:
    with sqlite3.connect(screened_db) as conn:
        drop_triggers(conn)
        conn.execute("DELETE FROM audit WHERE id = 7")
    result = lysyme_bot("verify-audit", database=screened_db, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("verify-audit: first bad row 7:"), result.stdout


def test_backup_writes_a_private_copy_that_verifies(screened_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    result = lysyme_bot("backup", str(folder), database=screened_db, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    copy, sidecar = sorted(folder.iterdir())
    assert result.stdout.strip() == f"backup: written {copy}"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    # Beside it, the copy's audit head (what to restore as `<database>.anchor`).
    head = json.loads(sidecar.read_text(encoding="utf-8"))
    assert sidecar.name == f"{copy.name}.anchor" and stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    assert head["audit_rows"] == len(audit_rows(screened_db))
    verified = lysyme_bot("verify-audit", database=copy, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert audit_rows(copy) == audit_rows(screened_db)
    # To a file name as well.
    named = tmp_path / "named.sqlite3"
    assert lysyme_bot("backup", str(named), database=screened_db, cwd=tmp_path).returncode == 0
    assert stat.S_IMODE(named.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "args", [("verify-audit",), ("backup", "somewhere.sqlite3")], ids=["verify", "backup"]
)
def test_missing_database_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "nowhere" / "none.sqlite3"
    result = lysyme_bot(*args, database=missing, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and str(missing) in result.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_backup_into_a_missing_folder_is_one_line_and_exit_2(
    screened_db: Path, tmp_path: Path
) -> None:
    result = lysyme_bot("backup", str(tmp_path / "no" / "such" / "dir/"), database=screened_db,
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_console_screening_then_verify(tmp_path: Path) -> None:
    """The offline console writes through the same flows: its trail verifies too."""
    database = tmp_path / "console.sqlite3"
    script = Path(sys.executable).with_name("lysyme-bot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "LYSYME_DATABASE": str(database), "LYSYME_LANGUAGE": "en"}  # fmt: skip
    session = subprocess.run(
        [*command, "console"], input="/screen\nyesterday\ntoday\nyes\n54\n/cancel\n",
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert session.returncode == 0, session.stderr
    assert "Ward" in session.stdout
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    result = lysyme_bot("verify-audit", database=database, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    fields = [field for _, action, field, _ in audit_rows(database) if action == "answer"]
    assert fields == ["index_date", "admission_date", "diagnosis_confirmed", "age"]
