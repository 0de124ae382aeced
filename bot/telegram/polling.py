"""Polling that confirms an update to Telegram only once it has been handled.

Telegram keeps an update until a getUpdates call with a higher ``offset`` confirms it.
python-telegram-bot's `Updater` confirms a batch as soon as it has *queued* it, so a kill -9
between the fetch and the handling loses the batch. Here the offset advances only after
`Application.process_update` has returned for the update (its transaction committed, its reply
sent or failed): a crash re-delivers every update not yet handled, and the `processed_updates`
record (bot/flows/screening.py `begin`) drops the one that was mid-way, if it had committed.

`UpdatePoller` is one asyncio task: fetch (long poll) → handle each update in order → fetch
with the next offset. `serve_polling` runs an Application with it, as `run_polling` would:
initialize, post_init, start, poll until SIGTERM/SIGINT, then stop, post_stop, shutdown,
post_shutdown. A stop signal interrupts a waiting long poll at once; an update being handled
is finished first (the rest of its batch stays unconfirmed, for the next run).

The getUpdates request goes through the Bot's own getUpdates request layer, which beats the
`poll` heartbeat (bot/telegram/wrapped_request.py `BeatingRequest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.fencing import LeaseLost, check_lead, leader_only

log = logging.getLogger("lysyme.polling")

#: Seconds Telegram holds a getUpdates open when there is nothing to deliver.
POLL_TIMEOUT = 10
#: Updates per getUpdates (Telegram's maximum).
BATCH_LIMIT = 100
#: Waits between failed getUpdates rounds: doubled each time, up to the last value.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0

# The raw getUpdates answer is wanted (each update parsed on its own, so one malformed update
# cannot block the rest, and PTB's parse-error log, which prints every update's text, is
# avoided); `do_api_request` warns that `get_updates` exists.
warnings.filterwarnings("ignore", message=r".*Bot\.getUpdates.*", category=PTBUserWarning)

Sleep = Callable[[float, asyncio.Event], Awaitable[None]]


async def _sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class FatalPollingError(Exception):
    """Polling cannot go on (the token was revoked): one line for the operator."""


class UpdatePoller:
    """Fetch, handle, and only then confirm (the next getUpdates carries the new offset)."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        *,
        timeout: int = POLL_TIMEOUT,
        limit: int = BATCH_LIMIT,
        allowed_updates: Sequence[str] = Update.ALL_TYPES,
        sleep: Sleep = _sleep_unless_stopped,
    ) -> None:
        self.application = application
        self.timeout = timeout
        self.limit = limit
        self.allowed_updates = list(allowed_updates)
        self.sleep = sleep
        #: The next getUpdates offset: every update below it has been handled.
        self.offset: int | None = None
        #: The offset Telegram has been told about (by a successful getUpdates).
        self.confirmed: int | None = None
        self.stop_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: The leader lease's `live` (bot/telegram/leadership.py): each getUpdates is refused once it is
        #: false, immediately before the request leaves. None: always allowed (one process).
        self.live: Callable[[], bool] | None = None

    # --- as a task (tests, and serve_polling) -----------------------------------------------

    def start(self) -> None:
        self.stop_event.clear()
        self._task = asyncio.create_task(self.run(), name="lysyme-poller")

    async def stop(self) -> None:
        """Interrupt the long poll, finish the update in hand, confirm what was handled."""
        self.stop_event.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    # --- the loop ----------------------------------------------------------------------------

    async def _delete_webhook(self) -> None:
        """Remove a webhook left by webhook mode, keeping its pending updates. A failure is
        not fatal (logged): the next getUpdates says whether the webhook is still there."""
        try:
            await self.application.bot.delete_webhook(drop_pending_updates=False)
        except TelegramError as exc:
            log.warning("deleteWebhook failed: %s", exc.message)

    async def run(self) -> None:
        backoff = FIRST_BACKOFF
        conflict_reported = False
        # getUpdates is refused (409) while a webhook is set: the webhook is deleted only then,
        # so a Bot API server without deleteWebhook (self-hosted, emulators) polls as well.
        webhook_in_the_way = False
        while not self.stop_event.is_set():
            try:
                if webhook_in_the_way:
                    webhook_in_the_way = False
                    await self._delete_webhook()
                raw = await self._fetch()
            except _Stopped:
                break
            except LeaseLost:
                log.warning("getUpdates: this replica no longer leads; polling stops")
                break
            except RetryAfter as exc:
                delay = _seconds(exc)
                log.warning("getUpdates: flood control, retrying in %.0f s", delay)
            except (InvalidToken, EndPointNotFound) as exc:  # 401/404: PTB names it by endpoint
                raise FatalPollingError(
                    "Telegram rejected the bot token while polling (revoked?)"
                ) from exc
            except Conflict as exc:
                # Another process polls this bot (on another machine: one process per
                # database is enforced locally), or a webhook is set.
                if not conflict_reported:
                    log.error("getUpdates refused: %s; retrying with backoff", exc.message)
                    conflict_reported = True
                webhook_in_the_way = "webhook" in exc.message.lower()
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            except NetworkError as exc:  # timeouts, refused connections, 5xx
                log.warning("getUpdates failed: %s; retrying in %.0f s", exc.message, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            except TelegramError as exc:
                log.warning("getUpdates failed: %s; retrying in %.0f s", exc.message, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            else:
                backoff, conflict_reported = FIRST_BACKOFF, False
                self.confirmed = self.offset
                await self._handle_batch(raw)
                continue
            await self.sleep(delay, self.stop_event)
        await self._confirm_handled()

    async def _fetch(self) -> list[Any]:
        """One getUpdates (long poll) with the offset of the handled updates; raises _Stopped
        if a stop comes first (nothing fetched is lost: it is not confirmed)."""
        request = asyncio.ensure_future(self._get_updates(self.offset, self.timeout, self.limit))
        stopped = asyncio.ensure_future(self.stop_event.wait())
        try:
            await asyncio.wait({request, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not request.done():
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await request
            raise _Stopped
        return request.result()

    async def _get_updates(self, offset: int | None, wait: int, limit: int) -> list[Any]:
        params: dict[str, Any] = {
            "timeout": wait,
            "limit": limit,
            "allowed_updates": self.allowed_updates,
        }
        if offset is not None:
            params["offset"] = offset
        with leader_only(self.live):
            check_lead("getUpdates")
            result = await self.application.bot.do_api_request(
                "getUpdates", api_kwargs=params, read_timeout=wait + 10.0
            )
        return result if isinstance(result, list) else []

    async def _handle_batch(self, raw: list[Any]) -> None:
        for data in raw:
            if self.stop_event.is_set():
                return  # the rest stays unconfirmed: re-delivered to the next run
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(update_id, int):
                log.warning("getUpdates: skipped an entry without an update id")
                continue
            if self.offset is not None and update_id < self.offset:
                continue  # already handled (a re-delivery of a confirmed id)
            try:
                update = Update.de_json(data, self.application.bot)
            except Exception:  # a malformed update is confirmed, not retried for ever
                log.warning("update %s: unreadable, skipped", update_id)
            else:
                try:
                    await self.application.process_update(update)
                except Exception:  # the handlers answer errors themselves; this is a backstop
                    log.exception("update %s: handling failed", update_id)
            self.offset = update_id + 1  # handled: the next getUpdates confirms it

    async def _confirm_handled(self) -> None:
        """At a stop: tell Telegram about the updates handled since the last getUpdates, so
        the next run does not receive them again (best effort: they are deduplicated)."""
        if self.offset is None or self.offset == self.confirmed:
            return
        try:
            await asyncio.wait_for(self._get_updates(self.offset, 0, 1), timeout=5.0)
            self.confirmed = self.offset
        except (TelegramError, TimeoutError) as exc:
            log.info("could not confirm the last handled updates: %s", exc)


class _Stopped(Exception):
    """A stop came while waiting for getUpdates."""


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total() if callable(total) else value)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: `application.bot_data[ON_STOP_SIGNAL]()`, if set, is called when a stop signal comes
#: (bot/app.py: the stop's deadline starts then, the update in hand included).
ON_STOP_SIGNAL = "on_stop_signal"


async def poll_while_leading(
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
    leadership: Any | None,
) -> None:
    """Poll while this replica leads (bot/telegram/leadership.py; None: always), until `stop`. A
    standby waits; when it becomes the leader it polls from Telegram's first unconfirmed
    update (those the old leader handled but had not confirmed are dropped by the
    `processed_updates` record). A leader that loses its lease stops polling at once."""
    while not stop.is_set():
        if leadership is not None and not await leadership.wait_until_leading(stop):
            return
        poller = UpdatePoller(application)
        poller.live = leadership.live if leadership is not None else None
        polling = asyncio.create_task(poller.run(), name="lysyme-poller")
        ending = asyncio.ensure_future(
            stop.wait() if leadership is None else leadership.wait_until_not_leading(stop)
        )
        try:
            await asyncio.wait({polling, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ending.cancel()
            poller.stop_event.set()
            await polling  # finishes the update in hand; FatalPollingError propagates
        if leadership is None:
            return


async def serve_polling(application: Application) -> None:  # type: ignore[type-arg]
    """Run `application` with an `UpdatePoller` until SIGTERM / SIGINT (like `run_polling`),
    polling only while this replica leads (PostgreSQL replicas: bot/telegram/leadership.py). Raises
    InvalidToken from initialize (getMe), FatalPollingError if the token is revoked."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stopping() -> None:
        stop.set()
        hook = application.bot_data.get(ON_STOP_SIGNAL)
        if hook is not None:
            hook()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping)
    try:
        await application.initialize()
        try:
            if application.post_init:
                await application.post_init(application)
            if stop.is_set():
                return
            await application.start()
            await poll_while_leading(application, stop, application.bot_data.get("leadership"))
        finally:
            if application.running:
                await application.stop()
                if application.post_stop:
                    await application.post_stop(application)
            await application.shutdown()
            if application.post_shutdown:
                await application.post_shutdown(application)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
