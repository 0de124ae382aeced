"""The sweep: claim the due rows of the reminder outbox (fenced by the leader's lease), keep
only the latest step of rows that piled up during downtime, deliver each in its own
transaction (bot/reminders/sending.py), and claim again while rows keep coming."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from bot.common import Context
from bot.fencing import LEASE_NAME, LeaseLost
from bot.reminders import membership
from bot.reminders.sending import deliver, record_sent, screening_of
from bot.reminders.state import (
    BSA_EXPIRY,
    CLAIM_LIMIT,
    MAX_PASSES,
    PER_STEP_KINDS,
    Send,
    SweepResult,
    SweepState,
    backoff,
    log,
    row_audit,
)
from bot.reminders.upkeep import idle_pass
from conversations.reminder_kinds import ReminderKind
from storage import leases
from storage import reminders as outbox
from storage.audit import append_audit
from storage.errors import StorageError
from storage.reminders import Reminder


async def settle(ctx: Context, state: SweepState) -> None:
    """Record what was delivered, release the rest of the claims. Raises on a database error
    (the state keeps them for the next try)."""
    claim = state.claim or outbox.claim_of()
    if state.delivered:

        def recorded(conn: Connection) -> None:
            for row, at, late, chat_id, sent in state.delivered.values():
                if outbox.holds(conn, row.id, claim):
                    record_sent(conn, ctx, row, at, late, chat_id, sent)
                else:
                    _claim_lost(row, "sent, but not recorded here")

        await ctx.db.write(recorded)
        state.claimed.difference_update(state.delivered)
        state.delivered.clear()
    if state.claimed:
        released = await ctx.db.write(outbox.release, state.claimed, claim=claim)
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


def _fenced_claim(ctx: Context, conn: Connection) -> outbox.Claim | None:
    """The claim this sweep takes rows under, or None when this replica must not claim: its
    lease is not live, or the lease in the database is no longer (this replica, its epoch)."""
    if not ctx.leads():
        return None
    fence = ctx.lease()
    if fence is None:  # SQLite: the one process
        return outbox.claim_of()
    holder, epoch = fence
    current = leases.current_holder(conn, LEASE_NAME)
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
    kinds: Sequence[ReminderKind] | None = None,
) -> SweepResult:
    """Send what is due at *now* (see the module docstring). Safe to call concurrently with
    the flows: every database access is a transaction of its own (`ctx.db.write`).

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
    kinds: Sequence[ReminderKind] | None,
) -> SweepResult:
    result = SweepResult()
    if kinds is None:
        result.idle = await idle_pass(ctx, now)
        result.lapsed = await membership.lapse_due(ctx, now, send)  # issue 24: end dates
    throttled: dict[int, dt.datetime] = {}  # chat → flood-control wait, within this sweep
    for _ in range(MAX_PASSES):

        def claimed_now(conn: Connection) -> _Claimed | None:
            claim = _fenced_claim(ctx, conn)
            if claim is None:
                return None  # a standby now: the leader sends
            if state.claimed and state.claim != claim:
                return None  # rows of an older claim in hand: settled first (next sweep)
            state.claim = claim
            # Catch-up across every overdue row, not only this batch: of the rows due for one
            # (screening, kind, recipient), only the latest is sent.
            superseded = [] if kinds is not None else outbox.supersede_overdue(
                conn, now, PER_STEP_KINDS
            )  # fmt: skip
            claimed = outbox.claim_due(conn, now, limit, kinds=kinds, claim=claim)
            chosen, in_batch = catch_up(claimed)
            for row in in_batch:
                outbox.mark_skipped(conn, row.id, "superseded by a later step")
            for row in [*superseded, *in_batch]:
                screening = screening_of(conn, row)
                append_audit(conn, row_audit(now, "reminder_skipped", row, screening,
                                             "superseded by a later step"))  # fmt: skip
            return _Claimed(claim, claimed, chosen, len(superseded) + len(in_batch))

        batch = await ctx.db.write(claimed_now)
        if batch is None:
            return result
        claim, claimed, chosen = batch.claim, batch.claimed, batch.chosen
        state.claimed.update(row.id for row in chosen)
        result.skipped += batch.superseded
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
                await deliver(ctx, row, now, send, result, throttled, state)
            except StorageError:
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

                def internal(conn: Connection, row: Reminder, claim: outbox.Claim) -> None:
                    if outbox.holds(conn, row.id, claim):
                        outbox.retry_later(conn, row.id, now + backoff(row.attempts), "internal")

                await ctx.db.write(internal, row, claim)
                state.claimed.discard(row.id)
                result.retried += 1
    return result


@dataclass(frozen=True)
class _Claimed:
    """One claiming transaction: the claim, the rows claimed, those to send, how many were
    superseded (skipped, audited)."""

    claim: outbox.Claim
    claimed: list[Reminder]
    chosen: list[Reminder]
    superseded: int


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
