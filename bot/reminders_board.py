"""The team's morning board (issue 14): at 08:00 local, one message in the team group listing
every open patient (number, outcome, D0 deadline and time left, owner, plan, names of pending
criteria), soonest deadline first; edited in place (editMessageText) during the day whenever
what it says changes (taken, planned, injected, withdrawn, new patient). Its message id is
kept in the database (`boards`, one row per local day), so a restart edits the same message.

`board_tick(ctx, now, post, edit)` does one check with injected Telegram calls (tests drive it
on the FakeClock); `BoardKeeper` runs it every `INTERVAL` seconds in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import routing
from bot.common import Context
from bot.texts import t
from conversations.schedule import MORNING
from storage import ownership as own_store
from storage import queries
from storage import screenings as store
from storage.connection import Connection

log = logging.getLogger("lysyme.board")

INTERVAL = 20.0  # seconds between checks
Post = Callable[[int, str], Awaitable[int]]  # (chat, text) → message id
Edit = Callable[[int, int, str], Awaitable[None]]  # (chat, message id, text)


async def render(conn: Connection, ctx: Context, now: dt.datetime) -> tuple[str, str]:
    """(text, what it says without the clock-dependent parts): the board is edited only when
    the second one changes, not every minute because "time left" moved."""
    from bot.flows.reminder_log import board_line

    lang = ctx.settings.language or "fr"
    patients = [s for s in await queries.open_screenings(conn) if s.status == store.SCREENED]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    patients.sort(key=lambda s: (s.d0_deadline or far, s.sequence))
    lines, key = [], []
    for s in patients:
        loop = await own_store.get_loop(conn, s.id)
        names = await own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
        lines.append(board_line(lang, ctx, s, loop, names, now))
        key.append(
            f"{s.number}|{s.outcome}|{','.join(s.reasons)}|{loop.owner_id}|{loop.planned_at}"
        )
    local = now.astimezone(ctx.zone)
    title = t(lang, "board.title", date=local.strftime("%d/%m/%Y"), at=local.strftime("%H:%M"))
    body = lines or [t(lang, "board.empty")]
    return "\n".join([title, "", *body]), "\n".join(key)


async def board_tick(ctx: Context, now: dt.datetime, post: Post, edit: Edit) -> str:
    """Post today's board at 08:00, or edit it if what it says changed. Returns what it did:
    "early", "no team chat", "posted", "edited" or "unchanged"."""
    from bot.jobs import team_chat_id

    local = now.astimezone(ctx.zone)
    if local.time() < MORNING:
        return "early"
    async with ctx.db.transaction() as conn:
        team = await team_chat_id(conn, ctx)
        board = await own_store.get_board(conn, local.date())
        text, key = await render(conn, ctx, now)
    if team is None:
        return "no team chat"
    if board is None:
        message_id = await post(team, text)  # outside any transaction
        async with ctx.db.transaction() as conn:
            await own_store.save_board(
                conn, own_store.Board(local.date(), team, message_id, key), now
            )
        return "posted"
    if board.text == key:
        return "unchanged"
    try:
        await edit(board.chat_id, board.message_id, text)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    async with ctx.db.transaction() as conn:
        await own_store.save_board(conn, own_store.Board(local.date(), board.chat_id, board.message_id, key), now)  # fmt: skip
    return "edited"


class BoardKeeper:
    def __init__(self, ctx: Context, bot: Any) -> None:
        self.ctx = ctx
        self.bot = bot
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def _post(self, chat: int, text: str) -> int:
        message = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML)
        return int(message.message_id)

    async def _edit(self, chat: int, message_id: int, text: str) -> None:
        await self.bot.edit_message_text(text, chat_id=chat, message_id=message_id,
                                         parse_mode=ParseMode.HTML)  # fmt: skip

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await board_tick(self.ctx, self.ctx.now(), self._post, self._edit)
            except TelegramError as exc:
                log.warning("morning board: %s", exc)
            except Exception:
                log.exception("morning board failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), INTERVAL)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lysyme-board")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 10)
            self._task = None


KEY = "morning_board"


async def start_board(application: Any, ctx: Context) -> None:
    keeper = BoardKeeper(ctx, application.bot)
    application.bot_data[KEY] = keeper
    keeper.start()


async def stop_board(application: Any, ctx: Context | None) -> None:
    keeper: BoardKeeper | None = application.bot_data.pop(KEY, None)
    if keeper is not None:
        await keeper.stop()


FEATURE = routing.Feature("morning board", on_start=(start_board,), on_stop=(stop_board,))
