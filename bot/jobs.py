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
import logging
import sqlite3
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot import callback_data as cd
from bot import (
    d0_loop,
    follow_ups,
    health,
    membership,
    reminder_delivery,
    reminders_board,
    routing,
)
from bot.callback_data import Prefix
from bot.common import Actor, Button, Context, Out
from bot.criteria import awaited_names, verdict_sentences
from bot.leadership import LEASE_NAME, LeaseLost, leader_only
from bot.markup import keyboard, split_message
from bot.outcomes import LAST_ACTOR, SYSTEM, recorded_result, reevaluate
from bot.present import dose_deviation_line, local_time, time_left
from bot.records import abandon, begin, load
from bot.reminder_types import (
    TEAM_CHAT_META,
    UNREACHABLE_META,
    Decision,
    Handled,
    Message,
    Skip,
    team_chat_id,
)
from bot.texts import Raw, t
from conversations import schedule
from conversations.lifecycle import INCLUDED, Action, PatientFacts, reminder_relevance
from conversations.lifecycle import Row as RelevanceRow
from conversations.reminder_kinds import Cause, Recipient, ReminderKind
from storage import leases
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.connection import Connection
from storage.reminders import Reminder
from storage.screenings import Screening
from storage.timefmt import from_db, to_db

log = logging.getLogger("lysyme.reminders")

#: `send(chat_id, text, buttons)`: raises telegram.error exceptions like Bot.send_message.
Send = Callable[[int, str, list[list[Button]]], Awaitable[object]]  # → message id (issue 14)

SWEEP_INTERVAL = 2.0  # seconds between sweeps when nobody wakes the sender
LATE_AFTER = dt.timedelta(minutes=15)
BACKOFF_FIRST = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(minutes=10)
CLAIM_LIMIT = 100
#: A sweep claims again while rows keep coming (a re-evaluation that queues a team notice, a
#: migrated chat retried at once), at most this many times.
MAX_PASSES = 4
#: Where the team chat id is kept once Telegram told us it migrated to a supergroup.

# Short names of the reminder kinds (the closed set is the core's `ReminderKind`).
D0_WINDOW = ReminderKind.D0_WINDOW
OUTCOME_CHANGE = ReminderKind.OUTCOME_CHANGE
PENDING = ReminderKind.PENDING
BSA_EXPIRY = ReminderKind.BSA_EXPIRY
CONSENT_PATIENT = ReminderKind.CONSENT_PATIENT
FOLLOW_UP = ReminderKind.FOLLOW_UP
IDLE = ReminderKind.IDLE
NOTICE = ReminderKind.NOTICE  # team notices: injection recorded, patient withdrawn
ALERT = ReminderKind.ALERT  # coordinators alerted at once (adverse effect at D0+10)
ADMIN = ReminderKind.ADMIN  # admins told: a chat unreachable, the team chat migrated

#: Kinds whose steps are different messages, each sent even after downtime (a follow-up
#: question, an admin notice); for the others a later step supersedes an earlier one.
PER_STEP_KINDS = frozenset({FOLLOW_UP, NOTICE, ALERT, ADMIN})


# --- what a row turns into ------------------------------------------------------------------


@dataclass
class SweepResult:
    """What one sweep did (for tests, logs and the benchmark)."""

    claimed: int = 0
    sent: int = 0
    late: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    system: int = 0
    idle: int = 0
    lapsed: int = 0


def _text(lines: Sequence[str]) -> str:
    return "\n".join(line for line in lines if line)


def _retry_after(exc: RetryAfter) -> dt.timedelta:
    """PTB 22 warns on reading an int `retry_after` (it becomes a timedelta in v23)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s … capped at 10 min: a long network outage is retried every 10 min."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * (1 << min(attempts, 16)))


def _audit(
    now: dt.datetime,
    action: str,
    row: Reminder,
    screening: Screening | None,
    reason: str | None = None,
) -> AuditEntry:
    return AuditEntry(now, SYSTEM, action, screening.number if screening else None,
                      f"{row.kind}:{row.step}", None, row.recipient, reason)  # fmt: skip


# --- the sweep ------------------------------------------------------------------------------


@dataclass
class SweepState:
    """What the sender has in hand, kept across sweeps so that a database error (locked,
    disk full) strands nothing: the rows it claimed and has not settled, and the rows
    Telegram accepted whose 'sent' could not be recorded yet (recorded, never sent again)."""

    claimed: set[int] = field(default_factory=set)
    delivered: dict[int, tuple[Reminder, dt.datetime, bool, int, object]] = field(
        default_factory=dict
    )
    #: The claim (this process, the lease's epoch) its rows were taken under: they are
    #: marked or released only while still claimed under it.
    claim: outbox.Claim | None = None

    def __bool__(self) -> bool:
        return bool(self.claimed or self.delivered)


async def settle(ctx: Context, state: SweepState) -> None:
    """Record what was delivered, release the rest of the claims. Raises on a database error
    (the state keeps them for the next try)."""
    claim = state.claim or outbox.claim_of()
    if state.delivered:
        async with ctx.db.transaction() as conn:
            for row, at, late, chat_id, sent in state.delivered.values():
                if await outbox.holds(conn, row.id, claim):
                    await _record_sent(conn, ctx, row, at, late, chat_id, sent)
                else:
                    _claim_lost(row, "sent, but not recorded here")
        state.claimed.difference_update(state.delivered)
        state.delivered.clear()
    if state.claimed:
        async with ctx.db.transaction() as conn:
            released = await outbox.release(conn, state.claimed, claim=claim)
        if released < len(state.claimed):
            log.warning("%d reminder(s) of an interrupted sweep were no longer claimed under "
                        "epoch %d: left to the leader", len(state.claimed) - released,
                        claim.epoch)  # fmt: skip
        log.info("released %d reminder(s) claimed by an interrupted sweep", released)
        state.claimed.clear()


def _claim_lost(row: Reminder, what: str) -> None:
    log.warning("reminder %s (%s): no longer claimed by this replica under its epoch (a new "
                "leader re-queued or took it): %s, the row is left alone", row.id, row.kind,
                what)  # fmt: skip


async def _fenced_claim(ctx: Context, conn: Connection) -> outbox.Claim | None:
    """The claim this sweep takes rows under, or None when this replica must not claim: its
    lease is not live, or the lease in the database is no longer (this replica, its epoch)."""
    if not ctx.leads():
        return None
    fence = ctx.lease()
    if fence is None:  # SQLite: the one process
        return outbox.claim_of()
    holder, epoch = fence
    current = await leases.current_holder(conn, LEASE_NAME)
    if current is None or (current.holder, current.epoch) != (holder, epoch):
        log.warning("not claiming reminders: the leader lease is no longer ours (epoch %d)",
                    epoch)  # fmt: skip
        return None
    return outbox.Claim(holder, epoch)


async def sweep(
    ctx: Context,
    now: dt.datetime,
    send: Send,
    *,
    limit: int = CLAIM_LIMIT,
    should_stop: Callable[[], bool] = lambda: False,
    state: SweepState | None = None,
    kinds: Sequence[str] | None = None,
) -> SweepResult:
    """Send what is due at *now* (see the module docstring). Safe to call concurrently with
    the flows: every database access goes through `ctx.db.transaction()`.

    Whatever happens (a database error, an exception, a stop), the rows this sweep claimed
    are released, or — when even that fails — kept in `state` and settled at the start of the
    next sweep given the same state (the sender keeps one). `kinds`: only these kinds (the
    admins' notices while sending is paused); no idle pass and no catch-up then."""
    state = state if state is not None else SweepState()
    await settle(ctx, state)  # what an interrupted sweep left (raises while the db fails)
    try:
        return await _sweep(ctx, now, send, limit, should_stop, state, kinds)
    finally:
        if state:
            try:
                await settle(ctx, state)
            except Exception as exc:  # the database still fails: kept for the next sweep
                log.warning("claimed reminders not released yet (%s): retried next sweep", exc)


async def _sweep(
    ctx: Context,
    now: dt.datetime,
    send: Send,
    limit: int,
    should_stop: Callable[[], bool],
    state: SweepState,
    kinds: Sequence[str] | None,
) -> SweepResult:
    result = SweepResult()
    if kinds is None:
        result.idle = await _idle_pass(ctx, now)
        result.lapsed = await membership.lapse_due(ctx, now, send)  # issue 24: end dates
    throttled: dict[int, dt.datetime] = {}  # chat → flood-control wait, within this sweep
    for _ in range(MAX_PASSES):
        async with ctx.db.transaction() as conn:
            claim = await _fenced_claim(ctx, conn)
            if claim is None:
                return result  # a standby now: the leader sends
            if state.claimed and state.claim != claim:
                return result  # rows of an older claim in hand: settled first (next sweep)
            state.claim = claim
            # Catch-up across every overdue row, not only this batch: of the rows due for one
            # (screening, kind, recipient), only the latest is sent.
            superseded = [] if kinds is not None else await outbox.supersede_overdue(
                conn, now, PER_STEP_KINDS
            )  # fmt: skip
            claimed = await outbox.claim_due(conn, now, limit, kinds=kinds, claim=claim)
            chosen, in_batch = catch_up(claimed)
            for row in in_batch:
                await outbox.mark_skipped(conn, row.id, "superseded by a later step")
            for row in [*superseded, *in_batch]:
                screening = await _screening(conn, row)
                await append_audit(conn, _audit(now, "reminder_skipped", row, screening,
                                                "superseded by a later step"))  # fmt: skip
        state.claimed.update(row.id for row in chosen)
        result.skipped += len(superseded) + len(in_batch)
        if not claimed:
            break
        result.claimed += len(claimed)
        # System events first: a BSA that expires at 08:00 turns the patient not eligible
        # before that morning's window reminder would call them pending.
        # The morning board last: it shows what the other rows of that morning changed.
        chosen.sort(key=lambda r: (_order(r.kind), r.due_at, r.id))
        for row in chosen:
            if should_stop():
                return result  # shutting down: `sweep` releases what is still claimed
            try:
                await _deliver(ctx, row, now, send, result, throttled, state)
            except sqlite3.Error:
                raise  # the database fails: stop here, `sweep` releases the claims
            except LeaseLost:
                # The lease ran out (a pause, a stalled database): nothing more is sent from
                # here; `sweep` releases what is still claimed under our epoch.
                log.warning("reminder %s not sent: this replica no longer leads", row.id)
                return result
            except outbox.ClaimLost:
                _claim_lost(row, "not sent")
                state.claimed.discard(row.id)
                state.delivered.pop(row.id, None)
                return result  # the epoch moved on: the new leader has the rest
            except Exception:
                # A bug must not leave the row claimed until the next start, nor stop the loop.
                log.exception("reminder %s (%s) could not be processed", row.id, row.kind)
                if row.id in state.delivered:
                    continue  # sent: recorded by `settle`, never sent again
                async with ctx.db.transaction() as conn:
                    if await outbox.holds(conn, row.id, claim):
                        await outbox.retry_later(
                            conn, row.id, now + backoff(row.attempts), "internal"
                        )
                state.claimed.discard(row.id)
                result.retried += 1
    return result


def _order(kind: str) -> int:
    return 0 if kind == BSA_EXPIRY else 2 if kind == ReminderKind.BOARD else 1


def catch_up(claimed: Sequence[Reminder]) -> tuple[list[Reminder], list[Reminder]]:
    """(rows to send, rows superseded): per (screening, kind, recipient) — and per step for
    `PER_STEP_KINDS` — only the latest due row is sent after downtime."""
    latest: dict[tuple[Any, ...], Reminder] = {}
    for row in claimed:
        step = row.step if row.kind in PER_STEP_KINDS else ""
        key = (row.screening_id, row.kind, step, row.recipient)
        current = latest.get(key)
        if current is None or (row.due_at, row.id) > (current.due_at, current.id):
            latest[key] = row
    keep = {row.id for row in latest.values()}
    return [r for r in claimed if r.id in keep], [r for r in claimed if r.id not in keep]


async def _screening(conn: Connection, row: Reminder) -> Screening | None:
    return await store.get_by_id(conn, row.screening_id) if row.screening_id is not None else None


async def _deliver(
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
    async with ctx.db.transaction() as conn:
        await outbox.keep(conn, row.id, claim)  # still ours (else ClaimLost: nothing done)
        screening = await _screening(conn, row)
        decision = await prepare(conn, ctx, row, screening, now)
        if isinstance(decision, Skip):
            await _skip(conn, row, screening, decision.reason, now)
            result.skipped += 1
            return
        if isinstance(decision, Handled):
            await outbox.mark_sent(conn, row.id, now, late)
            await append_audit(conn, _audit(now, "reminder_sent", row, screening, "system event"))
            result.system += 1
            return
        target = await resolve(conn, ctx, row, screening)
        if isinstance(target, Skip):
            await _skip(conn, row, screening, target.reason, now)
            result.skipped += 1
            return
        chat_id, lang = target
        if chat_id in throttled:
            await outbox.retry_later(conn, row.id, throttled[chat_id], "flood control")
            result.retried += 1
            return
        text, buttons = decision.render(lang)
        text = await reminder_delivery.for_whom(conn, row, lang) + text  # issue 14: rerouted
        if late:
            text += "\n" + t(lang, "rem.late")
    silent = reminder_delivery.SILENT.set(
        reminder_delivery.silent_for(row, now, ctx)
    )  # issue 14: quiet hours
    try:
        # Fencing: the lease must be known live (monotonic clock) now, and again at the HTTP
        # layer immediately before the request leaves (bot/leadership.py FencedRequest).
        if not ctx.leads():
            raise LeaseLost("sendMessage")
        with leader_only(ctx.leads):
            sent = await send(chat_id, text, buttons)
    except LeaseLost:
        raise  # not sent: `_sweep` stops, the claim is released (fenced)
    except RetryAfter as exc:
        wait = _retry_after(exc)
        throttled[chat_id] = now + wait
        async with ctx.db.transaction() as conn:
            await outbox.keep(conn, row.id, claim)
            await outbox.retry_later(conn, row.id, now + wait, f"retry after {wait}")
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
        async with ctx.db.transaction() as conn:
            await outbox.keep(conn, row.id, claim)
            if reminder_delivery.fate_unknown(exc):
                await reminder_delivery.mark_unknown(conn, row, screening, now)
            else:
                await outbox.retry_later(
                    conn, row.id, now + backoff(row.attempts), exc.message[:200]
                )
        result.retried += 1
    except (NetworkError, TelegramError) as exc:
        # Includes TimedOut. A timeout can also mean "delivered, answer lost": retrying then
        # duplicates one message, which is the price of never losing one.
        async with ctx.db.transaction() as conn:
            await outbox.keep(conn, row.id, claim)
            await outbox.retry_later(conn, row.id, now + backoff(row.attempts), exc.message[:200])
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
        async with ctx.db.transaction() as conn:
            await outbox.keep(conn, row.id, claim)
            await _record_sent(conn, ctx, row, now, late, chat_id, sent)
    finally:
        reminder_delivery.SILENT.reset(silent)


async def _record_sent(
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
    screening = await _screening(conn, row)
    await outbox.mark_sent(conn, row.id, now, late)
    await append_audit(conn, _audit(now, "reminder_sent", row, screening,
                                    "late" if late else None))  # fmt: skip
    await _repeat(conn, ctx, row, now)
    await reminder_delivery.after_sent(conn, row, chat_id, sent, now)
    await store.delete_meta(conn, f"{UNREACHABLE_META}{chat_id}")


async def _skip(
    conn: Connection,
    row: Reminder,
    screening: Screening | None,
    reason: str,
    now: dt.datetime,
) -> None:
    await outbox.mark_skipped(conn, row.id, reason)
    await append_audit(conn, _audit(now, "reminder_skipped", row, screening, reason))


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
    async with ctx.db.transaction() as conn:
        await outbox.keep(conn, row.id, claim)
        await outbox.mark_failed(conn, row.id, exc.message[:200])
        await append_audit(conn, _audit(now, "reminder_failed", row, screening, exc.message[:200]))
        key = f"{UNREACHABLE_META}{chat_id}"
        if await store.get_meta(conn, key) is None:
            await store.set_meta(conn, key, to_db(now))
            await _tell_admins(conn, f"unreachable:{chat_id}:{why}", now)
        await _repeat(conn, ctx, row, now)
        await reminder_delivery.on_refused(conn, row, chat_id, why, now)  # issue 14: rerouted


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
    async with ctx.db.transaction() as conn:
        await outbox.keep(conn, row.id, claim)
        if row.recipient != outbox.TEAM:
            await outbox.mark_failed(conn, row.id, f"chat migrated to {new}")
            await append_audit(conn, _audit(now, "reminder_failed", row, screening, "migrated"))
            result.failed += 1
            return
        await store.set_meta(conn, TEAM_CHAT_META, str(new))
        await append_audit(conn, AuditEntry(now, SYSTEM, "team_chat_migrated", None,
                                            "team_chat_id", str(old), str(new)))  # fmt: skip
        await _tell_admins(conn, f"migrated:{old}:{new}", now)
        await outbox.retry_later(conn, row.id, now, "chat migrated")
    result.retried += 1


async def _tell_admins(conn: Connection, step: str, now: dt.datetime) -> None:
    """Through the outbox too: durable, retried, and never sent twice."""
    admins = await user_store.users_with_role(conn, "admin")
    await outbox.schedule(conn, None, ADMIN, step, now, [outbox.user_recipient(a) for a in admins])


async def resolve(
    conn: Connection, ctx: Context, row: Reminder, screening: Screening | None
) -> tuple[int, str] | Skip:
    """(chat id, language) of a symbolic recipient. Patient data only ever goes to the team
    chat or to a user who is still listed."""
    if row.recipient == outbox.TEAM:
        chat = await team_chat_id(conn, ctx)
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
        user_id = await reminder_delivery.resolve_owner(conn, screening) or screening.clinician_id
    else:
        return Skip(f"unknown recipient {row.recipient}")
    user = await user_store.get_user(conn, user_id)
    if user is None:
        return Skip("recipient no longer listed")
    rerouted = await reminder_delivery.reroute(conn, ctx, row, screening, user_id)  # issue 14
    if isinstance(rerouted, str):
        return Skip(rerouted)
    if rerouted is not None:
        return rerouted
    return user_id, ctx.language_of(user)  # a private chat's id is the user's id


# --- what each kind says, after re-checking the screening -----------------------------------


async def prepare(
    conn: Connection,
    ctx: Context,
    row: Reminder,
    s: Screening | None,
    now: dt.datetime,
) -> Decision:
    """Re-check the screening's state now (it may have changed since the row was written):
    the core decides whether the row still means anything (`reminder_relevance`, one rule per
    kind), then each kind is worded here — the match over `ReminderKind` is exhaustive, so a
    new kind without its message fails the type check."""
    try:
        kind = ReminderKind(row.kind)
    except ValueError:
        return Skip(f"unknown kind {row.kind}")  # a row written by a newer or older program
    facts = await _facts(conn, kind, row, s)
    relevance = reminder_relevance(
        RelevanceRow(kind, row.step, row.recipient, row.due_at), facts, now, ctx.zone
    )
    if relevance.action is Action.SKIP:
        return Skip(relevance.reason)
    if relevance.action is Action.BOARD:
        return await reminders_board.listed_on_the_board(conn, ctx, row, now, relevance.reason)
    acting = relevance.action is Action.ACT
    if kind is ReminderKind.ADMIN:
        if membership.is_membership_step(row.step):  # issue 24: joined, ends soon, lapsed
            return await membership.decision(conn, ctx, row, now)
        if row.step.startswith("clock_jump "):
            return Message(lambda lang: _clock_jump_text(lang, ctx, row.step))
        return Message(lambda lang: (_admin_text(lang, row.step), []))
    if kind is ReminderKind.BOARD:  # issue 14: the team's morning board
        return await reminders_board.decision(conn, ctx, row, now)
    assert s is not None  # every other kind is about a screening (the core skipped it)
    match kind:
        case ReminderKind.D0_WINDOW:
            window = await _d0_window(conn, ctx, row, s, now, acting)
            return await d0_loop.decorate(conn, ctx, row, s, window)
        case ReminderKind.ESCALATION:
            return await d0_loop.escalation_decision(conn, ctx, row, s, now)
        case ReminderKind.OUTCOME_CHANGE:
            return _outcome_change(ctx, row, s, now, await _answers(conn, s))
        case ReminderKind.PENDING:
            # Private (the clinician who last acted): each pending item with its value and rule.
            answers = await _answers(conn, s)
            return Message(lambda lang: (t(lang, "rem.pending_daily", number=s.number,
                                           names=verdict_sentences(lang, s.reasons, answers, now,
                                                                   ctx.zone)), []))  # fmt: skip
        case ReminderKind.BSA_EXPIRY:
            # Re-evaluated at now: a BSA still below 10 % now fails; reevaluate queues the team
            # notice ("HMN-004 is now not eligible") in this same transaction.
            await reevaluate(conn, ctx, SYSTEM, s, now, reason="BSA observation period ended")
            return Handled()
        case ReminderKind.CONSENT_PATIENT:
            return Message(lambda lang: (t(lang, "rem.consent_patient", number=s.number), []))
        case ReminderKind.FOLLOW_UP:
            follow_up = schedule.FOLLOW_UP_BY_ID[row.step]
            return Message(lambda lang: follow_ups.follow_up_message(lang, s, follow_up, ctx.zone))
        case ReminderKind.IDLE:
            return _idle(row, s)
        case ReminderKind.NOTICE:
            if row.step == "dose_deviation":  # private, to the coordinators: dose numbers
                values = await store.current_answers(conn, s.id)
                return Message(lambda lang: (_text([
                    t(lang, "rem.notice.dose_deviation", number=s.number),
                    dose_deviation_line(lang, values)]), []))  # fmt: skip
            return _notice(ctx, row, s)
        case ReminderKind.ALERT:
            return Message(lambda lang: (t(lang, "rem.fu_alert", number=s.number,
                                           rule=t(lang, "fu.sae_rule")), []))  # fmt: skip
        case _:
            assert_never(kind)


async def _facts(
    conn: Connection, kind: ReminderKind, row: Reminder, s: Screening | None
) -> PatientFacts | None:
    """What the core's decision needs about the patient, read in the sender's transaction."""
    if s is None:
        return None
    answered = False
    if kind is ReminderKind.FOLLOW_UP and row.step in schedule.FOLLOW_UP_BY_ID:
        follow_up = schedule.FOLLOW_UP_BY_ID[row.step]
        stored = (await store.current_answers(conn, s.id)).get(
            follow_ups.follow_up_key(follow_up.id)
        )
        answered = follow_ups.follow_up_final(follow_up, stored)
    loop = None
    if kind is ReminderKind.ESCALATION:
        loop = d0_loop.loop_state(s, await own_store.get_loop(conn, s.id))
    return PatientFacts(
        status=s.status,
        outcome=s.outcome,
        reasons=tuple(s.reasons),
        injected=s.injected_at is not None,
        idle_reminded=bool(s.idle_reminded),
        follow_up_answered=answered,
        loop=loop,
        admission_date=s.admission_date,
    )


async def _answers(conn: Connection, s: Screening) -> dict[str, Any]:
    """The current answers, for the private messages that state a value and its rule."""
    from conversations.flow import without_inapplicable

    return without_inapplicable((await load(conn, s)).answers)


def _pending_names(lang: str, s: Screening) -> str:
    """What is awaited ("HIV serology", never "… positive"): this also goes to the team."""
    if s.outcome != "pending" or not s.reasons:
        return ""
    return t(lang, "team.pending_list", names=awaited_names(lang, s.reasons))


def _deadline_line(lang: str, s: Screening, now: dt.datetime, ctx: Context) -> str:
    if s.d0_deadline is None:
        return ""
    return t(lang, "rem.deadline", deadline=local_time(s.d0_deadline, ctx.zone),
             left=time_left(lang, s.d0_deadline, now))  # fmt: skip


async def _d0_window(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, now: dt.datetime, acting: bool
) -> Decision:
    """A D0-window step the core found still relevant; `acting`: the window closes now."""
    if row.step == schedule.WINDOW_CLOSED:
        if acting:
            # The status changes even if the message then fails: it is a fact about time.
            await store.update_screening(conn, s.id, now, status=store.WINDOW_MISSED)
            await append_audit(conn, AuditEntry(
                now, SYSTEM, "status", s.number, "status", s.status, store.WINDOW_MISSED,
                "D0 window closed, no injection recorded"))  # fmt: skip
            await own_store.cancel_scheduled(conn, s.id, Cause.WINDOW_CLOSED, (PENDING, BSA_EXPIRY))

        def closed(lang: str) -> tuple[str, list[list[Button]]]:
            deadline = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
            return t(lang, "rem.window_closed", number=s.number, deadline=deadline,
                     status=t(lang, f"status.{store.WINDOW_MISSED}")), []  # fmt: skip

        return Message(closed)
    if row.step == "outcome" and row.recipient != outbox.TEAM:
        # The clinician's result, held for the reply that closed the screening and released
        # because that reply was not delivered (429, network, a crash): the result itself.
        answers = (await load(conn, s)).answers
        return Message(lambda lang: (recorded_result(lang, s, answers, now, ctx), []))

    def window(lang: str) -> tuple[str, list[list[Button]]]:
        head = t(lang, "rem.d0_window", number=s.number,
                 step=Raw(t(lang, f"rem.step.{row.step}")),
                 status=t(lang, f"status.{s.status}"), outcome=t(lang, f"outcome.{s.outcome}"),
                 pending=Raw(_pending_names(lang, s)))  # fmt: skip
        command = "rem.inject" if s.outcome == "eligible" else "rem.update"
        return _text(
            [head, _deadline_line(lang, s, now, ctx), t(lang, command, number=s.number)]
        ), []

    return Message(window)


def _outcome_change(
    ctx: Context, row: Reminder, s: Screening, now: dt.datetime, answers: dict[str, Any]
) -> Decision:
    """ "HMN-004 is now eligible" (the core checked it still is). The team is never told
    which criterion failed (that would reveal an answer); the clinician is."""
    to_team = row.recipient == outbox.TEAM

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        lines = [t(lang, "rem.outcome_change", number=s.number,
                   outcome=t(lang, f"outcome.{s.outcome}"),
                   pending=Raw(_pending_names(lang, s)))]  # fmt: skip
        if s.outcome in INCLUDED:
            lines.append(_deadline_line(lang, s, now, ctx))
            command = "rem.inject" if s.outcome == "eligible" else "rem.update"
            lines.append(t(lang, command, number=s.number))
        elif not to_team and s.reasons:
            reasons = verdict_sentences(lang, s.reasons, answers, now, ctx.zone,
                                        injected=s.injected_at is not None)  # fmt: skip
            lines.append(t(lang, "rem.reasons", reasons=reasons))
        return _text(lines), []

    return Message(render)


def _idle(row: Reminder, s: Screening) -> Decision:
    if row.step == "abandoned":
        return Message(lambda lang: (t(lang, "screen.abandoned_idle", number=s.number), []))
    return Message(lambda lang: (_text([t(lang, "screen.idle", number=s.number),
                                        t(lang, "rem.idle_resume", number=s.number)]), []))  # fmt: skip


def _notice(ctx: Context, row: Reminder, s: Screening) -> Decision:
    if row.step == "injected" and s.injected_at is not None:
        at = local_time(s.injected_at, ctx.zone)
        return Message(lambda lang: (t(lang, "rem.notice.injected", number=s.number, at=at), []))
    if row.step == "reopened":
        return Message(lambda lang: (t(lang, "rem.notice.reopened", number=s.number), []))
    return Message(lambda lang: (t(lang, "rem.notice.withdrawn", number=s.number), []))


def _clock_jump_text(lang: str, ctx: Context, step: str) -> tuple[str, list[list[Button]]]:
    _, last_text, now_text = step.split(" ")
    last, now = from_db(last_text), from_db(now_text)
    hours = int((now - last).total_seconds() // 3600)
    text = t(lang, "rem.admin.clock_jump", gap=f"{hours // 24} d {hours % 24} h",
             last=local_time(last, ctx.zone), now=local_time(now, ctx.zone))  # fmt: skip
    return text, [[Button(t(lang, "rem.admin.clock_confirm"), CLOCK_CONFIRM_DATA)]]


def _admin_text(lang: str, step: str) -> str:
    parts = step.split(":")
    if parts[0] == "unreachable" and len(parts) == 3:
        return t(
            lang, "rem.admin.unreachable", chat_id=parts[1], why=t(lang, f"rem.why.{parts[2]}")
        )
    if parts[0] == "migrated" and len(parts) == 3:
        return t(lang, "rem.admin.migrated", old=parts[1], new=parts[2])
    return step


async def _repeat(conn: Connection, ctx: Context, row: Reminder, now: dt.datetime) -> None:
    """Daily kinds plan their next morning once this one is done (sent or failed), while
    still relevant — and only if that recipient has nothing scheduled already."""
    if row.kind not in (PENDING, FOLLOW_UP) or row.screening_id is None:
        return
    s = await store.get_by_id(conn, row.screening_id)
    if s is None:
        return
    if await outbox.has_scheduled(conn, s.id, row.kind, row.step, recipient=row.recipient):
        return
    if row.kind == PENDING:
        if s.status == store.SCREENED and s.outcome == "pending" and s.injected_at is None:
            await outbox.schedule(conn, s.id, PENDING, row.step,
                                  schedule.next_morning(now, ctx.zone), [row.recipient])  # fmt: skip
        return
    follow_up = schedule.FOLLOW_UP_BY_ID.get(row.step)
    if follow_up is None or s.status != store.INJECTED:
        return
    answer = (await store.current_answers(conn, s.id)).get(follow_ups.follow_up_key(follow_up.id))
    due = follow_ups.follow_up_next_due(follow_up, answer, now, ctx.zone)
    if due is not None:
        await outbox.schedule(conn, s.id, FOLLOW_UP, row.step, due, [row.recipient])


# --- idle screenings ------------------------------------------------------------------------


async def _idle_pass(ctx: Context, now: dt.datetime) -> int:
    """A screening left unanswered: its clinician is reminded once after 2 h; after 24 h it is
    abandoned (audited). Both messages go through the outbox like any reminder."""
    async with ctx.db.transaction() as conn:
        stale = await store.idle_screenings(
            conn, now - schedule.IDLE_REMINDER_AFTER, now - schedule.ABANDON_AFTER
        )
        for s in stale:
            if s.last_activity_at <= now - schedule.ABANDON_AFTER:
                await abandon(conn, s, SYSTEM, now, reason="24 h without an answer")
                for session in await store.sessions_on(conn, s.id):
                    await store.clear_session(conn, session.user_id, session.chat_id)
                await own_store.cancel_scheduled(conn, s.id, Cause.ABANDONED, (IDLE,))
                await outbox.schedule(conn, s.id, IDLE, "abandoned", now, [LAST_ACTOR])
            else:
                await store.update_screening(conn, s.id, now, idle_reminded=True)
                await outbox.schedule(conn, s.id, IDLE, "reminder", now, [LAST_ACTOR])
    return len(stale)


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
CLOCK_CONFIRM_DATA = cd.encode(cd.ClockConfirm())


async def clock_check(ctx: Context, now: dt.datetime) -> bool:
    """True: the sender may go on. False: the clock is more than `CLOCK_JUMP` ahead of the
    last round and nobody confirmed it: nothing time-driven happens (no reminder, no window
    closed, no screening abandoned); the admins are told once, with a button to confirm.
    Sending resumes by itself if the clock comes back."""
    async with ctx.db.transaction() as conn:
        paused = await store.get_meta(conn, PAUSED_META)
        last_text = await store.get_meta(conn, LAST_ROUND_META)
        last = from_db(last_text) if last_text else None
        if last is None or now - last <= CLOCK_JUMP:
            if paused is not None:
                await store.delete_meta(conn, PAUSED_META)
                await append_audit(conn, AuditEntry(now, SYSTEM, "reminders_resumed", None,
                                                    "clock", paused, to_db(now),
                                                    "the clock came back"))  # fmt: skip
            if last is None or abs(now - last) >= STAMP_EVERY:
                await store.set_meta(conn, LAST_ROUND_META, to_db(now))
            return True
        if paused is None:
            log.warning("clock jumped forward by %s: reminders paused until confirmed", now - last)
            await store.set_meta(conn, PAUSED_META, to_db(now))
            await append_audit(conn, AuditEntry(now, SYSTEM, "reminders_paused", None, "clock",
                                                to_db(last), to_db(now),
                                                "clock jumped forward"))  # fmt: skip
            await _tell_admins(conn, f"clock_jump {to_db(last)} {to_db(now)}", now)
        return False


async def confirm_clock(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`k:clock`, an admin's tap on the pause notice: the time is right; sending resumes and
    catches up (only the latest overdue step of each reminder, marked late)."""
    lang = ctx.language(actor)
    now = ctx.now()
    async with ctx.db.transaction() as conn:
        await begin(conn, actor, now)
        paused = await store.get_meta(conn, PAUSED_META)
        if cd.CLOCK_CONFIRM.decode(data) is None or paused is None:
            return [Out("", toast=t(lang, "rem.admin.clock_nothing"))]
        await store.delete_meta(conn, PAUSED_META)
        await store.set_meta(conn, LAST_ROUND_META, to_db(now))
        await append_audit(conn, AuditEntry(now, str(actor.user_id), "reminders_resumed", None,
                                            "clock", paused, to_db(now),
                                            "time confirmed by an admin"))  # fmt: skip
    ctx.wake_sender()
    return [Out(t(lang, "rem.admin.clock_confirmed"), edit=actor.message_id)]


async def prune_processed_updates(ctx: Context, now: dt.datetime) -> int:
    async with ctx.db.transaction() as conn:
        return await store.prune_processed_updates(conn, now - KEEP_UPDATES)


# --- the task owned by the Application ------------------------------------------------------


#: Seconds a stopping sender has to finish the message in flight (and mark it).
STOP_GRACE = 10.0


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
            except sqlite3.Error as exc:  # recorded for the health check; retried next round
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
        if not self.ctx.leads():  # a standby replica: the leader sends (bot/leadership.py)
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
        except sqlite3.Error as exc:
            health.failing("database", wall, f"{type(exc).__name__}: {exc}")
            raise
        health.recovered("database")
        if result.claimed or result.idle or result.lapsed:
            log.info("reminders: %s", result)
        health.beat("sender", wall)
        return result

    async def stop(self, grace: float = STOP_GRACE) -> None:
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
