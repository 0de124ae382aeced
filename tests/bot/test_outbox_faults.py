"""The outbox under faults (bot/reminders/sender.py, storage/reminders.py): a sweep hit by a database
error strands nothing and sends nothing twice; a correction racing a due step does not lose
it; catch-up is per (screening, kind, recipient) whatever the claim batches; a clock that
jumps forward pauses sending until an admin confirms; unreachable chats are reported once per
episode; the health check fails while the sender's writes fail.

Both backends (`database_target`), an injected clock, the fake `send` of test_reminders.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection
from telegram.error import BadRequest

from bot import health
from bot.common import Button
from bot.reminders import sending, state, upkeep
from bot.reminders.closing import reevaluate
from bot.reminders.sender import ReminderSender
from storage import screenings as store
from storage.errors import StorageConflict, StorageUnavailable
from storage.postgres import WRITE_LOCK_KEY
from storage.sql import execute, fetch_all
from tests.bot.test_reminders import (
    ADMIN,
    CLINICIAN,
    COORDINATOR,
    TEAM,
    Env,
    FakeSend,
    actor,
    get,
    local,
    make_env,
    screen_patient,
)
from tests.conftest import is_postgres

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMISSION = dt.date(2026, 11, 20)


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, local(2026, 11, 20, 10))
    yield environment
    await environment.ctx.db.close()


async def states(env: Env) -> dict[str, int]:
    rows = await env.ctx.db.read(
        fetch_all, "SELECT state, COUNT(*) AS n FROM reminders GROUP BY state"
    )
    return {r["state"]: r["n"] for r in rows}


#: A write lock another process holds: SQLite's file says "database is locked" (unavailable),
#: PostgreSQL's write lock not granted within `lock_timeout` is a conflict.
LOCKED = (StorageUnavailable, StorageConflict)


class LockAfterFirstSend(FakeSend):
    """Another process takes the database's write lock right after the first message was
    accepted, and keeps it until `unlock()`: SQLite's (BEGIN IMMEDIATE on the file), or
    PostgreSQL's (the advisory lock every replica's write transaction takes)."""

    def __init__(self, target: Path | str) -> None:
        super().__init__()
        self.target = target
        self.locked: Any = None

    def lock(self) -> None:
        if is_postgres(self.target):
            import psycopg

            self.locked = psycopg.connect(str(self.target), autocommit=True)
            self.locked.execute("BEGIN")
            self.locked.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
        else:
            self.locked = sqlite3.connect(self.target, timeout=0, isolation_level=None)
            self.locked.execute("BEGIN IMMEDIATE")

    async def __call__(self, chat_id: int, text: str, buttons: list[list[Button]]) -> None:
        await super().__call__(chat_id, text, buttons)
        if len(self.sent) == 1:
            self.lock()

    def unlock(self) -> None:
        self.locked.execute("ROLLBACK")
        self.locked.close()


async def test_a_sweep_under_a_held_lock_releases_its_claims_and_sends_each_row_once(
    database_target: Path | str, tmp_path: Path
) -> None:
    env = await make_env(database_target, local(2026, 11, 20, 10))
    try:

        def impatient(conn: Connection) -> None:  # the writer's: locked at once, no waiting
            if is_postgres(database_target):
                execute(conn, "SET lock_timeout = '50ms'")  # (kept after the commit)
            else:
                execute(conn, "PRAGMA busy_timeout=50")

        await env.ctx.db.write(impatient)
        for _ in range(3):
            await screen_patient(env.ctx, env.clock.now, ADMISSION)
        send = LockAfterFirstSend(env.path)
        sender = ReminderSender(env.ctx, send)
        heartbeat = tmp_path / "health.json"
        health.configure(heartbeat)
        with pytest.raises(LOCKED):
            await sender.round(env.clock.now)
        assert len(send.sent) == 1  # then every write failed
        with pytest.raises(health.Unhealthy, match="database failing"):
            health.check_heartbeats(heartbeat, dt.datetime.now(dt.UTC), polling=False)
        # Still locked: the next round fails again, and sends nothing more.
        with pytest.raises(LOCKED):
            await sender.round(env.clock.now)
        assert len(send.sent) == 1

        send.unlock()
        await sender.round(env.clock.now)
        team = sorted(m.plain.split()[1] for m in send.to(TEAM))
        assert team == ["HMN-001", "HMN-002", "HMN-003"]  # each once, none twice
        assert "claimed" not in await states(env)
        health.check_heartbeats(heartbeat, dt.datetime.now(dt.UTC), polling=False)
        # Nothing left: a later round sends nothing again.
        await sender.round(env.clock.now)
        assert len(send.to(TEAM)) == 3
    finally:
        health.configure(None)
        await env.ctx.db.close()


async def test_an_exception_while_preparing_releases_the_rest_of_the_batch(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        await screen_patient(env.ctx, env.clock.now, ADMISSION)

    def broken(*args: object) -> object:
        raise StorageUnavailable("database or disk is full")

    monkeypatch.setattr(sending, "prepare", broken)
    with pytest.raises(StorageUnavailable):
        await env.sweep()
    assert "claimed" not in await states(env)  # released, not stuck until a restart
    monkeypatch.undo()
    await env.sweep()
    assert len(env.send.to(TEAM)) == 3


async def test_a_correction_just_after_a_step_fell_due_does_not_lose_it(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    env.send.clear()
    now = env.clock.set(local(2026, 11, 21, 8, 0, 30))  # day 1 fell due 30 s ago, not sent

    def correct(conn: Connection) -> None:
        current = store.get_by_id(conn, s.id)
        assert current is not None
        reevaluate(conn, env.ctx, str(COORDINATOR), current, now, reason="typo")

    await env.ctx.db.write(correct)
    await env.sweep(now)
    assert sorted(m.chat_id for m in env.send.sent) == sorted([TEAM, CLINICIAN])
    assert "day 1" in env.send.to(CLINICIAN)[0].plain
    (board,) = env.send.to(TEAM)  # the team's 08:00 message: the morning board (issue 14)
    assert board.plain.startswith("☀️") and "HMN-001" in board.plain
    await env.sweep(local(2026, 11, 21, 8, 5))
    assert len(env.send.sent) == 2  # and once only


async def test_150_overdue_rows_send_only_the_latest_step_per_patient_and_recipient(
    env: Env,
) -> None:
    start = env.clock.now
    for _ in range(15):
        await screen_patient(env.ctx, start, ADMISSION)
    await env.sweep(start)
    env.send.clear()
    # Down until the last day's evening: day 1, day 2, the last day's morning, afternoon and
    # evening are overdue for 15 patients × 2 recipients: 150 rows, more than a claim batch.
    overdue = await env.ctx.db.read(
        fetch_all,
        "SELECT COUNT(*) AS n FROM reminders WHERE state='scheduled' AND due_at <= :due "
        "AND kind='d0_window'",
        {"due": "2026-11-23T20:00:00"},
    )
    assert overdue[0]["n"] == 150
    result = await env.sweep(local(2026, 11, 23, 21))
    # The team's morning board of the last day, late, once (issue 14).
    (board,) = [m for m in env.send.to(TEAM) if m.plain.startswith("☀️")]
    assert "sent late" in board.plain and board.plain.count("HMN-") == 15
    for chat in (TEAM, CLINICIAN):
        messages = [m for m in env.send.to(chat) if m is not board]
        assert len(messages) == 15, [m.plain[:40] for m in messages]
        assert all("closes at midnight" in m.plain and "sent late" in m.plain for m in messages)
        assert len({m.plain.split()[1] for m in messages}) == 15
    # The escalations (issue 14) catch up the same way: of the coordinator's three unanswered
    # mornings and the last day's 14:00 check, only the latest (urgent) one is sent.
    for person in (COORDINATOR, ADMIN):
        escalated = env.send.to(person)
        assert len(escalated) == 15 and all("HMN-" in m.plain for m in escalated)
    assert result.skipped == 120 + 15 * 3 + 2  # (+ the boards of the 21st and the 22nd)


async def test_a_clock_jump_pauses_sending_until_the_clock_comes_back_or_an_admin_confirms(
    env: Env,
) -> None:
    sender = ReminderSender(env.ctx, env.send)
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await sender.round(env.clock.now)
    env.send.clear()
    jump = local(2026, 11, 25, 9)  # past the window's close (24/11 08:00)
    await sender.round(jump)
    (notice,) = env.send.sent
    assert notice.chat_id == ADMIN and "clock moved forward by 4 d 23 h" in notice.plain
    assert notice.buttons[0][0].data == state.CLOCK_CONFIRM_DATA
    assert (await get(env.ctx, s.id)).status == store.SCREENED  # no window_missed
    await sender.round(jump + dt.timedelta(minutes=5))
    assert len(env.send.sent) == 1  # told once

    # The clock comes back (NTP): sending resumes by itself; nothing was lost or closed.
    env.send.clear()
    await sender.round(local(2026, 11, 21, 8, 5))
    assert sorted(m.chat_id for m in env.send.sent) == sorted([TEAM, CLINICIAN])
    assert "day 1" in env.send.to(CLINICIAN)[0].plain
    assert env.send.to(TEAM)[0].plain.startswith("☀️")  # the morning board (issue 14)

    # Another jump, confirmed by an admin (the bot was really down): catch-up resumes.
    env.send.clear()
    await sender.round(jump)
    assert [m.chat_id for m in env.send.sent] == [ADMIN]
    env.clock.set(jump)  # the admin taps at the (right) time
    outs = await upkeep.confirm_clock(env.ctx, actor(ADMIN, update_id=77, message_id=9), "k:clock")
    assert "reminders resume" in outs[0].text
    env.send.clear()
    await sender.round(jump)
    assert sorted(m.chat_id for m in env.send.sent) == sorted([TEAM, CLINICIAN])
    assert all("window closed" in m.plain for m in env.send.sent)
    assert (await get(env.ctx, s.id)).status == store.WINDOW_MISSED
    # A confirmation with nothing paused changes nothing.
    again = await upkeep.confirm_clock(env.ctx, actor(ADMIN, update_id=78), "k:clock")
    assert again[0].toast is not None


async def test_an_unreachable_chat_is_reported_once_per_episode(env: Env) -> None:
    def admin_notices() -> list[str]:
        return [m.plain for m in env.send.to(ADMIN) if "cannot be reached" in m.plain]

    env.send.always_fail[TEAM] = BadRequest("Chat not found")
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    await env.sweep()
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    await env.sweep()
    assert len(admin_notices()) == 1  # one episode, one notice
    del env.send.always_fail[TEAM]
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    assert len(env.send.to(TEAM)) == 1  # reachable again: the episode is over
    env.send.always_fail[TEAM] = BadRequest("Chat not found")
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    await env.sweep()
    assert len(admin_notices()) == 2
