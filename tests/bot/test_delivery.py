"""Replies are retried, a typed answer is taken for the question the clinician was actually
shown, and the screening result (the first D0 reminder) is never recorded as sent before
Telegram accepted it (bot/telegram/delivery.py). Through the real Application with the fake request
layer: Telegram's 429 / 5xx / 400 injected on the next sendMessage; no sleeping (the retry
waits are recorded instead)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.common import Actor
from bot.flows import screening
from bot.telegram import delivery
from storage import screenings as store
from storage import users as user_store
from storage.sql import fetch_all
from tests.bot.fake_request import CLINICIAN, TEAM_CHAT, Harness, answer_all
from tests.conftest import ELIGIBLE_MALE, day

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

RESULT = "all criteria are met"
DOSE = "136 × 10⁶ cells"  # 2 × 10⁶/kg × 68 kg


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits, recorded instead of slept."""
    recorded: list[float] = []

    async def no_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(delivery, "sleep", no_sleep)
    return recorded


@pytest.fixture
async def bot(database_target: Path | str, waits: list[float]) -> AsyncIterator[Harness]:
    async with Harness.started(database_target) as harness:
        await harness.add_user(CLINICIAN, "clinician")
        yield harness


async def answers(bot: Harness, screening_id: int = 1) -> dict[str, str]:
    return await bot.ctx.db.read(store.current_answers, screening_id)


async def next_sweep(bot: Harness) -> None:
    await asyncio.wait_for(bot.app.bot_data["reminder_sender"].next_sweep(), 10)


def received(bot: Harness, chat_id: int, after: int = 0) -> list[str]:
    """What reached the chat: the calls Telegram accepted (not the ones it refused)."""
    return [str(c.params.get("text") or "") for c in bot.sent(chat_id, after) if c.error is None]


def count(bot: Harness, chat_id: int, fragment: str) -> int:
    return sum(fragment in text for text in received(bot, chat_id))


async def test_a_429_on_the_reply_is_waited_for_and_the_next_question_shown(
    bot: Harness, waits: list[float]
) -> None:
    await bot.text(CLINICIAN, "/screen")
    bot.request.fail_next("sendMessage", 429, retry_after=3, chat_id=CLINICIAN)
    await bot.text(CLINICIAN, day(-2))
    assert waits == [3.0]
    assert "Date of admission" in bot.prompt_text(CLINICIAN)
    await bot.text(CLINICIAN, day(-1))
    assert (await answers(bot))["admission_date"] == '"2026-11-20"'


async def test_a_network_error_on_the_reply_is_retried_a_400_is_not(
    bot: Harness, waits: list[float]
) -> None:
    await bot.text(CLINICIAN, "/screen")
    bot.request.fail_next("sendMessage", 502, count=2, chat_id=CLINICIAN)
    await bot.text(CLINICIAN, day(-2))
    assert waits == list(delivery.NETWORK_BACKOFF[:2])
    assert "Date of admission" in bot.prompt_text(CLINICIAN)
    waits.clear()
    mark = bot.mark()
    bot.request.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    await bot.text(CLINICIAN, day(-1))
    assert waits == [] and len(bot.calls("sendMessage", mark)) == 1


async def test_a_retyped_answer_after_a_lost_reply_is_not_stored_for_the_next_question(
    bot: Harness, waits: list[float]
) -> None:
    """The red team's case: a 429 (longer than the bot waits) on the reply after a typed
    symptom date; the clinician sees nothing and types the date again."""
    await bot.text(CLINICIAN, "/screen")
    bot.request.fail_next("sendMessage", 429, count=delivery.REPLY_ATTEMPTS, chat_id=CLINICIAN)
    mark = bot.mark()
    await bot.text(CLINICIAN, day(-2))
    assert received(bot, CLINICIAN, mark) == []  # nothing reached the clinician
    assert len(waits) == delivery.REPLY_ATTEMPTS - 1
    assert await answers(bot) == {"index_date": '"2026-11-19"'}

    mark = bot.mark()
    await bot.text(CLINICIAN, day(-2))  # meant for the symptom date, seen last
    recorded, question = received(bot, CLINICIAN, mark)
    assert "previous answer was recorded" in recorded and "19/11/2026" in recorded
    assert "Date of admission" in question
    assert "admission_date" not in await answers(bot)

    await bot.text(CLINICIAN, day(-1))  # now shown: this is its answer
    assert (await answers(bot))["admission_date"] == '"2026-11-20"'
    assert "Confirmed SJS" in bot.prompt_text(CLINICIAN)


async def test_a_flood_wait_longer_than_the_bound_is_not_waited_for(
    bot: Harness, waits: list[float]
) -> None:
    await bot.text(CLINICIAN, "/screen")
    bot.request.fail_next("sendMessage", 429, retry_after=600, chat_id=CLINICIAN)
    await bot.text(CLINICIAN, day(-2))
    assert waits == []
    await bot.text(CLINICIAN, day(-1))
    assert "admission_date" not in await answers(bot)
    assert "Date of admission" in bot.prompt_text(CLINICIAN)


async def result_rows(bot: Harness) -> list[tuple[str, str]]:
    rows = await bot.ctx.db.read(
        fetch_all,
        "SELECT recipient, state FROM reminders WHERE kind='d0_window' AND step='outcome'",
    )
    return sorted((r["recipient"], r["state"]) for r in rows)


async def test_the_result_lost_to_429_is_delivered_once_by_the_sender(
    bot: Harness, waits: list[float]
) -> None:
    await bot.text(CLINICIAN, "/screen")
    await answer_all(bot, CLINICIAN, ELIGIBLE_MALE)
    bot.request.fail_next("sendMessage", 429, count=delivery.REPLY_ATTEMPTS, chat_id=CLINICIAN)
    await bot.tap(CLINICIAN, "Confirm")
    assert count(bot, CLINICIAN, RESULT) == 0
    # Not recorded as sent: left to the sender, which delivers it — once.
    await next_sweep(bot)
    await next_sweep(bot)
    assert count(bot, CLINICIAN, RESULT) == 1
    (result,) = [x for x in received(bot, CLINICIAN) if RESULT in x]
    assert DOSE in result and "23/11/2026 23:59" in result
    assert count(bot, TEAM_CHAT, "HMN-001") == 1
    assert await result_rows(bot) == [("team", "sent"), (f"user:{CLINICIAN}", "sent")]
    # The SCORTEN question after it never arrived either: a typed value is not taken for it.
    mark = bot.mark()
    await bot.text(CLINICIAN, "95")
    assert "had not reached you" in received(bot, CLINICIAN, mark)[0]
    assert not any(k.startswith("scorten:") for k in await answers(bot))


async def test_the_result_delivered_with_the_reply_is_not_sent_again(bot: Harness) -> None:
    await bot.text(CLINICIAN, "/screen")
    await answer_all(bot, CLINICIAN, ELIGIBLE_MALE)
    bot.request.fail_next("sendMessage", 429, chat_id=CLINICIAN)  # one 429: retried
    await bot.tap(CLINICIAN, "Confirm")
    await next_sweep(bot)
    await next_sweep(bot)
    assert count(bot, CLINICIAN, RESULT) == 1
    assert await result_rows(bot) == [("team", "sent"), (f"user:{CLINICIAN}", "sent")]


async def test_a_crash_before_the_result_reply_then_a_restart_delivers_it_once(
    database_target: Path | str,
) -> None:
    """kill -9 between the commit that closes the screening and the reply: the flow ran (its
    transaction committed), the reply never left. The next start sends the result."""
    path = database_target
    async with Harness.started(path) as first:
        await first.add_user(CLINICIAN, "clinician")
        await first.text(CLINICIAN, "/screen")
        await answer_all(first, CLINICIAN, ELIGIBLE_MALE)
        user = await first.ctx.db.read(user_store.get_user, CLINICIAN)
        clinician = Actor(CLINICIAN, CLINICIAN, True, user, "en", 10_000)
        outs = await screening.summary_button(first.ctx, clinician, "s:1:ok")
        assert any(RESULT in out.text for out in outs)  # what the reply would have said
        await next_sweep(first)
        assert count(first, CLINICIAN, RESULT) == 0  # held for the reply, not the sender's
    async with Harness.started(path) as second:
        await next_sweep(second)
        await next_sweep(second)
        assert count(second, CLINICIAN, RESULT) == 1
        assert await result_rows(second) == [("team", "sent"), (f"user:{CLINICIAN}", "sent")]
    async with Harness.started(path) as third:
        await next_sweep(third)
        assert count(third, CLINICIAN, RESULT) == 0
