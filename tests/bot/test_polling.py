"""The polling loop (bot/telegram/polling.py): an update is confirmed to Telegram only after it has been
handled; a crash re-delivers what was not handled; errors back off; a stop finishes the update
in hand. Against the fake Bot API server, which keeps an update until a getUpdates with a
higher offset confirms it (as Telegram does)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.telegram.polling import FatalPollingError, UpdatePoller
from tests.e2e.fake_telegram import FakeTelegram

USER = 4242


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], object]


async def application(tg: FakeTelegram, handler: Handler) -> Application:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).updater(None).build()
    app.add_handler(TypeHandler(Update, handler))  # type: ignore[arg-type]
    await app.initialize()
    return app


def pending_ids(tg: FakeTelegram) -> list[int]:
    return [u["update_id"] for u in tg.pending_updates()]


class Sleeps:
    """The poller's waits, recorded instead of slept (no real time passes)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float, stop: asyncio.Event) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def test_an_update_is_still_unconfirmed_while_it_is_handled(tg: FakeTelegram) -> None:
    ids = [tg.send_text(USER, f"message {n}") for n in range(5)]
    seen: list[tuple[int, list[int]]] = []

    async def handler(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append((update.update_id, pending_ids(tg)))

    app = await application(tg, handler)
    poller = UpdatePoller(app, timeout=1)
    poller.start()
    try:
        await tg.wait_for(lambda: len(seen) == 5, timeout=10, what="five updates handled")
        # While update N was being handled, Telegram still held it (and every later one).
        for update_id, pending in seen:
            assert update_id in pending
            assert [i for i in ids if i >= update_id] == [i for i in pending if i >= update_id]
        # The next getUpdates confirms them all.
        await tg.wait_for(lambda: not pending_ids(tg), timeout=10, what="all confirmed")
        assert [update_id for update_id, _ in seen] == ids  # in order, once each
    finally:
        await poller.stop()
        await app.shutdown()


async def test_a_crash_mid_batch_redelivers_every_update_not_yet_handled(tg: FakeTelegram) -> None:
    ids = [tg.send_text(USER, f"message {n}") for n in range(6)]
    handled: list[int] = []
    stuck = asyncio.Event()

    async def crashing(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.update_id == ids[3]:
            stuck.set()
            await asyncio.Event().wait()  # the process dies here
        handled.append(update.update_id)

    app = await application(tg, crashing)
    task = asyncio.create_task(UpdatePoller(app, timeout=1).run())
    await asyncio.wait_for(stuck.wait(), timeout=10)
    task.cancel()  # as kill -9: no clean-up, no last confirmation
    with pytest.raises(asyncio.CancelledError):
        await task
    await app.shutdown()
    assert handled == ids[:3]
    assert pending_ids(tg)[-3:] == ids[3:]  # nothing unhandled was confirmed

    again: list[int] = []

    async def recording(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        again.append(update.update_id)

    app = await application(tg, recording)
    poller = UpdatePoller(app, timeout=1)
    poller.start()
    try:
        await tg.wait_for(lambda: ids[-1] in again, timeout=10, what="the rest handled")
        assert set(ids[3:]) <= set(again)  # re-delivered: none lost
        await tg.wait_for(lambda: not pending_ids(tg), timeout=10, what="all confirmed")
    finally:
        await poller.stop()
        await app.shutdown()


async def test_a_stop_finishes_the_update_in_hand_and_confirms_only_what_was_handled(
    tg: FakeTelegram,
) -> None:
    ids = [tg.send_text(USER, f"message {n}") for n in range(5)]
    handled: list[int] = []
    in_hand = asyncio.Event()
    release = asyncio.Event()

    async def slow(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.update_id == ids[1]:
            in_hand.set()
            await release.wait()
        handled.append(update.update_id)

    app = await application(tg, slow)
    poller = UpdatePoller(app, timeout=1)
    poller.start()
    await asyncio.wait_for(in_hand.wait(), timeout=10)
    stopping = asyncio.create_task(poller.stop())
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(stopping, timeout=10)
    await app.shutdown()
    assert handled == ids[:2]
    assert pending_ids(tg) == ids[2:]  # confirmed up to the update in hand, no further


async def test_a_stop_interrupts_a_waiting_long_poll(tg: FakeTelegram) -> None:
    async def nothing(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    app = await application(tg, nothing)
    poller = UpdatePoller(app, timeout=30)
    poller.start()
    await tg.wait_for(lambda: tg.is_polling, timeout=10, what="a long poll")
    await asyncio.wait_for(poller.stop(), timeout=3)  # not 30 s
    await app.shutdown()


async def test_errors_back_off_and_polling_resumes(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lysyme.polling")
    handled: list[int] = []

    async def record(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        handled.append(update.update_id)

    tg.fail_next("getUpdates", 429, retry_after=7)
    tg.fail_next("getUpdates", 502)
    tg.fail_next("getUpdates", 502)
    tg.fail_next("getUpdates", 409, count=3)
    update_id = tg.send_text(USER, "hello")
    app = await application(tg, record)
    sleeps = Sleeps()
    poller = UpdatePoller(app, timeout=1, sleep=sleeps)
    poller.start()
    try:
        await tg.wait_for(lambda: handled == [update_id], timeout=10, what="the update")
    finally:
        await poller.stop()
        await app.shutdown()
    # Flood control waits as told; other errors double the wait (1, 2, then 4, 8, 16).
    assert sleeps.waits == [7.0, 1.0, 2.0, 4.0, 8.0, 16.0]
    conflicts = [r for r in caplog.records if "terminated by other getUpdates" in r.getMessage()]
    assert len(conflicts) == 1  # said once per episode, not every round


async def test_a_revoked_token_ends_polling(tg: FakeTelegram) -> None:
    async def nothing(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    app = await application(tg, nothing)
    tg.fail_next("getUpdates", 401)
    with pytest.raises(FatalPollingError, match="rejected the bot token"):
        await asyncio.wait_for(UpdatePoller(app, timeout=1, sleep=Sleeps()).run(), timeout=10)
    await app.shutdown()


async def test_an_unreadable_update_is_skipped_not_retried_for_ever(tg: FakeTelegram) -> None:
    handled: list[int] = []

    async def record(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        handled.append(update.update_id)

    garbage = tg.send_raw_update({"message": {"message_id": "not a message"}})
    after = tg.send_text(USER, "after")
    app = await application(tg, record)
    poller = UpdatePoller(app, timeout=1)
    poller.start()
    try:
        await tg.wait_for(lambda: after in handled, timeout=10, what="the next update")
        await tg.wait_for(lambda: not pending_ids(tg), timeout=10, what="all confirmed")
    finally:
        await poller.stop()
        await app.shutdown()
    assert garbage not in handled


async def test_the_webhook_is_deleted_only_when_it_is_in_the_way(tg: FakeTelegram) -> None:
    """Polling starts without deleteWebhook (a Bot API server may not have it); a webhook left
    by webhook mode (getUpdates refused with 409) is deleted, its pending updates kept."""
    handled: list[int] = []

    async def recording(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        handled.append(update.update_id)

    app = await application(tg, recording)
    poller = UpdatePoller(app, timeout=1, sleep=Sleeps())
    first = tg.send_text(USER, "before any webhook")
    poller.start()
    try:
        await tg.wait_for(lambda: first in handled, timeout=10, what="polling without a webhook")
        assert "deleteWebhook" not in [c.method for c in tg.calls()]
    finally:
        await poller.stop()

    await app.bot.set_webhook("https://example.invalid/hook")
    second = tg.send_text(USER, "while a webhook was set")
    poller = UpdatePoller(app, timeout=1, sleep=Sleeps())
    poller.start()
    try:
        await tg.wait_for(lambda: second in handled, timeout=10, what="the webhook removed")
        assert [c.method for c in tg.calls()].count("deleteWebhook") == 1
    finally:
        await poller.stop()
        await app.shutdown()
