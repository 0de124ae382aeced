"""Reminders through a real Bot API HTTP exchange (the fake server): the team is told at once
when a patient becomes eligible, a restart sends no duplicate, and /d0 answers with the
follow-up dates.

In-process tests use the real `Application` (tests/e2e/conftest.py) with a settable clock;
the last test kills a real `lysyme-bot run` subprocess with SIGKILL and restarts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
from pathlib import Path
from typing import Any

from bot.flows import injection  # noqa: F401  (registers /d0, /update, /withdraw and the sender)
from tests.conftest import day
from tests.e2e.conftest import (
    ADMIN,
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    Clinician,
    FakeClock,
    add_user,
    answer_all,
    process_env,
    run_process,
    stop_app,
)
from tests.e2e.fake_telegram import FakeTelegram

PARIS_8_AM_NEXT_DAY = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)  # 22/11 08:00 Paris


def team_messages(tg: FakeTelegram, contains: str) -> list[str]:
    return [m["text"] for m in tg.sent_messages(TEAM_CHAT) if contains in m.get("text", "")]


async def next_sweep(app: Any) -> None:
    await asyncio.wait_for(app.bot_data["reminder_sender"].next_sweep(), 10)


async def screen_eligible(tg: FakeTelegram) -> Clinician:
    await add_user(tg, CLINICIAN, "clinician")
    doc = Clinician(tg, CLINICIAN)
    await doc.command("/screen", expect="HMN-001")
    await answer_all(doc, ELIGIBLE_MALE)
    await doc.tap("Confirm", expect="all criteria are met")
    return doc


async def test_team_told_once_and_a_restart_sends_no_duplicate(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    app = await start_bot()
    await screen_eligible(tg)
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    text = notice.result["text"]
    assert "eligible" in text and "/d0 HMN-001" in text and "23/11/2026 23:59" in text
    assert "68" not in text and "54" not in text  # never an answer value
    await next_sweep(app)
    assert len(team_messages(tg, "HMN-001")) == 1

    await stop_app(app)
    app = await start_bot()
    await next_sweep(app)
    await next_sweep(app)
    assert len(team_messages(tg, "HMN-001")) == 1

    # The next step (08:00 the next morning, local) arrives once: to the clinician, and to
    # the team on the morning board (issue 14), not as a message of its own.
    mark = tg.mark()
    clock.now = PARIS_8_AM_NEXT_DAY
    await next_sweep(app)
    board = await tg.wait_for_message(TEAM_CHAT, contains="Open patients", after_index=mark)
    assert "HMN-001" in board.result["text"]
    await tg.wait_for_message(CLINICIAN, contains="day 2", after_index=mark)
    await next_sweep(app)
    assert len(team_messages(tg, "Open patients")) == 1
    assert team_messages(tg, "day 2") == []


async def test_d0_records_the_injection_and_answers_with_the_follow_up_dates(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    app = await start_bot()
    await add_user(tg, COORDINATOR, "coordinator")
    doc = await screen_eligible(tg)
    await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    await doc.command("/d0 HMN-001", expect="investigator confirms")
    await doc.tap("investigator confirms", expect="injection recorded")
    reply = doc.last_text()
    # D0 = 21/11/2026 (10:00 Paris): D0+7, D0+10, D0+30.
    for date in (day(7), day(10), day(30)):
        assert date in reply
    await tg.wait_for_message(TEAM_CHAT, contains="injection (D0) recorded")
    # D0+7 at 08:00: the question with buttons, to the injector and the coordinator.
    # The clock moves a week at once: to the sender that is a jump (or downtime), so it
    # pauses and asks an admin, who confirms the time (docs/RELIABILITY.md).
    mark = tg.mark()
    clock.now = dt.datetime(2026, 11, 28, 7, 0, tzinfo=dt.UTC)
    await next_sweep(app)
    notice = await tg.wait_for_message(ADMIN, contains="clock moved forward", after_index=mark)
    assert not tg.sent_messages(COORDINATOR)
    tg.press_button_text(ADMIN, ADMIN, notice.result["message_id"], "time is right")
    await tg.wait_for_message(ADMIN, contains="Time confirmed", after_index=mark,
                              include_edits=True)  # fmt: skip
    await next_sweep(app)
    question = await tg.wait_for_message(COORDINATOR, contains="Re-epithelialisation",
                                         after_index=mark)  # fmt: skip
    await tg.wait_for_message(CLINICIAN, contains="Re-epithelialisation", after_index=mark)
    message_id = question.result["message_id"]
    mark = tg.mark()
    tg.press_button_text(COORDINATOR, COORDINATOR, message_id, "Yes")
    await tg.wait_for_message(COORDINATOR, contains="Answered", after_index=mark,
                              include_edits=True)  # fmt: skip
    assert tg.inline_keyboard(COORDINATOR, message_id) == []


# --- a real process, killed with SIGKILL -------------------------------------------------------


def _prepare_database(path: Path) -> None:
    """An eligible screening closed just now (real clock): its team notice is due."""
    from tests.bot.test_reminders import make_env, screen_patient

    async def go() -> None:
        now = dt.datetime.now(dt.UTC)
        env = await make_env(path, now)
        try:
            local_today = now.astimezone(env.ctx.zone).date()
            await screen_patient(env.ctx, now, local_today)
        finally:
            await env.ctx.db.close()

    asyncio.run(go())


def _start(tg: FakeTelegram, workdir: Path) -> subprocess.Popen[bytes]:
    env = process_env(tg, workdir, "lysyme.sqlite3")
    mark = tg.mark()
    process = run_process(env, workdir)
    tg.run_sync(tg.wait_for_poll(after_index=mark))
    return process


def test_kill_9_then_restart_sends_no_duplicate(tmp_path: Path) -> None:
    _prepare_database(tmp_path / "lysyme.sqlite3")
    tg = FakeTelegram.start_in_thread()
    try:
        process = _start(tg, tmp_path)
        try:
            tg.run_sync(tg.wait_for_message(TEAM_CHAT, contains="HMN-001", timeout=15))
            # Kill only once the notice is recorded as sent: between Telegram's 200 and that
            # commit is the one window where a crash repeats a message (bot/reminders/sender.py). A later
            # write answered by the bot waits behind that commit on the database's write lock.
            mark = tg.mark()
            tg.send_text(ADMIN, f"/adduser {CLINICIAN} clinician", language_code="en")
            tg.run_sync(tg.wait_for_message(ADMIN, contains=str(CLINICIAN), after_index=mark))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        # While it is down, a second patient's notice falls due: seeing it after the restart
        # proves the new process has swept.
        _prepare_database_second(tmp_path / "lysyme.sqlite3")
        process = _start(tg, tmp_path)
        try:
            tg.run_sync(tg.wait_for_message(TEAM_CHAT, contains="HMN-002", timeout=15))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        assert len(team_messages(tg, "HMN-001")) == 1
        assert len(team_messages(tg, "HMN-002")) == 1
    finally:
        tg.stop_thread()


def _prepare_database_second(path: Path) -> None:
    from bot.common import Context
    from storage.open import open_database
    from tests.bot.test_reminders import screen_patient, settings_for
    from tests.conftest import FakeClock

    async def go() -> None:
        now = dt.datetime.now(dt.UTC)
        db = await open_database(path)
        ctx = Context(settings=settings_for(path), db=db, clock=FakeClock(now))
        try:
            await screen_patient(ctx, now, now.astimezone(ctx.zone).date())
        finally:
            await db.close()

    asyncio.run(go())
