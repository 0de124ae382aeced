"""Issue 13 through a real Bot API HTTP exchange: no typed answer stored without being shown
as understood, exclusions and pending items stated with their value and rule, the team group
never reading an answer value, /withdraw asking first. The clock: 21/11/2026 10:00 in Paris."""

from __future__ import annotations

from tests.conftest import eligible_script
from tests.e2e.conftest import (
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    Clinician,
    add_user,
    answer_all,
    screening_opened,
)
from tests.e2e.fake_telegram import FakeTelegram


def sent_texts(tg: FakeTelegram) -> str:
    """Every message sent to the clinician, tags removed (what the person reads)."""
    import re

    return "\n".join(re.sub(r"</?b>", "", m.get("text", "")) for m in tg.sent_messages(CLINICIAN))


def edited_texts(tg: FakeTelegram) -> str:
    import re

    edits = [c.result.get("text", "") for c in tg.calls("editMessageText") if c.ok]
    return "\n".join(re.sub(r"</?b>", "", text) for text in edits)


async def _french_clinician(tg: FakeTelegram) -> Clinician:
    await add_user(tg, CLINICIAN, "clinician")
    doc = Clinician(tg, CLINICIAN)
    await doc.command("/language fr", expect="français")
    return doc


async def test_tomorrows_day_month_is_refused_and_typed_dates_echoed_in_french(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    await start_bot()
    doc = await _french_clinician(tg)
    await doc.command("/screen", expect="HMN-001")
    first = doc.prompt()
    labels = [b["text"] for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert "Aujourd'hui 21/11" in labels and "Hier 20/11" in labels
    refused = await doc.type("22/11", expect="demain")
    assert "22/11 est demain — tapez la date complète" in refused
    assert "Date des premiers symptômes" in doc.prompt()["text"]  # asked again, nothing stored
    await doc.type("19/11", expect="Date d'admission")
    assert "✓ Date index : 19/11/2026 (jeudi)" in sent_texts(tg)
    await doc.tap("Hier 20/11", expect="Diagnostic confirmé")
    assert "✓ 20/11/2026 (vendredi)" in edited_texts(tg)
    await doc.tap("Oui", expect="Âge")
    reply = await doc.type("54%", expect="ne convient pas")
    assert "un âge en années" in reply
    await doc.type("৫৪", expect="chiffres 0 à 9")
    await doc.type("54", expect="Service")
    assert "✓ Âge : 54 ans" in sent_texts(tg)
    await doc.tap("Réanimation", expect="Surface")
    await doc.type("62,2 %", expect="Sexe")
    assert "✓ Surface décollée : 62,2 %" in sent_texts(tg)


async def test_an_exclusion_states_the_value_and_the_rule(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    await answer_all(doc, ELIGIBLE_MALE[:3])
    await doc.type("80", expect="excludes the patient")
    prompt = doc.prompt()["text"]
    assert "✓ Age: 80 years" in sent_texts(tg)  # the typed answer, as understood
    assert "Age 80 years — the protocol includes 18 to 75 years" in prompt
    # Text where a button is expected gets a useful answer and the buttons again.
    await doc.type("ok", expect="Confirm exclusion")
    assert "tap “Confirm exclusion” or “Change the answer”" in sent_texts(tg)
    await doc.tap("Change the answer", expect="Age (years)")
    keep = [b["text"] for row in doc.prompt()["reply_markup"]["inline_keyboard"] for b in row]
    assert "Keep ✓ 80 years" not in keep  # an excluding answer was never stored
    await doc.type("54", expect="Ward")
    await doc.tap("Back", expect="Age (years)")
    keep = [b["text"] for row in doc.prompt()["reply_markup"]["inline_keyboard"] for b in row]
    assert "Keep ✓ 54 years" in keep
    await doc.tap("Keep ✓ 54 years", expect="Ward")
    await doc.tap("Other", expect="excludes the patient")
    assert "Ward: other (dermatology or intensive care required)" in doc.prompt()["text"]
    await doc.tap("Confirm exclusion", expect="not eligible")
    assert "Ward: other (dermatology or intensive care required)" in doc.last_text()


async def test_social_security_exclusion_reads_as_not_affiliated(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    script = eligible_script(**{"social security": "tap:No"})
    upto = [label for label, _ in script].index("social security") + 1
    await answer_all(doc, script[:upto])
    assert "Not affiliated to a social security scheme" in doc.prompt()["text"]


async def test_pending_hiv_never_reads_positive_in_the_team_group(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    await answer_all(doc, eligible_script(HIV="tap:Pending"))
    await doc.type("ok", expect="Confirm")  # text at the summary: a hint, buttons again
    assert "Tap “Confirm” to get the result" in sent_texts(tg)
    await doc.tap("Confirm", expect="pending")
    result = [m["text"] for m in tg.sent_messages(CLINICIAN) if "HMN-001: pending" in m["text"]]
    assert "HIV serology: result awaited" in result[-1]
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")
    text = notice.result["text"]
    assert "pending" in text and "HIV serology" in text
    assert "positive" not in text.lower() and "68" not in text and "54" not in text
    # /cancel works during SCORTEN (the questions stop; the screening stays pending).
    assert "SCORTEN" in doc.prompt()["text"]
    await doc.command("/cancel", expect="closed")


async def test_scorten_asks_which_unit_was_meant_and_takes_a_rate_per_minute(
    tg: FakeTelegram, start_bot
) -> None:  # type: ignore[no-untyped-def]
    doc = await screening_opened(tg, start_bot)
    await answer_all(doc, ELIGIBLE_MALE)
    await doc.tap("Confirm", expect="Heart rate")
    await doc.type("120/min", expect="urea")
    assert "✓ Heart rate: 120 /min" in sent_texts(tg)
    await doc.type("0,4", expect="Which unit")
    await doc.tap("0.4 g/L", expect="bicarbonate")
    assert "✓ Urea: 6.66 mmol/L (0.4 g/L)" in sent_texts(tg)
    await doc.type("22", expect="glucose")
    await doc.tap("Enter in g/L", expect="g/L")
    await doc.type("2,523", expect="SCORTEN")
    assert "SCORTEN: 4/7" in doc.last_text()  # age 54, BSA 35, HR 120, glucose 14.0027


async def test_withdraw_asks_before_anything_changes(tg: FakeTelegram, start_bot) -> None:  # type: ignore[no-untyped-def]
    await start_bot()
    await add_user(tg, CLINICIAN, "clinician")
    await add_user(tg, COORDINATOR, "coordinator")
    doc = Clinician(tg, CLINICIAN)
    await doc.command("/screen", expect="HMN-001")
    await answer_all(doc, ELIGIBLE_MALE)
    await doc.tap("Confirm", expect="all criteria are met")
    await doc.command("/cancel", expect="closed")
    ask = await doc.command("/withdraw HMN-001 family declined", expect="Withdraw")
    assert "Status: screened" in ask["text"] and "D0 deadline: 23/11/2026 23:59" in ask["text"]
    status = await doc.command("/status", expect="HMN-001")
    assert "withdrawn" not in status["text"]  # nothing changed yet
    await doc.tap("Cancel")
    assert "Withdrawal cancelled" in edited_texts(tg)
    await doc.command("/withdraw HMN-001 family declined", expect="Withdraw")
    await doc.tap("Confirm withdrawal")
    assert "HMN-001 withdrawn. All reminders stopped." in edited_texts(tg)
    notice = await tg.wait_for_message(TEAM_CHAT, contains="withdrawn")
    assert "family" not in notice.result["text"]
