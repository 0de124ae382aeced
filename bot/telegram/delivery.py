"""Replies are retried, and what a reply delivers is recorded only once Telegram accepted it.

* `with_retries(call)`: a reply is retried on flood control (`RetryAfter`: wait `retry_after`,
  when it is short) and on transient network errors (`TimedOut`, `NetworkError`: a short
  backoff), a bounded number of times; never on `BadRequest` (the same request would be
  refused again) nor on `Forbidden`.
* `delivered(ctx, out, message_id)`: after Telegram accepted `out`: the prompt it shows
  becomes the screening's `shown` prompt (a typed answer is taken only for that question),
  and the outbox row it delivers (the screening result, which is the first D0 reminder) is
  marked sent.
* `release(ctx, ids)`: outbox rows held for replies that were not delivered go back to the
  reminder sender, which sends them (retried, caught up after a restart). A crash between
  the commit and the reply leaves them claimed: `release_claimed` at the next start does it.

No Telegram type leaves this module except the exceptions `with_retries` re-raises.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.common import Context, Out
from storage import reminders as outbox
from storage import screenings as store
from storage.errors import StorageError

log = logging.getLogger("lysyme.delivery")

T = TypeVar("T")

#: Attempts of one reply in all (the first and the retries).
REPLY_ATTEMPTS = 4
#: A flood-control wait longer than this is not waited for inside an update's handling (the
#: next updates wait behind it): the reply is given up, its outbox row goes to the sender and
#: an undelivered question is shown again when the clinician types.
REPLY_MAX_WAIT = 30.0
#: Seconds before each retry after a network error.
NETWORK_BACKOFF = (0.5, 1.0, 2.0)

#: Replaced by tests (no sleeping in tests): `await sleep(seconds)`.
sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB 22 warns on reading an int `retry_after` (it becomes a timedelta in v23)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, retried on RetryAfter and transient network errors (bounded)."""
    for attempt in range(REPLY_ATTEMPTS):
        last = attempt == REPLY_ATTEMPTS - 1
        try:
            return await call()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            if last or wait > REPLY_MAX_WAIT:
                raise
            log.info("reply throttled by Telegram: retried in %.0f s", wait)
            await sleep(wait)
        except BadRequest:
            raise  # a NetworkError subclass, but permanent: the same request fails again
        except NetworkError as exc:  # includes TimedOut
            if last:
                raise
            log.info("reply failed (%s): retried", type(exc).__name__)
            await sleep(NETWORK_BACKOFF[min(attempt, len(NETWORK_BACKOFF) - 1)])
    raise AssertionError("unreachable: the last attempt returns or raises")


async def delivered(ctx: Context, out: Out, message_id: int | None) -> None:
    """Telegram accepted `out` (as message `message_id`): record what it delivered."""
    if out.delivers is None and (out.shows is None or out.prompt_for is None):
        return
    try:
        if out.shows is not None and out.prompt_for is not None:
            # Which prompt the chat shows: no durable commit of its own (issue 21) — lost in
            # a power cut, it only asks the question again.
            await ctx.db.defer(store.record_shown, out.prompt_for, out.shows, message_id)
        if out.delivers is not None:  # a held row: delivered, durably
            await ctx.db.write(outbox.mark_delivered, out.delivers, ctx.now())
    except StorageError as exc:
        # The message is out; not recording it means at worst the question is shown again
        # when the clinician types, and the held result is sent once more after a restart.
        log.warning("delivery of a reply not recorded: %s", exc)


async def release(ctx: Context, ids: Iterable[int]) -> None:
    """Rows held for replies that were not delivered: to the reminder sender, at once."""
    ids = list(ids)
    if not ids:
        return
    try:
        released = await ctx.db.write(outbox.release, ids)
    except StorageError as exc:  # still claimed: released at the next start
        log.warning("held reminders %s not released: %s", ids, exc)
        return
    if released:
        log.info("%d reminder(s) of an undelivered reply left to the sender", released)
        ctx.wake_sender()


async def printed(ctx: Context, outs: Iterable[Out]) -> None:
    """The offline console shows everything it is given: each message is delivered."""
    for out in outs:
        await delivered(ctx, out, None)
