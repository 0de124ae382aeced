"""The daily automatic backup: what one run writes, when the scheduler runs it, what a
failure does — with an injected clock and an injected wait (no sleeping)."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from bot import app as bot_app
from bot import backups
from bot.app import open_context
from bot.backups import BackupScheduler, due_at_start, newest_backup, run_backup
from bot.common import Context
from storage.audit import VerifyResult, verify_chain
from storage.backup import backup_file_name
from storage.sql import fetch_all
from tests.bot.fake_request import ADMIN, FakeClock, Harness, settings_for

PARIS_MORNING = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    clock = FakeClock(PARIS_MORNING)
    settings = settings_for(
        tmp_path / "bot.sqlite3", LYSYME_BACKUP_DIR=str(tmp_path / "backups"),
        LYSYME_BACKUP_KEEP="3",
    )  # fmt: skip
    context = await open_context(settings, clock)
    yield context
    await context.db.close()


async def audit_rows(ctx: Context, action: str) -> list[tuple[Any, ...]]:
    rows = await ctx.db.read(
        fetch_all,
        "SELECT actor, field, old_value, new_value, reason FROM audit WHERE action=:action "
        "ORDER BY id",
        {"action": action},
    )
    return [tuple(row.values()) for row in rows]


def verify_copy(path: Path) -> VerifyResult:
    """The audit chain of a backup file, read on a connection of its own."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as copy:
            return verify_chain(copy)
    finally:
        engine.dispose()


async def test_run_backup_writes_a_private_verifiable_copy_and_audits_it(ctx: Context) -> None:
    path = await run_backup(ctx, PARIS_MORNING)
    assert path.name == "lysyme-20261121-100000+0100.sqlite3"
    assert path.parent == ctx.settings.backup_dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ctx.settings.backup_dir is not None
    assert stat.S_IMODE(ctx.settings.backup_dir.stat().st_mode) == 0o700
    assert verify_copy(path).ok
    assert await audit_rows(ctx, "backup") == [
        ("system", "file", None, path.name, "daily"),
    ]
    assert (await ctx.db.read(verify_chain)).ok


async def test_run_backup_keeps_the_newest_n_and_audits_what_it_pruned(ctx: Context) -> None:
    made = [await run_backup(ctx, PARIS_MORNING + dt.timedelta(days=day)) for day in range(5)]
    folder = ctx.settings.backup_dir
    assert folder is not None
    # Each backup kept with its head sidecar (storage/anchor.py); pruned ones with theirs.
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        name for p in made[2:] for name in (p.name, f"{p.name}.anchor")
    )
    pruned = await audit_rows(ctx, "backup_pruned")
    assert [row[2] for row in pruned] == [made[0].name, made[1].name]
    assert all(row[0] == "system" for row in pruned)


def test_due_at_start_follows_the_newest_backup(tmp_path: Path) -> None:
    now = PARIS_MORNING
    assert newest_backup(tmp_path / "missing") is None
    assert due_at_start(tmp_path, now)
    (tmp_path / "notes.txt").write_text("not a backup")
    (tmp_path / backup_file_name(now - dt.timedelta(hours=30))).write_bytes(b"")
    assert due_at_start(tmp_path, now)
    recent = now - dt.timedelta(hours=2)
    (tmp_path / backup_file_name(recent)).write_bytes(b"")
    assert newest_backup(tmp_path) == recent.replace(microsecond=0)
    assert not due_at_start(tmp_path, now)


class FakeWait:
    """Moves the clock instead of sleeping; asks the scheduler to stop after `rounds` backups."""

    def __init__(self, clock: FakeClock, scheduler_made: list[Path], rounds: int) -> None:
        self.clock = clock
        self.made = scheduler_made
        self.rounds = rounds
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> bool:
        if len(self.made) >= self.rounds:
            return True
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)
        return False


async def run_scheduler(ctx: Context, rounds: int) -> tuple[BackupScheduler, FakeWait]:
    told: list[tuple[str, dict[str, str]]] = []

    async def notify(key: str, **params: str) -> None:
        told.append((key, params))

    scheduler = BackupScheduler(ctx, notify)
    assert isinstance(ctx.clock, FakeClock)
    wait = FakeWait(ctx.clock, scheduler.made, rounds)
    scheduler._wait = wait
    await scheduler.run()
    scheduler.told = told  # type: ignore[attr-defined]
    return scheduler, wait


async def test_scheduler_backs_up_at_start_then_daily_at_3am_local(ctx: Context) -> None:
    scheduler, wait = await run_scheduler(ctx, rounds=3)
    names = [p.name for p in scheduler.made]
    # At start (none yet), then 03:00 Paris = 02:00 UTC in winter, two days running.
    assert names == [
        "lysyme-20261121-100000+0100.sqlite3",
        "lysyme-20261122-030000+0100.sqlite3",
        "lysyme-20261123-030000+0100.sqlite3",
    ]
    assert max(wait.waits) <= backups.MAX_WAIT  # the clock is re-read at least hourly
    reasons = [row[4] for row in await audit_rows(ctx, "backup")]
    assert reasons[0].startswith("at start") and reasons[1:] == ["daily", "daily"]


async def test_scheduler_skips_the_start_backup_when_a_recent_one_exists(ctx: Context) -> None:
    assert isinstance(ctx.clock, FakeClock)
    await run_backup(ctx, ctx.clock.now - dt.timedelta(hours=5))
    scheduler, _ = await run_scheduler(ctx, rounds=1)
    assert [p.name for p in scheduler.made] == ["lysyme-20261122-030000+0100.sqlite3"]


async def test_scheduler_is_dst_safe(ctx: Context) -> None:
    """Europe/Paris springs forward on 29/03/2026: 03:00 is 02:00 UTC before, 01:00 UTC after."""
    assert isinstance(ctx.clock, FakeClock)
    ctx.clock.now = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)
    scheduler, _ = await run_scheduler(ctx, rounds=4)
    assert [p.name for p in scheduler.made[1:]] == [
        "lysyme-20260328-030000+0100.sqlite3",
        "lysyme-20260329-030000+0200.sqlite3",
        "lysyme-20260330-030000+0200.sqlite3",
    ]


async def test_failure_is_logged_and_told_once_then_recovery_told(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    folder = ctx.settings.backup_dir
    assert folder is not None
    folder.parent.mkdir(exist_ok=True)
    folder.write_text("a file where the backup folder should be")
    told: list[tuple[str, dict[str, str]]] = []

    async def notify(key: str, **params: str) -> None:
        told.append((key, params))

    scheduler = BackupScheduler(ctx, notify)
    caplog.set_level(logging.DEBUG)
    assert await scheduler.attempt(PARIS_MORNING) is None
    assert await scheduler.attempt(PARIS_MORNING + dt.timedelta(days=1)) is None
    assert [key for key, _ in told] == ["bk.failed"]  # once, not every day
    assert "backup" in told[0][1]["problem"] and "\n" not in told[0][1]["problem"]
    failures = [r for r in caplog.records if "automatic backup failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.levelno == logging.ERROR for r in failures)
    assert len(await audit_rows(ctx, "backup_failed")) == 2
    folder.unlink()
    path = await scheduler.attempt(PARIS_MORNING + dt.timedelta(days=2))
    assert path is not None and path.exists()
    assert [key for key, _ in told] == ["bk.failed", "bk.recovered"]
    assert told[1][1] == {"file": path.name}
    assert (await ctx.db.read(verify_chain)).ok


async def test_an_unexpected_error_is_named_not_dumped(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_: Any, **__: Any) -> Path:
        raise RuntimeError("age=54 weight=68")  # whatever it says, it is not logged

    monkeypatch.setattr(backups, "backup_database", explode)
    told: list[str] = []

    async def notify(key: str, **params: str) -> None:
        told.append(params.get("problem", ""))

    caplog.set_level(logging.DEBUG)
    assert await BackupScheduler(ctx, notify).attempt(PARIS_MORNING) is None
    assert told == ["RuntimeError"]
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("lysyme"))
    assert "automatic backup failed: RuntimeError" in ours
    assert "54" not in ours and "68" not in ours


async def test_hooks_start_and_stop_with_the_application(tmp_path: Path) -> None:
    table = bot_app.routes()
    assert table.on_start.count(backups.start) == 1
    assert table.on_stop.count(backups.stop) == 1
    folder = tmp_path / "backups"
    async with Harness.started(tmp_path / "bot.sqlite3", LYSYME_BACKUP_DIR=str(folder)) as bot:
        assert "lysyme.backup_task" in bot.app.bot_data
        ctx: Context = bot.ctx
        await backups.stop(bot.app, ctx)  # what the stop hooks do: the start backup is whole
        assert "lysyme.backup_task" not in bot.app.bot_data
        files = sorted(folder.iterdir())
        assert [f.name for f in files] == [
            "lysyme-20261121-100000+0100.sqlite3",
            "lysyme-20261121-100000+0100.sqlite3.anchor",  # its audit head (storage/anchor.py)
        ]
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert len(await audit_rows(ctx, "backup")) == 1
    with sqlite3.connect(files[0]) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        admins = copy.execute("SELECT telegram_id FROM users").fetchall()
    assert (ADMIN,) in admins


async def test_no_backup_dir_no_task(tmp_path: Path) -> None:
    async with Harness.started(tmp_path / "bot.sqlite3") as bot:
        assert "lysyme.backup_task" not in bot.app.bot_data
