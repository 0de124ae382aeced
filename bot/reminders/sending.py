"""One due row delivered: re-checked and worded in its transaction (bot/reminders/wording.py),
sent outside any transaction, then marked sent, skipped or failed right after Telegram answered;
flood control and network errors retried with backoff, a migrated group followed, the admins
told once of a chat that cannot be reached; the recipient resolved."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.common import Button, Context
from bot.fencing import LeaseLost, leader_only
from bot.reminders import delivery as reminder_delivery
from bot.reminders.closing import LAST_ACTOR, SYSTEM
from bot.reminders.decisions import (
    TEAM_CHAT_META,
    UNREACHABLE_META,
    Handled,
    Skip,
    team_chat_id,
)
from bot.reminders.state import (
    ADMIN,
    LATE_AFTER,
    Send,
    SweepResult,
    SweepState,
    backoff,
    log,
    retry_delay,
    row_audit,
)
from bot.reminders.wording import ask_again, prepare
from bot.texts import t
from conversations.reminder_kinds import Recipient
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.reminders import Reminder
from storage.screenings import Screening
from storage.timefmt import to_db


def screening_of(conn: Connection, row: Reminder) -> Screening | None:
    return store.get_by_id(conn, row.screening_id) if row.screening_id is not None else None


async def deliver(
    ctx: Context,
    row: Reminder,
    now: dt.datetime,
    send: Send,
    result: SweepResult,
    throttled: dict[int, dt.datetime],
    state: SweepState,
) -> None:
    # Each outcome below is written in its own transaction; until one has committed, the row
    # stays in `state` (released, or recorded as sent, by `settle`).
    await _deliver_row(ctx, row, now, send, result, throttled, state)
    state.claimed.discard(row.id)
    state.delivered.pop(row.id, None)


async def _deliver_row(
    ctx: Context,
    row: Reminder,
    now: dt.datetime,
    send: Send,
    result: SweepResult,
    throttled: dict[int, dt.datetime],
    state: SweepState,
) -> None:
    late = now - row.due_at > LATE_AFTER
    claim = state.claim or outbox.claim_of()

    def prepared(
        conn: Connection,
    ) -> tuple[Screening | None, int, str, list[list[Button]]] | None:
        """The row re-checked and worded, in one transaction; None when it needs no send."""
        outbox.keep(conn, row.id, claim)  # still ours (else ClaimLost: nothing done)
        screening = screening_of(conn, row)
        decision = prepare(conn, ctx, row, screening, now)
        if isinstance(decision, Skip):
            _skip(conn, row, screening, decision.reason, now)
            result.skipped += 1
            return None
        if isinstance(decision, Handled):
            outbox.mark_sent(conn, row.id, now, late)
            append_audit(conn, row_audit(now, "reminder_sent", row, screening, "system event"))
            result.system += 1
            return None
        target = resolve(conn, ctx, row, screening)
        if isinstance(target, Skip):
            _skip(conn, row, screening, target.reason, now)
            result.skipped += 1
            return None
        chat_id, lang = target
        if chat_id in throttled:
            outbox.retry_later(conn, row.id, throttled[chat_id], "flood control")
            result.retried += 1
            return None
        text, buttons = decision.render(lang)
        text = reminder_delivery.for_whom(conn, row, lang) + text  # issue 14: rerouted
        if late:
            text += "\n" + t(lang, "rem.late")
        return screening, chat_id, text, buttons

    ready = await ctx.db.write(prepared)
    if ready is None:
        return
    screening, chat_id, text, buttons = ready
    silent = reminder_delivery.SILENT.set(
        reminder_delivery.silent_for(row, now, ctx)
    )  # issue 14: quiet hours
    try:
        # Fencing: the lease must be known live (monotonic clock) now, and again at the HTTP
        # layer immediately before the request leaves (bot/telegram/leadership.py FencedRequest).
        if not ctx.leads():
            raise LeaseLost("sendMessage")
        with leader_only(ctx.leads):
            sent = await send(chat_id, text, buttons)
    except LeaseLost:
        raise  # not sent: `_sweep` stops, the claim is released (fenced)
    except RetryAfter as exc:
        wait = retry_delay(exc)
        throttled[chat_id] = now + wait

        def later(conn: Connection) -> None:
            outbox.keep(conn, row.id, claim)
            outbox.retry_later(conn, row.id, now + wait, f"retry after {wait}")

        await ctx.db.write(later)
        result.retried += 1
    except ChatMigrated as exc:
        await _migrated(ctx, row, screening, chat_id, exc.new_chat_id, now, result, claim)
    except (Forbidden, BadRequest) as exc:
        # Permanent for this message (BadRequest is a NetworkError subclass: caught first).
        await _failed(ctx, row, screening, chat_id, exc, now, claim)
        result.failed += 1
    except TimedOut as exc:
        # Issue 14: a timeout after the request left may have been delivered: recorded as
        # `unknown` and shown in /reminders, not retried into a duplicate (docs/REMINDERS.md).
        unknown = reminder_delivery.fate_unknown(exc)
        message = exc.message[:200]

        def timed_out(conn: Connection) -> None:
            outbox.keep(conn, row.id, claim)
            if unknown:
                reminder_delivery.mark_unknown(conn, row, screening, now)
            else:
                outbox.retry_later(conn, row.id, now + backoff(row.attempts), message)

        await ctx.db.write(timed_out)
        result.retried += 1
    except (NetworkError, TelegramError) as exc:
        # Includes TimedOut. A timeout can also mean "delivered, answer lost": retrying then
        # duplicates one message, which is the price of never losing one.
        failure = exc.message[:200]

        def retried(conn: Connection) -> None:
            outbox.keep(conn, row.id, claim)
            outbox.retry_later(conn, row.id, now + backoff(row.attempts), failure)

        await ctx.db.write(retried)
        result.retried += 1
        log.warning("reminder %s: %s, retried later", row.id, type(exc).__name__)
    else:
        # ---- The one window where a reminder can be sent twice. ----
        # Telegram has the message (200 OK) but the commit below has not happened yet: a crash
        # here (kill -9, power cut) leaves the row 'claimed', `release_claimed` puts it back at
        # the next start and it is sent again. Rows are marked one by one right after their own
        # send, so at most one message can be repeated; the Bot API has no idempotency key to
        # close this window further. A database error here (locked, disk full) is not a crash:
        # the row stays in `state.delivered` and `settle` records it later, never resends it.
        state.delivered[row.id] = (row, now, late, chat_id, sent)
        result.sent += 1
        result.late += int(late)

        def recorded(conn: Connection) -> None:
            outbox.keep(conn, row.id, claim)
            record_sent(conn, ctx, row, now, late, chat_id, sent)

        await ctx.db.write(recorded)
    finally:
        reminder_delivery.SILENT.reset(silent)


def record_sent(
    conn: Connection,
    ctx: Context,
    row: Reminder,
    now: dt.datetime,
    late: bool,
    chat_id: int,
    sent: object,
) -> None:
    """Telegram accepted the row's message: sent (audited), the next daily one planned, which
    message it became kept, and the chat is reachable again (a later failure tells the admins
    again: once per episode)."""
    screening = screening_of(conn, row)
    outbox.mark_sent(conn, row.id, now, late)
    append_audit(conn, row_audit(now, "reminder_sent", row, screening,
                                    "late" if late else None))  # fmt: skip
    ask_again(conn, ctx, row, now)
    reminder_delivery.after_sent(conn, row, chat_id, sent, now)
    store.delete_meta(conn, f"{UNREACHABLE_META}{chat_id}")


def _skip(
    conn: Connection,
    row: Reminder,
    screening: Screening | None,
    reason: str,
    now: dt.datetime,
) -> None:
    outbox.mark_skipped(conn, row.id, reason)
    append_audit(conn, row_audit(now, "reminder_skipped", row, screening, reason))


async def _failed(
    ctx: Context,
    row: Reminder,
    screening: Screening | None,
    chat_id: int,
    exc: TelegramError,
    now: dt.datetime,
    claim: outbox.Claim,
) -> None:
    """Recorded as failed (audited); the admins are told once per unreachable chat."""
    if isinstance(exc, Forbidden):
        why = "blocked"
    elif "chat not found" in exc.message.lower():
        why = "chat_not_found"
    else:
        why = "bad_request"
    log.warning("reminder %s to chat %s failed: %s", row.id, chat_id, why)

    def body(conn: Connection) -> None:
        outbox.keep(conn, row.id, claim)
        outbox.mark_failed(conn, row.id, exc.message[:200])
        append_audit(conn, row_audit(now, "reminder_failed", row, screening, exc.message[:200]))
        key = f"{UNREACHABLE_META}{chat_id}"
        if store.get_meta(conn, key) is None:
            store.set_meta(conn, key, to_db(now))
            tell_admins(conn, f"unreachable:{chat_id}:{why}", now)
        ask_again(conn, ctx, row, now)
        reminder_delivery.on_refused(conn, row, chat_id, why, now)  # issue 14: rerouted

    await ctx.db.write(body)


async def _migrated(
    ctx: Context,
    row: Reminder,
    screening: Screening | None,
    old: int,
    new: int,
    now: dt.datetime,
    result: SweepResult,
    claim: outbox.Claim,
) -> None:
    """The team group became a supergroup: follow it, tell the admins, retry at once."""

    def body(conn: Connection) -> None:
        outbox.keep(conn, row.id, claim)
        if row.recipient != outbox.TEAM:
            outbox.mark_failed(conn, row.id, f"chat migrated to {new}")
            append_audit(conn, row_audit(now, "reminder_failed", row, screening, "migrated"))
            result.failed += 1
            return
        store.set_meta(conn, TEAM_CHAT_META, str(new))
        append_audit(conn, AuditEntry(now, SYSTEM, "team_chat_migrated", None,
                                            "team_chat_id", str(old), str(new)))  # fmt: skip
        tell_admins(conn, f"migrated:{old}:{new}", now)
        outbox.retry_later(conn, row.id, now, "chat migrated")
        result.retried += 1

    await ctx.db.write(body)


def tell_admins(conn: Connection, step: str, now: dt.datetime) -> None:
    """Through the outbox too: durable, retried, and never sent twice."""
    admins = user_store.users_with_role(conn, "admin")
    outbox.schedule(conn, None, ADMIN, step, now, [outbox.user_recipient(a) for a in admins])


def resolve(
    conn: Connection, ctx: Context, row: Reminder, screening: Screening | None
) -> tuple[int, str] | Skip:
    """(chat id, language) of a symbolic recipient. Patient data only ever goes to the team
    chat or to a user who is still listed."""
    if row.recipient == outbox.TEAM:
        chat = team_chat_id(conn, ctx)
        if chat is None:
            return Skip("no team chat configured")
        return chat, ctx.settings.language or "fr"
    if row.recipient == LAST_ACTOR:
        if screening is None:
            return Skip("no screening")
        user_id = screening.last_actor_id
    elif row.recipient.startswith("user:") and row.recipient[5:].lstrip("-").isdigit():
        user_id = int(row.recipient[5:])
    elif row.recipient == Recipient.OWNER and screening is not None:
        user_id = reminder_delivery.resolve_owner(conn, screening) or screening.clinician_id
    else:
        return Skip(f"unknown recipient {row.recipient}")
    user = user_store.get_user(conn, user_id)
    if user is None:
        return Skip("recipient no longer listed")
    rerouted = reminder_delivery.reroute(conn, ctx, row, screening, user_id)  # issue 14
    if isinstance(rerouted, str):
        return Skip(rerouted)
    if rerouted is not None:
        return rerouted
    return user_id, ctx.language_of(user)  # a private chat's id is the user's id
