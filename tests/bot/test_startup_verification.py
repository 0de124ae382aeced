"""Start-up's audit trail verification when the database drops the connection under it (a
PostgreSQL restart, a terminated backend while a replica starts): tried again, not a crash
with a traceback — found by the real-process test of terminated backends under load."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot import app
from storage.errors import StorageUnavailable
from tests.bot.test_reminders import local, make_env


async def test_a_verification_cut_by_the_database_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = await make_env(tmp_path / "bot.sqlite3", local(2026, 11, 20, 10))
    real = app.verify_incremental
    calls: list[int] = []

    def cut_once(conn: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise StorageUnavailable("terminating connection due to administrator command")
        return real(conn)

    monkeypatch.setattr(app, "verify_incremental", cut_once)
    try:
        with caplog.at_level(logging.WARNING, logger="lysyme.app"):
            result = await app._verify_trail(env.ctx)
    finally:
        await env.ctx.db.close()
    assert result.ok and len(calls) == 2
    assert "audit trail verification interrupted by the database" in caplog.text


async def test_a_database_that_keeps_failing_still_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(tmp_path / "bot.sqlite3", local(2026, 11, 20, 10))

    def always_cut(conn: Any) -> Any:
        raise StorageUnavailable("server closed the connection unexpectedly")

    monkeypatch.setattr(app, "verify_incremental", always_cut)
    try:
        with pytest.raises(StorageUnavailable):
            await app._verify_trail(env.ctx)
    finally:
        await env.ctx.db.close()


async def test_any_start_up_step_cut_by_the_database_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The command menus read the users: a terminated backend there crashed a replica's start
    (seen under load in the terminated-backends e2e test)."""
    tries: list[int] = []

    async def menus() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise StorageUnavailable("terminating connection due to administrator command")
        return "set"

    with caplog.at_level(logging.WARNING, logger="lysyme.app"):
        assert await app._at_start("command menus", menus) == "set"
    assert len(tries) == 3
    assert caplog.text.count("command menus interrupted by the database") == 2
