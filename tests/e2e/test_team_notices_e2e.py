"""Issue 26 through a real Bot API exchange (the fake server): the team's D0 notice after "I'm
on it", a plan and a takeover reads once each time (one owner line with the time of the take,
one link, one row of buttons); a follow-up answered by the clinician edits the coordinator's
copy to show the answer, who gave it and when, without buttons, and /reminders says answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.flows import injection  # noqa: F401  (registers /d0 and the follow-up buttons)
from tests.e2e.conftest import (
    ADMIN,
    CLINICIAN,
    CLINICIAN_2,
    COORDINATOR,
    TEAM_CHAT,
    Clinician,
    FakeClock,
    add_user,
)
from tests.e2e.fake_telegram import BOT_USERNAME, FakeTelegram
from tests.e2e.test_reminders_e2e import next_sweep, screen_eligible

CLINICIAN_3 = 2004
BUTTONS = ["✋ I'm on it", "🗓 Injection planned…", "🚫 Not injecting"]


def local(clock: FakeClock, hour: int, minute: int = 0) -> str:
    """That wall-clock time today (Paris), as the bot shows it."""
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    day = clock.now.astimezone(paris)
    return day.replace(hour=hour, minute=minute).strftime("%d/%m/%Y %H:%M")


def now_shown(clock: FakeClock) -> str:
    from zoneinfo import ZoneInfo

    return clock.now.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")


async def edited_notice(tg: FakeTelegram, message_id: int, mark: int) -> dict[str, Any]:
    edit = await tg.wait_for_call(
        "editMessageText",
        lambda c: c.params.get("chat_id") == TEAM_CHAT and c.params.get("message_id") == message_id,
        after_index=mark,
    )
    assert edit.ok
    await tg.wait_until_idle(quiet=0.05)
    current = tg.message(TEAM_CHAT, message_id)
    assert current is not None
    return current


def reads_once(tg: FakeTelegram, message: dict[str, Any]) -> str:
    text = str(message["text"])
    assert text.count("Taken by") == 1, text
    assert text.count("Open in the private chat") == 1, text
    assert text.count(f"https://t.me/{BOT_USERNAME}?start=HMN-001") == 1, text
    assert text.count("screening result") == 1, text
    rows = tg.inline_keyboard(TEAM_CHAT, message["message_id"])
    assert [[b["text"] for b in row] for row in rows] == [BUTTONS], rows
    return text


async def test_take_then_plan_then_takeover_shows_one_owner_line_each_time(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    tg.add_user(CLINICIAN_2, "Bruno", language_code="en")
    tg.add_user(CLINICIAN_3, "Zoé", language_code="en")
    await start_bot()
    await add_user(tg, CLINICIAN_2, "clinician")
    await add_user(tg, CLINICIAN_3, "clinician")
    await screen_eligible(tg)
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    message_id = notice.result["message_id"]
    assert [[b["text"] for b in row] for row in tg.inline_keyboard(TEAM_CHAT, message_id)] == [
        BUTTONS
    ]

    # Bruno: "I'm on it" on the team's message.
    clock.advance(minutes=14)
    taken = now_shown(clock)
    mark = tg.mark()
    tg.press_button_text(CLINICIAN_2, TEAM_CHAT, message_id, "I'm on it")
    text = reads_once(tg, await edited_notice(tg, message_id, mark))
    assert f"Taken by Bruno ({taken})" in text

    # Bruno: "Injection planned…", then the time, typed privately, six minutes later.
    clock.advance(minutes=6)
    mark = tg.mark()
    tg.press_button_text(CLINICIAN_2, TEAM_CHAT, message_id, "Injection planned")
    await tg.wait_for_message(CLINICIAN_2, contains="when is the injection planned",
                              after_index=mark)  # fmt: skip
    bruno = Clinician(tg, CLINICIAN_2)
    mark = tg.mark()
    await bruno.type("16:30", expect="injection planned for")
    text = reads_once(tg, await edited_notice(tg, message_id, mark))
    assert f"Taken by Bruno ({taken})" in text  # the time of the take, kept
    assert text.count("Injection planned:") == 1
    assert f"Injection planned: {local(clock, 16, 30)}" in text

    # Zoé takes over.
    clock.advance(minutes=30)
    takeover = now_shown(clock)
    mark = tg.mark()
    tg.press_button_text(CLINICIAN_3, TEAM_CHAT, message_id, "I'm on it")
    text = reads_once(tg, await edited_notice(tg, message_id, mark))
    assert f"Taken by Zoé ({takeover})" in text and "Bruno" not in text
    assert text.count("Injection planned:") == 1


async def test_a_follow_up_answered_by_the_clinician_edits_the_coordinators_copy(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    app = await start_bot()
    await add_user(tg, COORDINATOR, "coordinator")
    doc = await screen_eligible(tg)
    await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    await doc.command("/d0 HMN-001", expect="investigator confirms")
    await doc.tap("investigator confirms", expect="injection recorded")
    # D0 + 7 at 08:00 (the week-long move of the clock is confirmed by the admin).
    paris_8 = clock.now.replace(hour=7, minute=0, second=0, microsecond=0)
    mark = tg.mark()
    clock.now = paris_8 + dt.timedelta(days=7)
    await next_sweep(app)
    pause = await tg.wait_for_message(ADMIN, contains="clock moved forward", after_index=mark)
    tg.press_button_text(ADMIN, ADMIN, pause.result["message_id"], "time is right")
    await tg.wait_for_message(ADMIN, contains="Time confirmed", after_index=mark,
                              include_edits=True)  # fmt: skip
    await next_sweep(app)
    theirs = await tg.wait_for_message(COORDINATOR, contains="Re-epithelialisation",
                                       after_index=mark)  # fmt: skip
    mine = await tg.wait_for_message(CLINICIAN, contains="Re-epithelialisation", after_index=mark)
    their_id, my_id = theirs.result["message_id"], mine.result["message_id"]
    assert tg.inline_keyboard(COORDINATOR, their_id)

    clock.advance(minutes=72)
    answered = now_shown(clock)
    mark = tg.mark()
    tg.press_button_text(CLINICIAN, CLINICIAN, my_id, "Yes")
    await tg.wait_for_call(
        "editMessageText",
        lambda c: c.params.get("chat_id") == COORDINATOR and c.params.get("message_id") == their_id,
        after_index=mark,
    )
    await tg.wait_until_idle(quiet=0.05)
    name = "Test"  # the clinician's Telegram first name, as the fake server sends it
    for chat, message_id in ((COORDINATOR, their_id), (CLINICIAN, my_id)):
        current = tg.message(chat, message_id)
        assert current is not None
        assert f"Answered: Yes — {name}, {answered}" in current["text"], current["text"]
        assert tg.inline_keyboard(chat, message_id) == []

    coordinator = Clinician(tg, COORDINATOR)
    log = (await coordinator.command("/reminders HMN-001", expect="Reminders"))["text"]
    assert log.count(f"answered by {name} {answered}") == 2, log
    assert "injection recorded" not in "\n".join(
        line for line in log.split("\n") if "reepithelialisation_d7" in line
    )
