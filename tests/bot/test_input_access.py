"""Forged input and a failing database at the gate (issue 12, item 9): callback data with
non-ASCII digits, Telegram ids out of range or of the wrong sign, a database error in the
access check or in a flow — always a clear answer, never a half-written state; handled update
ids forgotten after 8 days."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.reminders.sender import SENDER_KEY, ReminderSender
from bot.texts import t
from storage import screenings as store
from storage.errors import StorageUnavailable
from storage.sql import execute, fetch_all
from storage.timefmt import to_db
from tests.bot.fake_request import ADMIN, CLINICIAN, ELIGIBLE_MALE, Harness, answer_all
from tests.conftest import day, sqlite_only


@pytest.fixture
async def bot(database_target: Path | str) -> AsyncIterator[Harness]:
    async with Harness.started(database_target) as harness:
        await harness.add_user(CLINICIAN, "clinician")
        await harness.text(CLINICIAN, "/screen")
        yield harness


async def count(bot: Harness, table: str) -> int:
    rows = await bot.ctx.db.read(fetch_all, f"SELECT COUNT(*) AS n FROM {table}")
    return int(rows[0]["n"])


@pytest.mark.parametrize("number", ["²", "١", "𝟙", "9" * 30])
async def test_callback_data_with_non_ascii_or_huge_numbers_is_stale_not_a_crash(
    bot: Harness, number: str
) -> None:
    for prefix in ("a", "b", "x", "s", "e", "m", "d", "u", "f"):
        mark = bot.mark()
        await bot.press(CLINICIAN, f"{prefix}:{number}:index_date:today")
        (answer,) = bot.calls("answerCallbackQuery", mark)
        assert "no longer" in str(answer.params.get("text")), (prefix, answer.params)  # stale
        assert not any("went wrong" in text for text in bot.texts(CLINICIAN, mark)), prefix


async def test_a_reason_typed_with_a_nul_character_is_recorded_without_it(bot: Harness) -> None:
    """U+0000 (a forged client; PostgreSQL cannot store it) is dropped from what is typed: the
    withdrawal is recorded, not refused as a database error."""
    await bot.text(CLINICIAN, "/cancel")
    await bot.text(CLINICIAN, "/screen")
    await answer_all(bot, CLINICIAN, ELIGIBLE_MALE)
    await bot.tap(CLINICIAN, "Confirm")
    number = (await bot.ctx.db.read(store.list_screenings))[-1].number
    await bot.text(CLINICIAN, f"/withdraw {number} family\x00 declined\x00")
    mark = bot.mark()
    await bot.tap(CLINICIAN, "Confirm withdrawal")
    assert any(f"<b>{number}</b> withdrawn" in text for text in bot.texts(CLINICIAN, mark))
    withdrawn = await bot.ctx.db.read(store.get_by_number, number)
    assert withdrawn is not None and withdrawn.status == store.WITHDRAWN
    assert withdrawn.withdrawn_reason == "family declined"


@sqlite_only
@pytest.mark.parametrize("value", ["9999999999999999999", "-5", "-1001234", "0", "²", "١٢"])
async def test_adduser_refuses_ids_that_cannot_be_a_telegram_user(bot: Harness, value: str) -> None:
    users = await count(bot, "users")
    mark = bot.mark()
    await bot.text(ADMIN, f"/adduser {value} clinician")
    (reply,) = bot.texts(ADMIN, mark)
    assert "is not a Telegram user id" in reply and "positive" in reply
    assert await count(bot, "users") == users
    mark = bot.mark()
    await bot.text(ADMIN, f"/removeuser {value}")
    assert "is not a Telegram user id" in bot.texts(ADMIN, mark)[0]


async def test_the_largest_telegram_id_is_accepted(bot: Harness) -> None:
    mark = bot.mark()
    await bot.text(ADMIN, f"/adduser {2**63 - 1} coordinator")
    assert str(2**63 - 1) in bot.texts(ADMIN, mark)[0]


async def test_a_database_error_in_the_access_check_answers_the_user(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object) -> object:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(store, "user_and_session", locked)
    for send in (bot.text(CLINICIAN, day(-2)), bot.text(CLINICIAN, "/status")):
        mark = bot.mark()
        await send
        assert bot.texts(CLINICIAN, mark) == [t("en", "error.temporary")]
    mark = bot.mark()
    await bot.press(CLINICIAN, "zz:1")  # an unknown button: read by the gate too
    (answer,) = bot.calls("answerCallbackQuery", mark)
    assert answer.params.get("text") == t("en", "error.temporary")


async def test_a_database_error_in_a_flow_answers_and_writes_nothing(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, audit = await count(bot, "answers"), await count(bot, "audit")

    def full(*args: object, **kwargs: object) -> object:
        raise StorageUnavailable("database or disk is full")

    monkeypatch.setattr(store, "add_answer", full)
    mark = bot.mark()
    await bot.text(CLINICIAN, day(-2))
    assert bot.texts(CLINICIAN, mark) == [t("en", "error.temporary")]
    assert (await count(bot, "answers"), await count(bot, "audit")) == (answers, audit)
    monkeypatch.undo()
    await bot.text(CLINICIAN, day(-2))  # the retry works, the question moves on
    assert "Date of admission" in bot.prompt_text(CLINICIAN)


async def test_handled_update_ids_are_forgotten_after_eight_days(bot: Harness) -> None:
    now = bot.clock()
    await bot.ctx.db.write(
        execute,
        "INSERT INTO processed_updates(update_id, processed_at) "
        "VALUES (:old, :old_at), (:recent, :recent_at)",
        {"old": 900_001, "old_at": to_db(now - dt.timedelta(days=8, minutes=1)),
         "recent": 900_002, "recent_at": to_db(now - dt.timedelta(days=7, hours=23))},
    )  # fmt: skip
    sender: ReminderSender = bot.app.bot_data[SENDER_KEY]
    sender._pruned_at = None  # the daily pruning is due
    await sender.round(now)
    rows = await bot.ctx.db.read(fetch_all, "SELECT update_id FROM processed_updates")
    kept = {r["update_id"] for r in rows}
    assert 900_001 not in kept and 900_002 in kept
