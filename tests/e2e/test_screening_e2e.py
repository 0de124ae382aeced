"""A clinician screens patients through the real Application over HTTP (fake Bot API)."""

from __future__ import annotations

from tests.conftest import day, no_such_day
from tests.e2e.conftest import (
    ADMIN,
    CLINICIAN,
    CLINICIAN_2,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    Clinician,
    add_user,
    answer_all,
    screening_opened,
)
from tests.e2e.fake_telegram import FakeTelegram


async def test_full_eligible_screening_with_buttons_and_typed_answers(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    await start_bot()
    await add_user(tg, CLINICIAN, "clinician")
    doc = Clinician(tg, CLINICIAN)
    opened = await doc.command("/screen", expect="HMN-001")
    assert "correspondence list" in opened["text"]
    await answer_all(doc, ELIGIBLE_MALE)
    summary = doc.prompt()
    assert "summary" in summary["text"] and "68" in summary["text"]
    await doc.tap("Confirm", expect="all criteria are met")
    result = [m["text"] for m in tg.sent_messages(CLINICIAN) if "all criteria" in m.get("text", "")]
    assert result, "no result message"
    text = result[-1]
    assert "136 × 10⁶ cells (2 × 10⁶/kg × 68 kg)" in text
    assert "D0 deadline: 23/11/2026 23:59" in text  # admitted 20/11 (yesterday)
    assert "Eligibility to be confirmed by the investigator before D0" in text
    assert "/d0 HMN-001" in text
    # The tapped question message was edited to show the chosen answer.
    edits = [c for c in tg.calls("editMessageText") if c.ok]
    assert any("✓ Intensive care" in c.result["text"] for c in edits)
    # The team is told once: number, outcome, deadline — never answer values.
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    assert "eligible" in notice.result["text"]
    assert "68" not in notice.result["text"] and "54" not in notice.result["text"]
    # /status lists the patient.
    status = await doc.command("/status", expect="HMN-001")
    assert "HMN-001" in status["text"]


async def test_not_eligible_stops_at_first_failure_after_confirmation(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    await answer_all(doc, ELIGIBLE_MALE[:3])
    await doc.type("77", expect="excludes the patient")
    # A mis-tap is not final: change it, then answer again.
    await doc.tap("Change the answer", expect="Age (years)")
    await doc.type("76", expect="excludes the patient")
    await doc.tap("Confirm exclusion", expect="not eligible")
    assert "Age 76 years — the protocol includes 18 to 75 years" in doc.last_text()
    # The conversation stopped: no further question is asked.
    assert "Ward" not in doc.last_text()


async def test_typo_is_reasked_and_back_changes_an_answer(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    reply = await doc.type(no_such_day(), expect="expect a date")
    assert "expect a date" in reply
    assert "Date of first symptoms" in doc.prompt()["text"]
    await doc.type(day(-2))
    await doc.tap("Yesterday")
    await doc.tap("Yes")
    await doc.type("fifty", expect="expect a number")
    await doc.tap("Back", expect="Confirmed SJS")
    assert "Current answer: Yes" in doc.prompt()["text"]
    await doc.tap("Yes", expect="Age (years)")
    await doc.type("54", expect="Ward")


async def test_unknown_user_is_refused_and_admins_told(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    await start_bot()
    stranger = 777
    mark = tg.mark()
    tg.send_text(stranger, "/screen", language_code="en")
    refusal = await tg.wait_for_message(stranger, after_index=mark)
    assert "777" in refusal.result["text"] and "HMN" not in refusal.result["text"]
    notice = await tg.wait_for_message(ADMIN, contains="777", after_index=mark)
    assert "/adduser 777" in notice.result["text"]
    # Again the same day: refused, admins not told twice.
    mark = tg.mark()
    tg.send_text(stranger, "/status", language_code="en")
    await tg.wait_for_message(stranger, after_index=mark)
    await tg.wait_until_idle(quiet=0.1)
    assert not [
        m for m in tg.sent_messages(ADMIN)[-1:] if m["message_id"] > notice.result["message_id"]
    ]


async def test_two_clinicians_screen_at_the_same_time(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    await start_bot()
    await add_user(tg, CLINICIAN, "clinician")
    await add_user(tg, CLINICIAN_2, "clinician")
    first, second = Clinician(tg, CLINICIAN), Clinician(tg, CLINICIAN_2)
    await first.command("/screen", expect="HMN-001")
    await second.command("/screen", expect="HMN-002")
    for _, how in ELIGIBLE_MALE[:6]:
        kind, _, value = how.partition(":")
        for who in (first, second):  # interleaved, one answer each in turn
            await (who.tap(value) if kind == "tap" else who.type(value))
    assert "HMN-001" in first.prompt()["text"] and "Sex" in first.prompt()["text"]
    assert "HMN-002" in second.prompt()["text"] and "Sex" in second.prompt()["text"]


async def test_duplicate_delivery_changes_nothing(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    mark = tg.mark()
    update_id = tg.send_text(CLINICIAN, day(-2), language_code="en")
    await tg.wait_for_message(CLINICIAN, contains="Date of admission", after_index=mark)
    await tg.wait_until_idle(quiet=0.05)
    tg.duplicate_update(update_id)
    await tg.wait_until_idle(quiet=0.2)
    assert "Date of admission" in doc.prompt()["text"]
    # The re-delivered index date was not taken as the admission date.
    await doc.tap("Yesterday", expect="Confirmed SJS")


async def test_stale_button_is_answered_not_applied(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    await doc.type(day(-2))
    admission_prompt = doc.prompt()
    await doc.tap("Yesterday", expect="Confirmed SJS")
    mark = tg.mark()
    data = "a:1:admission_date:today"
    tg.press_button(CLINICIAN, CLINICIAN, admission_prompt["message_id"], data, strict=False)
    answer = await tg.wait_for_call("answerCallbackQuery", after_index=mark)
    assert "no longer active" in str(answer.params.get("text"))
    assert "Confirmed SJS" in doc.prompt()["text"]


async def test_an_edited_old_command_is_not_run_again(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    await screening_opened(tg, start_bot)
    sender = {"id": CLINICIAN, "is_bot": False, "first_name": "Test", "language_code": "en"}
    mark = tg.mark()
    tg.send_raw_update(
        {
            "edited_message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "edit_date": 1_700_000_100,
                "chat": {"id": CLINICIAN, "type": "private", "first_name": "Test"},
                "from": sender,
                "text": "/screen",
                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            }
        }
    )
    await tg.wait_until_idle(quiet=0.2)
    sent = [c.result.get("text", "") for c in tg.calls("sendMessage") if c.ok and c.index >= mark]
    assert not any("HMN-002" in text for text in sent)
