"""The reminder sender: one asyncio task owned by the Application that turns due rows of the
reminder outbox (storage/reminders.py) into Telegram messages.

Why a task of our own and not PTB's JobQueue: jobs live in memory and are not restored after
a restart (DESIGN.md "Known pitfalls"); our reminders are database rows, so the sender only
has to read them. Every ~2 s, and at once when a flow calls `ctx.wake_sender()` after a
commit, `sweep(now)`:

1. handles idle screenings (a clinician reminded once after 2 h, abandoned after 24 h);
2. claims the due rows in one transaction (`claim_due`);
3. catches up: of several overdue rows of the same (screening, kind, recipient) only the
   latest step is sent — marked late when more than 15 min overdue — the others are marked
   skipped and audited (`reminder_skipped`);
4. for each row, in its own transaction, re-checks the screening (injected, withdrawn, no
   longer eligible → skipped), resolves the recipient ("team", "user:<id>", "last_actor",
   "system") and words the message in the recipient's language; then sends it outside any
   transaction, and marks it sent in a new transaction right after the send returned.

Errors never block other rows: a 429 waits for `retry_after`, a network error retries with
exponential backoff (5 s doubling, capped at 10 min), a permanent error (chat not found, bot
blocked) is recorded as failed and the admins are told once per chat, and a group upgraded to
a supergroup is followed (its new id kept in `meta`, the admins told, the row retried).

`sweep` takes *now* and a `send(chat_id, text, buttons)` coroutine, so tests drive it with a
fake clock and no Telegram; in production `telegram_send(bot)` wraps `Bot.send_message`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from telegram import Bot
from telegram.constants import ParseMode

from bot import health, routing
from bot.callback_data import Prefix
from bot.common import Button, Context, Out
from bot.markup import keyboard, split_message
from bot.reminders import delivery as reminder_delivery
from bot.reminders.state import ADMIN, SWEEP_INTERVAL, Send, SweepResult, SweepState, log
from bot.reminders.sweep import sweep
from bot.reminders.upkeep import PRUNE_EVERY, clock_check, confirm_clock, prune_processed_updates
from storage.errors import StorageError

# --- the task owned by the Application ------------------------------------------------------


class ReminderSender:
    """Runs `sweep` every `interval` seconds, or at once when woken; stops between two rows."""

    def __init__(self, ctx: Context, send: Send, interval: float = SWEEP_INTERVAL) -> None:
        self.ctx = ctx
        self.send = send
        self.interval = interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._swept = asyncio.Event()  # replaced after each sweep: `next_sweep` waits on it
        self.sweeps = 0
        self.state = SweepState()  # claims and sends a database error left unsettled
        self._pruned_at: dt.datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    async def next_sweep(self) -> None:
        """Wait until a sweep that starts after this call has finished (tests, no sleeping)."""
        self.wake()
        await self._swept.wait()  # the sweep running now, if any
        self.wake()
        await self._swept.wait()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lysyme-reminder-sender")
            self.ctx.wake_sender = self.wake

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # a wake during the sweep triggers the next one at once
            try:
                await self.round(self.ctx.now())
            except StorageError as exc:  # recorded for the health check; retried next round
                log.warning("reminder sweep failed: %s: %s", type(exc).__name__, exc)
            except Exception:
                log.exception("reminder sweep failed")
            self.sweeps += 1
            swept, self._swept = self._swept, asyncio.Event()
            swept.set()
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def round(self, now: dt.datetime) -> SweepResult | None:
        """One round: the clock check, a sweep (only the admins' notices while paused), the
        daily pruning. A database error is recorded for the health check (and raised)."""
        wall = dt.datetime.now(dt.UTC)  # liveness is wall-clock time, not the trial clock
        if not self.ctx.leads():  # a standby replica: the leader sends (bot/telegram/leadership.py)
            return None
        try:
            running = await clock_check(self.ctx, now)
            result = await sweep(
                self.ctx, now, self.send, should_stop=lambda: self._stopping,
                state=self.state, kinds=None if running else (ADMIN,),
            )  # fmt: skip
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                await prune_processed_updates(self.ctx, now)
                self._pruned_at = now
        except StorageError as exc:
            health.failing("database", wall, f"{type(exc).__name__}: {exc}")
            raise
        health.recovered("database")
        if result.claimed or result.idle or result.lapsed:
            log.info("reminders: %s", result)
        health.beat("sender", wall)
        return result

    async def stop(self, grace: float = 10.0) -> None:
        """Drain: the sweep stops after the row being sent (and releases what it claimed);
        cancelled only if it takes longer than `grace` (rows left claimed are released at
        shutdown and at the next start)."""
        self._stopping = True
        self.ctx.wake_sender = lambda: None
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def telegram_send(bot: Bot) -> Send:
    """The production `send`: HTML, inline keyboard, split under 4,096 characters."""

    async def send(chat_id: int, text: str, buttons: list[list[Button]]) -> int | None:
        chunks = split_message(text)
        message_id = None
        for position, chunk in enumerate(chunks):
            last = position == len(chunks) - 1
            markup = keyboard(Out(chunk, buttons)) if last else None
            sent = await bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          disable_notification=reminder_delivery.SILENT.get())  # fmt: skip
            message_id = sent.message_id
        return message_id  # the last part: the one with the buttons

    return send


SENDER_KEY = "reminder_sender"


async def start_sender(application: Any, ctx: Context) -> None:
    """Start hook: start the sender (stop hooks run in post_stop, while the bot's HTTP
    client is still open, so the sender can finish the message in flight)."""
    sender = ReminderSender(ctx, telegram_send(application.bot))
    application.bot_data[SENDER_KEY] = sender
    sender.start()


async def stop_sender(application: Any, ctx: Context | None) -> None:
    """Stop hook: drain and stop the sender (idempotent)."""
    sender: ReminderSender | None = application.bot_data.pop(SENDER_KEY, None)
    if sender is not None:
        await sender.stop()


FEATURE = routing.Feature(
    "reminder sender",
    # The pause notice's button: admins only (/users is the admins' command).
    callbacks=(routing.Callback(Prefix.CLOCK, "users", confirm_clock),),
    on_start=(start_sender,),
    on_stop=(stop_sender,),
)
