"""The team's morning board (issue 14): the team group's 08:00 message. One message listing
every open patient (number, outcome, D0 deadline and time left, owner, plan, names of pending
criteria), soonest deadline first, with each patient's three acknowledgement buttons
("✋ HMN-001" I'm on it, "🗓 HMN-001" injection planned…, "🚫 HMN-001" not injecting: the
same `o:` callbacks as the D0 reminders, `o:<screening id>:<board row id>:t|p|n`).

- **Sent once a day, through the outbox.** The board is a row of the reminder outbox (kind
  `board`, step = the local date, recipient the team), scheduled for 08:00 of each day on
  which an open patient has a morning step of the D0 window (`schedule_boards`, at most one
  row a day). So it survives restarts, is caught up after downtime (only the latest day's
  board, marked late) and is shown in /reminders. The team's own per-patient rows of the
  08:00 steps are skipped "on the board" (bot/reminders/sender.py); the private ones still go out, and
  the urgent steps (last day 14:00 and 20:00, window closed) stay separate team messages.
  Like any reminder, the one message that can be doubled is the one whose 200 OK came back
  just before a kill -9 (docs/REMINDERS.md).
- **Edited in place.** Its message id is kept in `boards` (one row a day, with what it says
  without the clock-dependent parts); pressing a button edits it at once
  (`refreshed_board`), and `BoardKeeper` edits it every `INTERVAL` seconds when what it says
  changed (injected, withdrawn, a new patient…), buttons kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import callback_data as cd
from bot import routing
from bot.callback_data import NOT_INJECTING, PLAN, TAKE
from bot.common import Button, Context, Out
from bot.criteria import awaited_names
from bot.fencing import check_lead, leader_only
from bot.markup import keyboard
from bot.present import local_time, time_left
from bot.reminders.decisions import Decision, Message, Skip
from bot.texts import Raw, t
from conversations import schedule
from conversations.eligibility import Outcome
from conversations.reminder_kinds import ReminderKind
from conversations.windows import UTC, at_local
from storage import ownership as own_store
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage.reminders import Reminder
from storage.screenings import Screening

log = logging.getLogger("lysyme.board")

INTERVAL = 20.0  # seconds between checks
Edit = Callable[
    [int, int, str, list[list[Button]]], Awaitable[None]
]  # chat, message, text, buttons
NOTHING_OPEN = "no open patient"
#: Telegram takes at most 100 inline buttons (3 per patient) and 4,096 characters: the
#: soonest deadlines first, the rest counted ("… and 3 more").
MAX_PATIENTS = 25
MAX_CHARS = 3500
#: What the board showed when sent, kept until Telegram accepted it (then in `boards`).
SHOWN_META = "board_shown:"


@dataclass(frozen=True)
class Entry:
    screening: Screening
    loop: own_store.Loop
    names: dict[int, str]


def entries(conn: Connection, now: dt.datetime) -> list[Entry]:
    """The open patients whose window is still open, soonest deadline first."""
    patients = [
        s
        for s in queries.open_screenings(conn)
        if s.status == store.SCREENED and (s.d0_deadline is None or s.d0_deadline >= now)
    ]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    patients.sort(key=lambda s: (s.d0_deadline or far, s.sequence))
    found = []
    for s in patients:
        loop = own_store.get_loop(conn, s.id)
        names = own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
        found.append(Entry(s, loop, names))
    return found


def key_of(found: list[Entry]) -> str:
    """What the board says without its clock-dependent parts: edited only when this changes,
    not every minute because "time left" moved."""
    return "\n".join(
        f"{e.screening.number}|{e.screening.outcome}|{','.join(e.screening.reasons)}|"
        f"{e.loop.owner_id}|{e.names.get(e.loop.owner_id or 0)}|{e.loop.taken_at}|"
        f"{e.loop.planned_at}"
        for e in found
    )


def buttons_for(lang: str, s: Screening, board_row_id: int) -> list[Button]:
    def data(action: cd.OwnershipAction) -> str:
        return cd.encode(cd.Ownership(s.id, board_row_id, action))

    return [
        Button(t(lang, "board.btn.take", number=s.number), data(TAKE)),
        Button(t(lang, "board.btn.plan", number=s.number), data(PLAN)),
        Button(t(lang, "board.btn.not_injecting", number=s.number), data(NOT_INJECTING)),
    ]


def render(
    lang: str, ctx: Context, found: list[Entry], now: dt.datetime, board_row_id: int | None
) -> tuple[str, list[list[Button]]]:
    """The board's text and buttons (no buttons without the board's row: a board posted
    before the boards were rows of the outbox)."""
    local = now.astimezone(ctx.zone)
    title = t(lang, "board.title", date=local.strftime("%d/%m/%Y"), at=local.strftime("%H:%M"))
    lines: list[str] = []
    rows: list[list[Button]] = []
    length = len(title)
    for position, e in enumerate(found):
        line = board_line(lang, ctx, e.screening, e.loop, e.names, now)
        if position >= MAX_PATIENTS or length + len(line) > MAX_CHARS:
            lines.append(t(lang, "board.more", count=len(found) - position))
            break
        lines.append(line)
        length += len(line) + 1
        if board_row_id is not None:
            rows.append(buttons_for(lang, e.screening, board_row_id))
    if not found:
        lines.append(t(lang, "board.empty"))
    footer = ["", t(lang, "board.legend")] if rows else []
    return "\n".join([title, "", *lines, *footer]), rows


# --- the board row in the outbox ------------------------------------------------------------


def ensure_board(conn: Connection, ctx: Context, day: dt.date) -> bool:
    """The board row of that local day, due at 08:00 (at most one a day, whatever its state;
    none if a board was already posted that day). True if it was written now."""
    if own_store.board_row_id(conn, day) is not None:
        return False
    if own_store.get_board(conn, day) is not None:
        return False
    due = at_local(day, schedule.MORNING, ctx.zone).astimezone(UTC)
    outbox.schedule(conn, None, ReminderKind.BOARD, day.isoformat(), due, [outbox.TEAM])
    return True


def listed_on_the_board(
    conn: Connection, ctx: Context, row: Reminder, now: dt.datetime, reason: str
) -> Skip:
    """A team 08:00 row the core put on the board (`Action.BOARD`): not sent on its own; the
    board of that day is made sure of (a row written before the boards were has none)."""
    day = row.due_at.astimezone(ctx.zone).date()
    if day == now.astimezone(ctx.zone).date():
        ensure_board(conn, ctx, day)
    return Skip(reason)


def schedule_boards(conn: Connection, ctx: Context, admission: dt.date, now: dt.datetime) -> None:
    """A board on each morning of this patient's D0 window still ahead."""
    for step in schedule.future_window_steps(admission, now, ctx.zone):
        if step.step in schedule.MORNING_STEPS:
            ensure_board(conn, ctx, step.due.astimezone(ctx.zone).date())


def decision(conn: Connection, ctx: Context, row: Reminder, now: dt.datetime) -> Decision:
    """The sender's branch for a board row: the board as it is now (what it shows is kept,
    to be recorded once Telegram accepted it), or skipped when no patient is open."""
    found = entries(conn, now)
    if not found:
        return Skip(NOTHING_OPEN)
    store.set_meta(conn, f"{SHOWN_META}{row.id}", key_of(found))
    return Message(lambda lang: render(lang, ctx, found, now, row.id))


def record_posted(
    conn: Connection, row: Reminder, chat_id: int, message_id: int | None,
    now: dt.datetime,
) -> None:  # fmt: skip
    """Telegram accepted the board: its message is the one edited that day."""
    shown = store.get_meta(conn, f"{SHOWN_META}{row.id}")
    store.delete_meta(conn, f"{SHOWN_META}{row.id}")
    if message_id is None:
        return
    day = dt.date.fromisoformat(row.step)
    own_store.save_board(conn, own_store.Board(day, chat_id, message_id, shown or ""), now)


# --- edited in place ------------------------------------------------------------------------


def _current(
    conn: Connection, ctx: Context, now: dt.datetime
) -> tuple[own_store.Board, int | None, list[Entry]] | None:
    board = own_store.latest_board(conn, now.astimezone(ctx.zone).date())
    if board is None:
        return None
    row_id = own_store.reminder_of_message(conn, board.chat_id, board.message_id)
    return board, row_id, entries(conn, now)


def refreshed_board(conn: Connection, ctx: Context, now: dt.datetime) -> list[Out]:
    """The latest board, re-worded now (a button was pressed): an edit, and what it shows
    recorded (in the caller's transaction) so the keeper does not edit it again."""
    current = _current(conn, ctx, now)
    if current is None:
        return []
    board, row_id, found = current
    key = key_of(found)
    if key == board.text:
        return []
    text, buttons = render(ctx.settings.language or "fr", ctx, found, now, row_id)
    own_store.save_board(conn, own_store.Board(board.day, board.chat_id, board.message_id, key), now)  # fmt: skip
    return [Out(text, buttons, chat_id=board.chat_id, edit=board.message_id)]


async def board_tick(ctx: Context, now: dt.datetime, edit: Edit) -> str:
    """Edit the latest board if what it says changed. Returns what it did: "no board",
    "edited" or "unchanged"."""
    current = await ctx.db.write(_current, ctx, now)
    if current is None:
        return "no board"
    board, row_id, found = current
    key = key_of(found)
    if board.text == key:
        return "unchanged"
    text, buttons = render(ctx.settings.language or "fr", ctx, found, now, row_id)
    try:
        await edit(board.chat_id, board.message_id, text, buttons)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise

    saved = own_store.Board(board.day, board.chat_id, board.message_id, key)
    await ctx.db.write(own_store.save_board, saved, now)
    return "edited"


class BoardKeeper:
    def __init__(self, ctx: Context, bot: Any) -> None:
        self.ctx = ctx
        self.bot = bot
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def _edit(
        self, chat: int, message_id: int, text: str, buttons: list[list[Button]]
    ) -> None:
        with leader_only(self.ctx.leads):  # refused at the HTTP layer once the lease ran out
            check_lead("editMessageText")
            await self.bot.edit_message_text(text, chat_id=chat, message_id=message_id,
                                             parse_mode=ParseMode.HTML,
                                             reply_markup=keyboard(Out(text, buttons)))  # fmt: skip

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.ctx.leads():  # the leader keeps the board (bot/telegram/leadership.py)
                    await board_tick(self.ctx, self.ctx.now(), self._edit)
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


def board_line(
    lang: str,
    ctx: Context,
    s: Screening,
    loop: own_store.Loop,
    names: dict[int, str],
    now: dt.datetime,
) -> str:
    """One patient as the team sees it: number, status, deadline and time left, owner,
    plan, names of pending criteria (never an answer value)."""
    owner = t(lang, "board.nobody")
    if loop.owner_id is not None:
        taken = loop.taken_at or loop.acknowledged_at
        owner = t(lang, "board.owner", name=names.get(loop.owner_id, str(loop.owner_id)),
                  at=local_time(taken, ctx.zone) if taken else "—")  # fmt: skip
    pending = ""
    if s.outcome == Outcome.PENDING and s.reasons:
        pending = t(lang, "team.pending_list", names=awaited_names(lang, s.reasons))
    if loop.planned_at is not None:
        pending = t(lang, "board.planned", at=local_time(loop.planned_at, ctx.zone)) + pending
    status = t(lang, f"outcome.{s.outcome}") if s.outcome else t(lang, f"status.{s.status}")
    deadline = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
    left = time_left(lang, s.d0_deadline, now) if s.d0_deadline else "—"
    return t(lang, "board.line", number=s.number, status=status, deadline=deadline, left=left,
             owner=owner, pending=Raw(pending))  # fmt: skip
