"""Issue 14 through a real Bot API HTTP exchange (the fake server): a second clinician takes
the patient from the team message, the message is edited in place and the private reminders
follow the owner; /reminders lists the rows; a burst of team reminders is paced by
python-telegram-bot's AIORateLimiter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import AIORateLimiter

from bot.flows import injection  # noqa: F401  (registers /d0, /withdraw and the sender)
from bot.reminders import delivery as reminder_delivery
from tests.e2e.conftest import (
    CLINICIAN,
    CLINICIAN_2,
    COORDINATOR,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    Clinician,
    FakeClock,
    add_user,
    answer_all,
)
from tests.e2e.fake_telegram import BOT_USERNAME, FakeTelegram
from tests.e2e.test_reminders_e2e import next_sweep, screen_eligible

PARIS_8_AM_22 = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)
PARIS_8_AM_23 = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)


def team_message_with(tg: FakeTelegram, contains: str) -> dict[str, Any]:
    return next(m for m in reversed(tg.sent_messages(TEAM_CHAT)) if contains in m.get("text", ""))


async def test_second_clinician_takes_the_patient_from_the_team_message(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    tg.add_user(CLINICIAN_2, "Bruno", language_code="en")
    app = await start_bot()
    await add_user(tg, CLINICIAN_2, "clinician")
    await add_user(tg, COORDINATOR, "coordinator")
    await screen_eligible(tg)
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    # Patient data: protected from forwarding and saving; the deep link opens the patient.
    assert notice.params.get("protect_content") is True
    assert f"https://t.me/{BOT_USERNAME}?start=HMN-001" in notice.result["text"]

    mark = tg.mark()
    clock.now = PARIS_8_AM_22
    await next_sweep(app)
    board = await tg.wait_for_message(TEAM_CHAT, contains="Open patients", after_index=mark)
    await tg.wait_for_message(CLINICIAN, contains="day 2", after_index=mark)
    message_id = board.result["message_id"]

    mark = tg.mark()
    tg.press_button_text(CLINICIAN_2, TEAM_CHAT, message_id, "✋ HMN-001")
    edit = await tg.wait_for_call(
        "editMessageText", lambda c: c.params.get("message_id") == message_id, after_index=mark
    )
    assert edit.ok
    edited = tg.message(TEAM_CHAT, message_id)
    assert edited is not None and "· Bruno" in edited["text"]
    assert tg.find_button(TEAM_CHAT, message_id, "✋ HMN-001")  # still there, for a takeover

    mark = tg.mark()
    clock.now = PARIS_8_AM_23
    await next_sweep(app)
    await tg.wait_for_message(CLINICIAN_2, contains="last day", after_index=mark)
    await next_sweep(app)
    assert not [m for m in tg.sent_messages(CLINICIAN)[-3:] if "last day" in m.get("text", "")]

    coordinator = Clinician(tg, COORDINATOR)
    log = await coordinator.command("/reminders HMN-001", expect="Reminders")
    text = log["text"]
    assert "acknowledged by Bruno" in text
    assert "D0 window · day 2, 08:00 → team — skipped: on the morning board" in text
    assert "morning board · 22/11/2026 → team — sent 22/11/2026 08:00" in text
    assert "D0 window · last day, 08:00 → owner — sent 23/11/2026 08:00" in text
    # /start HMN-001 (the deep link) shows the coordinator the patient's record.
    record = await coordinator.command("/start HMN-001", expect="HMN-001")
    assert "Reminders" in record["text"]


# --- a burst to one group -------------------------------------------------------------------

#: The limiter's group period, scaled down from 60 s so the test takes seconds, not minutes.
SCALED_GROUP_PERIOD = 0.5
BURST = 100


def test_the_production_limiter_is_telegrams_limits_with_no_sleeping_retry() -> None:
    limiter = reminder_delivery.rate_limiter()
    assert isinstance(limiter, AIORateLimiter)
    assert limiter._base_limiter is not None
    assert (limiter._base_limiter.max_rate, limiter._base_limiter.time_period) == (30, 1)
    assert (limiter._group_max_rate, limiter._group_time_period) == (20, 60)
    assert limiter._max_retries == 0  # a 429 goes back to the outbox, not a sleep in memory


async def _prepare_burst(path: Path, now: dt.datetime) -> None:
    from bot.common import Context
    from storage.open import open_database
    from tests.bot.test_reminders import Clock, screen_patient, settings_for

    db = await open_database(path)
    ctx = Context(settings=settings_for(path, LYSYME_TEAM_CHAT_ID=TEAM_CHAT), db=db,
                  clock=Clock(now))  # fmt: skip
    try:
        for _ in range(BURST):  # 100 outcome notices due now, all to the team group
            await screen_patient(ctx, now, now.astimezone(ctx.zone).date())
    finally:
        await db.close()


async def test_a_burst_of_due_reminders_to_one_group_is_paced(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The fake server does not enforce Telegram's limits (it only fails on request), so the
    pacing is measured from the times it recorded the calls, with the group period scaled
    from 60 s to 0.5 s (the limiter reads the event loop's real clock, not the FakeClock)."""
    monkeypatch.setattr(
        reminder_delivery, "rate_limiter",
        lambda: AIORateLimiter(overall_max_rate=30, overall_time_period=1,
                               group_max_rate=20, group_time_period=SCALED_GROUP_PERIOD,
                               max_retries=0),
    )  # fmt: skip
    await _prepare_burst(tmp_path / "e2e.sqlite3", clock.now)
    mark = tg.mark()
    await start_bot()
    for _ in range(200):
        sent = [c for c in tg.calls()[mark:] if c.method == "sendMessage"
                and c.params.get("chat_id") == TEAM_CHAT
                and not c.params["text"].startswith("☀️")]  # (the morning board)  # fmt: skip
        if len(sent) >= BURST:
            break
        await asyncio.sleep(0.1)
    times = sorted(c.at for c in sent)
    numbers = [c.params["text"].split("</b>")[0] for c in sent]
    assert len(sent) == BURST and len(set(numbers)) == BURST  # each once
    assert all(c.status == 200 for c in sent)  # no 429 at all
    # Leaky bucket: at most 20 at once, then 20 per period: in any window of w seconds,
    # at most 20 + 20·w/period messages (+1 for the edges).
    for i, start in enumerate(times):
        for width in (SCALED_GROUP_PERIOD / 2, SCALED_GROUP_PERIOD, 2 * SCALED_GROUP_PERIOD):
            inside = sum(1 for x in times[i:] if x - start < width)
            assert inside <= 20 + 20 * width / SCALED_GROUP_PERIOD + 1, (start, width, inside)
    # So 100 took at least (100 - 20) / 20 periods.
    assert times[-1] - times[0] >= (BURST - 20) / 20 * SCALED_GROUP_PERIOD * 0.9


# --- the whole loop, with the morning board (issue 14, second pass) -------------------------

PARIS_10_AM_22 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


async def test_the_morning_board_loop_two_clinicians_and_a_coordinator(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    """The board is the team's 08:00 message; clinician 2 takes HMN-001 on it (the board is
    edited in place, the private reminders follow him); HMN-002, taken by nobody, is reported
    to the coordinator at 10:00, once; /reminders shows every kind of row."""
    tg.add_user(CLINICIAN, "Alice", language_code="en")
    tg.add_user(CLINICIAN_2, "Bruno", language_code="en")
    app = await start_bot()
    await add_user(tg, CLINICIAN_2, "clinician")
    await add_user(tg, COORDINATOR, "coordinator")
    alice = await screen_eligible(tg)  # HMN-001
    await alice.command("/screen", expect="HMN-002")
    await answer_all(alice, ELIGIBLE_MALE)
    await alice.tap("Confirm", expect="all criteria are met")
    await tg.wait_for_message(TEAM_CHAT, contains="HMN-002")

    # 08:00: one board for the team (both patients, three buttons each), private reminders.
    mark = tg.mark()
    clock.now = PARIS_8_AM_22
    await next_sweep(app)
    board = await tg.wait_for_message(TEAM_CHAT, contains="Open patients", after_index=mark)
    await tg.wait_for_message(CLINICIAN, contains="day 2", after_index=mark)
    await next_sweep(app)
    team_now = [
        m for m in tg.sent_messages(TEAM_CHAT)[-5:] if m["message_id"] >= board.result["message_id"]
    ]
    assert len(team_now) == 1  # the board only: no message per patient
    board_id = board.result["message_id"]
    assert "HMN-001" in board.result["text"] and "HMN-002" in board.result["text"]
    assert board.params.get("protect_content") is True
    labels = [b["text"] for row in board.result["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [
        "✋ HMN-001",
        "🗓 HMN-001",
        "🚫 HMN-001",
        "✋ HMN-002",
        "🗓 HMN-002",
        "🚫 HMN-002",
    ]
    assert len([m for m in tg.sent_messages(CLINICIAN)[-4:] if "day 2" in m.get("text", "")]) == 2

    # Clinician 2 takes HMN-001 on the board: the board itself is edited to say so.
    mark = tg.mark()
    tg.press_button_text(CLINICIAN_2, TEAM_CHAT, board_id, "✋ HMN-001")
    edit = await tg.wait_for_call(
        "editMessageText", lambda c: c.params.get("message_id") == board_id, after_index=mark
    )
    assert edit.ok
    edited = tg.message(TEAM_CHAT, board_id)
    assert edited is not None
    line_1 = next(line for line in edited["text"].split("\n") if "HMN-001" in line)
    line_2 = next(line for line in edited["text"].split("\n") if "HMN-002" in line)
    assert "Bruno" in line_1 and "nobody" in line_2
    assert tg.find_button(TEAM_CHAT, board_id, "✋ HMN-002")  # the buttons stay

    # 10:00: HMN-002 was acknowledged by nobody: the coordinator is told privately, once.
    mark = tg.mark()
    clock.now = PARIS_10_AM_22
    await next_sweep(app)
    await tg.wait_for_message(COORDINATOR, contains="HMN-002", after_index=mark)
    clock.advance(minutes=5)
    await next_sweep(app)
    await next_sweep(app)
    told = [m["text"] for m in tg.sent_messages(COORDINATOR)]
    assert len([m for m in told if "HMN-002" in m]) == 1
    assert not [m for m in told if "HMN-001" in m]  # taken: no escalation

    # The next morning HMN-001's private reminder goes to its owner, no longer to Alice.
    mark = tg.mark()
    clock.now = PARIS_8_AM_23
    await next_sweep(app)
    await tg.wait_for_message(CLINICIAN_2, contains="HMN-001", after_index=mark)
    await tg.wait_for_message(CLINICIAN, contains="HMN-002", after_index=mark)
    await next_sweep(app)
    new_for_alice = [c.params["text"] for c in tg.calls("sendMessage")[mark:]
                     if c.params.get("chat_id") == CLINICIAN]  # fmt: skip
    assert not any("HMN-001" in text for text in new_for_alice)

    # /reminders: the board rows, sent, skipped "on the board", acknowledged and escalated.
    coordinator = Clinician(tg, COORDINATOR)
    text = (await coordinator.command("/reminders", expect="Reminders"))["text"]
    assert "morning board · 22/11/2026 → team — sent 22/11/2026 08:00" in text
    assert "morning board · 23/11/2026 → team — sent 23/11/2026 08:00" in text
    assert "D0 window · day 2, 08:00 → team — skipped: on the morning board" in text
    assert (
        "D0 window · day 2, 08:00 → owner — sent 22/11/2026 08:00 — acknowledged by Bruno" in text
    )
    assert (
        "escalation · day 2: 08:00 reminder unanswered at 10:00 → "
        f"user {COORDINATOR} — sent 22/11/2026 10:00"
    ) in text
    assert "cancelled: acknowledged by the team" in text
    for code in ("d0_window", "day_2", "unacknowledged_2", "user:", "last_actor"):
        assert code not in text, code
