"""How the sender talks to Telegram for patient data (issue 14), beside bot/reminders/sender.py:

- **Rate limits**: python-telegram-bot's `AIORateLimiter` (30 requests/s overall, 20/min per
  group) with `max_retries=0`: a `RetryAfter` that still happens is raised to the sender, which
  puts the row back in the outbox for `retry_after` (never a sleeping retry in memory).
- **protect_content**: on by default for every message the bot sends (`Defaults`): all of them
  may carry a screening number.
- **Quiet hours**: a non-urgent reminder sent 22:00–07:00 local is silent
  (`disable_notification`); urgent steps ring, even sent late by a catch-up (the core's
  table: conversations/loudness.py). The sender says which through
  `SILENT` (a context variable, so the `send(chat_id, text, buttons)` signature stays).
- **Which message it became**: the sender records the message id of each reminder (to edit
  the team's message in place when someone takes the patient).
- **Unknown fate**: a timeout after the request left (read / write timeout) may have been
  delivered: the row is recorded `unknown`, never retried into a duplicate. A connect or
  pool timeout never reached Telegram: retried.
- **Unreachable users**: a private send refused (blocked, chat not found) marks the user
  unreachable; their reminders go to the team group (when nothing in them is an answer)
  and to the coordinators instead, headed "For Dr <first name>, who cannot be reached
  privately", until a send to them works or they write to the bot privately (the admins are
  told once per such episode).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextvars import ContextVar
from typing import Any

import httpx
from sqlalchemy import Connection
from telegram import Message as TelegramMessage
from telegram.error import TimedOut
from telegram.ext import AIORateLimiter, Defaults

from bot import routing
from bot.common import Actor, Context, Out
from bot.reminders.decisions import UNREACHABLE_META, team_chat_id
from bot.texts import t
from conversations import loudness
from conversations.escalation import quiet_hours
from conversations.reminder_kinds import Recipient, ReminderKind
from conversations.stored import Unrecognised
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.reminders import Reminder
from storage.screenings import Screening

log = logging.getLogger("lysyme.delivery")

#: Telegram's limits (DESIGN.md "Known pitfalls"): 30 messages/s overall, 20/min per group.
OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20

#: Set by the sender around one send: this message goes without sound.
SILENT: ContextVar[bool] = ContextVar("lysyme_silent", default=False)


def rate_limiter() -> AIORateLimiter:
    return AIORateLimiter(
        overall_max_rate=OVERALL_PER_SECOND,
        overall_time_period=1,
        group_max_rate=GROUP_PER_MINUTE,
        group_time_period=60,
        max_retries=0,  # a RetryAfter goes back to the outbox (bot/reminders/sender.py), not a sleep here
    )


def defaults() -> Defaults:
    return Defaults(protect_content=True)


def silent_for(row: Reminder, now: dt.datetime, ctx: Context) -> bool:
    """The core decides from the row's kind and step (conversations/loudness.py): an urgent
    step rings whenever it is sent, late at night included."""
    if isinstance(row.kind, Unrecognised):
        return quiet_hours(now, ctx.zone)
    return loudness.silent(row.kind, row.step, now, ctx.zone)


def message_id_of(sent: object) -> int | None:
    if isinstance(sent, TelegramMessage):
        return sent.message_id
    return sent if isinstance(sent, int) and not isinstance(sent, bool) else None


def after_sent(
    conn: Connection, row: Reminder, chat_id: int, sent: object, now: dt.datetime
) -> None:
    """Keep which message the row became (the morning board: the one edited that day); a
    private chat that works is reachable again."""
    message_id = message_id_of(sent)
    if message_id is not None:
        own_store.record_message(conn, row.id, chat_id, message_id)
    if row.kind == ReminderKind.BOARD:
        from bot.reminders import board as reminders_board

        reminders_board.record_posted(conn, row, chat_id, message_id, now)
    if chat_id > 0:
        own_store.clear_unreachable(conn, chat_id)


def fate_unknown(exc: TimedOut) -> bool:
    """A read or write timeout: the request may have reached Telegram. A connect or pool
    timeout never left this machine."""
    cause = exc.__cause__
    if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
        return False
    return "pool timeout" not in (exc.message or "").lower()


def mark_unknown(
    conn: Connection, row: Reminder, screening: Screening | None, now: dt.datetime
) -> None:
    own_store.mark_unknown(conn, row.id, "timed out after the request left: maybe delivered")
    append_audit(conn, AuditEntry(now, "system", "reminder_unknown",
                                        screening.number if screening else None,
                                        f"{row.kind}:{row.step}", None, row.recipient,
                                        "timeout: delivery unknown, not retried"))  # fmt: skip


# --- unreachable users ----------------------------------------------------------------------


def on_refused(conn: Connection, row: Reminder, chat_id: int, why: str, now: dt.datetime) -> None:
    """A private chat refused a message: the user is unreachable (audited), and this
    reminder is written again now, to be rerouted (team group and coordinators)."""
    if chat_id <= 0 or why not in ("blocked", "chat_not_found"):
        return
    if user_store.get_user(conn, chat_id) is None:
        return
    if not own_store.mark_unreachable(conn, chat_id, why, now):
        return
    append_audit(conn, AuditEntry(now, "system", "user_unreachable", None, str(chat_id),
                                        None, why, "private message refused"))  # fmt: skip
    if (
        row.screening_id is not None
        and isinstance(row.kind, ReminderKind)
        and row.kind is not ReminderKind.ADMIN
    ):
        outbox.schedule(conn, row.screening_id, row.kind, row.step, now, [row.recipient])


def _team_may_see(row: Reminder) -> bool:
    """What may go to the team group in an unreachable user's stead: a D0-window reminder or
    an escalation (numbers, deadlines, owners). Never a message that states an answer (the
    clinician's result, pending criteria with their values) nor who consented."""
    if row.kind == ReminderKind.D0_WINDOW:
        return row.step != "outcome"
    return row.kind == ReminderKind.ESCALATION


def reroute(
    conn: Connection,
    ctx: Context,
    row: Reminder,
    screening: Screening | None,
    user_id: int,
) -> tuple[int, str] | str | None:
    """For an unreachable user: (team chat, language) to send there instead, or the reason
    to skip. None: reachable. The coordinators get a copy of a patient reminder (rows of
    their own); the team group gets this row too when its content may be shown there. Both
    say for whom it was meant (`for_whom`)."""
    if not own_store.is_unreachable(conn, user_id):
        return None
    if (
        screening is None
        or not isinstance(row.kind, ReminderKind)
        or row.kind is ReminderKind.ADMIN
    ):
        return "recipient unreachable"
    meant_for = outbox.user_recipient(user_id)
    coordinators = [
        c
        for c in user_store.users_with_role(conn, "coordinator")
        if c != user_id and not own_store.is_unreachable(conn, c)
    ]
    copies = []
    for c in coordinators:
        recipient = outbox.user_recipient(c)
        if not outbox.has_scheduled(conn, screening.id, row.kind, row.step, recipient=recipient):  # fmt: skip
            copies.append(recipient)
    ids = outbox.schedule(conn, screening.id, row.kind, row.step, row.due_at, copies)
    for new_id in ids:
        own_store.note_rerouted(conn, new_id, meant_for)
    team = team_chat_id(conn, ctx)
    if team is None or not _team_may_see(row):
        return "recipient unreachable: rerouted to the coordinators"
    own_store.note_rerouted(conn, row.id, meant_for)
    return team, ctx.settings.language or "fr"


def for_whom(conn: Connection, row: Reminder, lang: str) -> str:
    """A rerouted reminder's first line: "For Dr Alice, who cannot be reached privately:"
    (the staff member's Telegram first name, else their id). Empty for the others."""
    meant_for = own_store.rerouted_from(conn, row.id)
    if meant_for is None or not meant_for.startswith("user:"):
        return ""
    user_id = int(meant_for[5:])
    name = (own_store.display_names(conn, [user_id])).get(user_id)
    if name is None:
        return t(lang, "own.for_unreachable_id", user_id=user_id) + "\n"
    return t(lang, "own.for_unreachable", name=name) + "\n"


def resolve_owner(conn: Connection, screening: Screening | None) -> int | None:
    """The `owner` recipient: who pressed "I'm on it", else the screening clinician."""
    if screening is None:
        return None
    loop = own_store.get_loop(conn, screening.id)
    return loop.owner_id or screening.clinician_id


async def on_activity(ctx: Context, actor: Actor, outs: list[Out]) -> list[Out]:
    """An unreachable user writes: in the private chat, they are reachable again; in the
    group, they are asked to open the private chat."""
    if actor.user is None:
        return outs
    if actor.reach is not None:  # read by the access gate with the user (no hop of its own)
        name, unreachable = actor.reach.display_name, actor.reach.unreachable
    else:
        name, unreachable = await ctx.db.read(own_store.reach, actor.user_id)
    if actor.first_name and actor.first_name[:64] != name:
        # Staff's Telegram first name, for "taken by …" and "for Dr …" (never a patient's).
        await ctx.db.write(own_store.set_display_name, actor.user_id, actor.first_name)
    if not unreachable:
        return outs
    lang = ctx.language(actor)
    if actor.private:

        def reachable_again(conn: Connection) -> None:
            own_store.clear_unreachable(conn, actor.user_id)
            # A new episode: the next refusal tells the admins again (once per episode).
            store.delete_meta(conn, f"{UNREACHABLE_META}{actor.user_id}")

        await ctx.db.write(reachable_again)
        return [*outs, Out(t(lang, "own.reachable_again"))]
    username = await ctx.db.read(store.get_meta, BOT_USERNAME_META)
    link = f"https://t.me/{username}" if username else ""
    return [*outs, Out(t(lang, "own.open_private", link=link))]


BOT_USERNAME_META = "bot_username"


async def remember_username(application: Any, ctx: Context) -> None:
    """Start hook: the bot's username, for the deep links of team notices."""
    username = getattr(application.bot, "username", None)
    if not username:
        return
    await ctx.db.write(store.set_meta, BOT_USERNAME_META, str(username))


#: Its start hook comes first (bot/app.py): team notices sent at start need the username.
FEATURE = routing.Feature("telegram policy", on_start=(remember_username,))


__all__ = ["SILENT", "Recipient"]
