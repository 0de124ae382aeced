"""The sender's housekeeping: idle screenings (a clinician reminded after 2 h, the screening
abandoned after 24 h), a clock that jumped (reminders paused until an admin confirms), and
pruning the record of handled Telegram updates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.common import Actor, Context, Out
from bot.records import abandon, begin
from bot.reminders.closing import LAST_ACTOR, SYSTEM
from bot.reminders.sending import tell_admins
from bot.reminders.state import IDLE, log
from bot.texts import t
from conversations import schedule
from conversations.reminder_kinds import Cause
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage.audit import AuditEntry, append_audit
from storage.sql import after_commit
from storage.timefmt import from_db, to_db

# --- idle screenings ------------------------------------------------------------------------


async def idle_pass(ctx: Context, now: dt.datetime) -> int:
    """A screening left unanswered: its clinician is reminded once after 2 h; after 24 h it is
    abandoned (audited). Both messages go through the outbox like any reminder."""

    def body(conn: Connection) -> int:
        stale = store.idle_screenings(
            conn, now - schedule.IDLE_REMINDER_AFTER, now - schedule.ABANDON_AFTER
        )
        for s in stale:
            if s.last_activity_at <= now - schedule.ABANDON_AFTER:
                abandon(conn, s, SYSTEM, now, reason="24 h without an answer")
                for session in store.sessions_on(conn, s.id):
                    store.clear_session(conn, session.user_id, session.chat_id)
                own_store.cancel_scheduled(conn, s.id, Cause.ABANDONED, (IDLE,))
                outbox.schedule(conn, s.id, IDLE, "abandoned", now, [LAST_ACTOR])
            else:
                store.update_screening(conn, s.id, now, idle_reminded=True)
                outbox.schedule(conn, s.id, IDLE, "reminder", now, [LAST_ACTOR])
        return len(stale)

    return await ctx.db.write(body)


# --- a clock that jumps, and housekeeping ----------------------------------------------------

#: The sender's last round (trial clock), kept in the database: a restart remembers it.
LAST_ROUND_META = "sender_last_round"
#: Set while sending is paused after a forward jump of the clock (the time it was seen).
PAUSED_META = "sender_paused_at"
#: More than this between two rounds: a jump of the clock, or downtime — the bot cannot tell
#: them apart, so an admin is asked (docs/RELIABILITY.md).
CLOCK_JUMP = dt.timedelta(days=1)
#: The last round is written at most this often (a durable write; it is also what tells the
#: health check that writes work).
STAMP_EVERY = dt.timedelta(minutes=1)
#: Handled update ids are kept this long (Telegram restarts its ids after a week without
#: updates); pruned once a day.
KEEP_UPDATES = dt.timedelta(days=8)
PRUNE_EVERY = dt.timedelta(days=1)


async def clock_check(ctx: Context, now: dt.datetime) -> bool:
    """True: the sender may go on. False: the clock is more than `CLOCK_JUMP` ahead of the
    last round and nobody confirmed it: nothing time-driven happens (no reminder, no window
    closed, no screening abandoned); the admins are told once, with a button to confirm.
    Sending resumes by itself if the clock comes back."""

    def body(conn: Connection) -> bool:
        paused = store.get_meta(conn, PAUSED_META)
        last_text = store.get_meta(conn, LAST_ROUND_META)
        last = from_db(last_text) if last_text else None
        if last is None or now - last <= CLOCK_JUMP:
            if paused is not None:
                store.delete_meta(conn, PAUSED_META)
                append_audit(conn, AuditEntry(now, SYSTEM, "reminders_resumed", None,
                                                    "clock", paused, to_db(now),
                                                    "the clock came back"))  # fmt: skip
            if last is None or abs(now - last) >= STAMP_EVERY:
                store.set_meta(conn, LAST_ROUND_META, to_db(now))
            return True
        if paused is None:
            log.warning("clock jumped forward by %s: reminders paused until confirmed", now - last)
            store.set_meta(conn, PAUSED_META, to_db(now))
            append_audit(conn, AuditEntry(now, SYSTEM, "reminders_paused", None, "clock",
                                                to_db(last), to_db(now),
                                                "clock jumped forward"))  # fmt: skip
            tell_admins(conn, f"clock_jump {to_db(last)} {to_db(now)}", now)
        return False

    return await ctx.db.write(body)


async def confirm_clock(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`k:clock`, an admin's tap on the pause notice: the time is right; sending resumes and
    catches up (only the latest overdue step of each reminder, marked late)."""
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        paused = store.get_meta(conn, PAUSED_META)
        if cd.CLOCK_CONFIRM.decode(data) is None or paused is None:
            return [Out("", toast=t(lang, "rem.admin.clock_nothing"))]
        store.delete_meta(conn, PAUSED_META)
        store.set_meta(conn, LAST_ROUND_META, to_db(now))
        append_audit(conn, AuditEntry(now, str(actor.user_id), "reminders_resumed", None,
                                            "clock", paused, to_db(now),
                                            "time confirmed by an admin"))  # fmt: skip
        after_commit(conn, ctx.wake_sender)  # reminders changed
        return [Out(t(lang, "rem.admin.clock_confirmed"), edit=actor.message_id)]

    outs = await ctx.db.write(body)
    return outs


async def prune_processed_updates(ctx: Context, now: dt.datetime) -> int:
    return await ctx.db.write(store.prune_processed_updates, now - KEEP_UPDATES)
