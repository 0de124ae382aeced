"""Issue 14: every D0-window reminder has an owner, an answer and an escalation.

- D0-window reminders (team and private) carry three buttons, callback data
  `o:<screening id>:<reminder id>:t|p|n`, and so does each patient of the team's morning
  board (`o:<screening id>:<board row id>:t|p|n`, bot/reminders/board.py) (untrusted: the
  reminder — of this patient, or a sent board —, its state, the patient being open and the
  presser's role are checked against the database):
  **t** "I'm on it" — the presser becomes the owner (audited; a takeover says so), today's
  reminders are marked acknowledged, the escalations that no longer mean anything are
  cancelled, and today's team message is edited in place to say who took the patient;
  **p** "Injection planned…" — asks a local time in the private chat (`14:30`, `dd/mm hh:mm`;
  `conversations.escalation.parse_planned_time`), records it (audited) and schedules the
  planned-time steps; **n** "Not injecting" — asks the reason, then hands it to /withdraw.
- Escalation steps (`conversations.escalation`) are outbox rows of kind `escalation`;
  `escalation_decision` is the sender's branch for them (`still_relevant` decides).
- The private D0 reminders go to the symbolic recipient `owner` (the owner, else the
  screening clinician), resolved when sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from bot import callback_data as cd
from bot import routing
from bot.callback_data import PLAN, TAKE, Prefix
from bot.common import Actor, Button, Context, Out
from bot.flows.screening import SCREEN_MODE
from bot.present import local_time
from bot.records import begin
from bot.reminders import wording
from bot.reminders.d0_loop import (
    WINDOW_STEPS_PREFIXES,
    audience,
    is_open,
    loop_state,
    team_language,
)
from bot.reminders.decisions import Message
from bot.texts import t
from conversations import escalation, schedule
from conversations.escalation import LoopState, PlanError
from conversations.reminder_kinds import Cause, ReminderKind, ReminderState
from conversations.windows import at_local
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.reminders import Reminder
from storage.screenings import Screening, Session
from storage.sql import after_commit

PLAN_MODE = "plan_time"
NOT_INJECTING_MODE = "wd_reason_button"
OUR_MODES = frozenset({PLAN_MODE, NOT_INJECTING_MODE})


def _audit(actor: int | str, action: str, now: dt.datetime, number: str, **fields: Any) -> AuditEntry:  # fmt: skip
    return AuditEntry(at=now, actor=str(actor), action=action, screening=number, **fields)


# --- the buttons and the ownership line on D0-window reminders ------------------------------


def _rendered(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, lang: str
) -> tuple[str, list[list[Button]]] | None:
    # `prepare` draws the whole message from the patient's facts now (owner, plan, link,
    # buttons included: `decorate`), never from the text it had.
    decision = wording.prepare(conn, ctx, row, s, ctx.now())
    if not isinstance(decision, Message):
        return None
    return decision.render(lang)


def refreshed_messages(conn: Connection, ctx: Context, s: Screening, now: dt.datetime) -> list[Out]:
    """Today's D0-window messages of this patient, re-worded in place (who owns it, the
    plan); once it is no longer open, their buttons go."""
    since = at_local(now.astimezone(ctx.zone).date(), dt.time(0), ctx.zone)
    rows = {r.id: r for r in outbox.for_screening(conn, s.id)}
    outs = []
    for message in own_store.sent_messages(conn, s.id, ReminderKind.D0_WINDOW, since):
        row = rows.get(message.reminder_id)
        if row is None or row.step == schedule.WINDOW_CLOSED:
            continue
        lang = team_language(ctx)
        if row.recipient != outbox.TEAM:
            user = user_store.get_user(conn, message.chat_id)
            lang = ctx.language_of(user)
        rendered = _rendered(conn, ctx, row, s, lang) if is_open(s) else None
        if rendered is None:
            continue
        text, buttons = rendered
        outs.append(Out(text, buttons, chat_id=message.chat_id, edit=message.message_id))
    from bot.reminders import board as reminders_board

    return outs + reminders_board.refreshed_board(conn, ctx, now)


# --- the buttons ----------------------------------------------------------------------------


def _stale(lang: str) -> list[Out]:
    return [Out("", toast=t(lang, "own.stale"))]


async def ownership_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`o:<screening id>:<reminder id>:t|p|n`."""
    lang = ctx.language(actor)
    button = cd.OWNERSHIP.decode(data)
    if button is None:
        return _stale(lang)
    # Routed with /start's role (any listed user, groups allowed): the role is checked here.
    if actor.user is None or not actor.user.has("clinician"):
        return [Out("", toast=t(lang, "own.role"))]
    screening_id, reminder_id, action = button.screening_id, button.reminder_id, button.action
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        s = store.get_by_id(conn, screening_id)
        row = own_store.reminder(conn, reminder_id)
        # A D0-window reminder of this patient, or a morning board (which lists them all).
        of_this_patient = row is not None and (
            (row.kind == ReminderKind.D0_WINDOW and row.screening_id == screening_id)
            or (row.kind == ReminderKind.BOARD and row.screening_id is None)
        )
        if s is None or row is None or not of_this_patient or row.state != ReminderState.SENT:
            return _stale(lang)
        if not is_open(s):
            status = t(lang, f"status.{s.status}")
            return [Out("", toast=t(lang, "own.closed", number=s.number, status=status))]
        if actor.first_name:
            own_store.set_display_name(conn, actor.user_id, actor.first_name)
        if action == TAKE:
            outs = _take(conn, ctx, actor, s, row, now)
        elif action == PLAN:
            _enter(conn, actor, s.id, PLAN_MODE, now)
            outs = [Out(t(lang, "own.plan.ask", number=s.number,
                          deadline=local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"),
                        chat_id=actor.user_id)]  # fmt: skip
        else:
            _enter(conn, actor, s.id, NOT_INJECTING_MODE, now)
            outs = [Out(t(lang, "own.wd.ask", number=s.number), chat_id=actor.user_id)]
        after_commit(conn, ctx.wake_sender)  # reminders changed
        if action != TAKE and not actor.private:
            outs.insert(0, Out("", toast=t(lang, "own.see_private")))
        return outs

    outs = await ctx.db.write(body)
    return outs


def _take(
    conn: Connection, ctx: Context, actor: Actor, s: Screening, row: Reminder,
    now: dt.datetime,
) -> list[Out]:  # fmt: skip
    lang = ctx.language(actor)
    take_ownership(conn, ctx, actor.user_id, s, now, row.sent_at or now)
    outs = [Out("", toast=t(lang, "own.taken", number=s.number))]
    outs += refreshed_messages(conn, ctx, s, now)
    return outs


def take_ownership(
    conn: Connection,
    ctx: Context,
    user_id: int,
    s: Screening,
    now: dt.datetime,
    since: dt.datetime,
    how: str = "acknowledged",
) -> None:
    """The user owns the patient from now (audited, a takeover named as such); today's D0
    reminders are acknowledged and the escalations this answers are cancelled."""
    loop = own_store.get_loop(conn, s.id)
    taken = escalation.taken_since(
        loop.owner_id, loop.taken_at or loop.acknowledged_at, user_id, now
    )
    own_store.acknowledge(conn, s.id, user_id, now, taken)
    midnight = at_local(now.astimezone(ctx.zone).date(), dt.time(0), ctx.zone)
    own_store.acknowledge_rows(
        conn, s.id, ReminderKind.D0_WINDOW, user_id, now, min(since, midnight)
    )
    if loop.owner_id != user_id:
        action = "owner_takeover" if loop.owner_id is not None else "owner_taken"
        append_audit(conn, _audit(user_id, action, now, s.number, field="owner",
                                        old_value=str(loop.owner_id) if loop.owner_id else None,
                                        new_value=str(user_id), reason=how))  # fmt: skip
    else:
        append_audit(conn, _audit(user_id, "acknowledged", now, s.number,
                                        field="acknowledged_at", new_value=now.isoformat(),
                                        reason=how))  # fmt: skip
    cancel_moot(conn, ctx, s, Cause.ACKNOWLEDGEMENT)


def cancel_moot(conn: Connection, ctx: Context, s: Screening, by: str) -> int:
    """Cancel (with its cause) every scheduled escalation step that the patient's state now
    answers; the log keeps them."""
    fresh = store.get_by_id(conn, s.id) or s
    state = loop_state(fresh, own_store.get_loop(conn, s.id))
    moot = []
    for row in own_store.scheduled(conn, s.id, ReminderKind.ESCALATION):
        if fresh.admission_date is None or not _relevant(row.step, row.due_at, state, fresh, ctx):
            moot.append(row.id)
    return own_store.cancel_ids(conn, moot, by)


def _relevant(step: str, due: dt.datetime, state: LoopState, s: Screening, ctx: Context) -> bool:
    assert s.admission_date is not None
    try:
        return escalation.still_relevant(
            step, due, state, admission_date=s.admission_date, zone=ctx.zone
        )
    except ValueError:
        return False


# --- sessions: the private chat waits for a time or a reason --------------------------------


def _enter(conn: Connection, actor: Actor, screening_id: int, mode: str, now: dt.datetime) -> None:
    """Ask in the presser's private chat; a screening open there is kept aside and restored."""
    current = store.get_session(conn, actor.user_id, actor.user_id)
    previous: dict[str, Any] | None = None
    if current is not None and current.mode in OUR_MODES:
        previous = current.data.get("previous")
    elif current is not None and current.mode == SCREEN_MODE:
        previous = {"screening_id": current.screening_id, "data": current.data}
    store.set_session(conn, actor.user_id, actor.user_id, screening_id, mode, now,
                            {"previous": previous})  # fmt: skip


def _leave(conn: Connection, actor: Actor, session: Session, now: dt.datetime) -> None:
    previous = session.data.get("previous")
    if isinstance(previous, dict) and previous.get("screening_id") is not None:
        store.set_session(conn, actor.user_id, actor.chat_id, int(previous["screening_id"]),
                                SCREEN_MODE, now, previous.get("data") or {})  # fmt: skip
    else:
        store.clear_session(conn, actor.user_id, actor.chat_id)


def _session(conn: Connection, actor: Actor, mode: str) -> Session | None:
    session = store.get_session(conn, actor.user_id, actor.chat_id)
    return session if session is not None and session.mode == mode else None


# --- "Injection planned…": the typed time ---------------------------------------------------


async def plan_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session = _session(conn, actor, PLAN_MODE)
        s = store.get_by_id(conn, session.screening_id) if session and session.screening_id else None  # fmt: skip
        if session is None or s is None:
            return [Out(t(lang, "own.stale"))]
        if not is_open(s):
            _leave(conn, actor, session, now)
            return [Out(t(lang, "own.closed", number=s.number, status=t(lang, f"status.{s.status}")))]  # fmt: skip
        planned = escalation.parse_planned_time(text, now, ctx.zone, s.d0_deadline)
        if isinstance(planned, PlanError):
            deadline = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
            return [Out(t(lang, f"own.plan.err.{planned.value}", text=text.strip()[:40],
                          deadline=deadline))]  # fmt: skip
        record_plan(conn, ctx, actor.user_id, s, planned, now)
        _leave(conn, actor, session, now)
        outs = [Out(t(lang, "own.plan.done", number=s.number,
                      at=local_time(planned, ctx.zone),
                      remind=local_time(planned - escalation.BEFORE_PLANNED, ctx.zone)))]  # fmt: skip
        outs += refreshed_messages(conn, ctx, s, now)
        after_commit(conn, ctx.wake_sender)  # reminders changed
        return outs

    outs = await ctx.db.write(body)
    return outs


def record_plan(
    conn: Connection,
    ctx: Context,
    user_id: int,
    s: Screening,
    planned: dt.datetime,
    now: dt.datetime,
) -> None:
    """The planned D0 time (audited); planning is also an acknowledgement (the planner owns
    the patient). The previous plan's steps are cancelled, the new plan's scheduled."""
    loop = own_store.get_loop(conn, s.id)
    own_store.set_planned(conn, s.id, planned)
    append_audit(conn, _audit(user_id, "d0_planned", now, s.number, field="planned_at",
                                    old_value=loop.planned_at.isoformat() if loop.planned_at else None,
                                    new_value=planned.isoformat()))  # fmt: skip
    old_plan = [
        r.id
        for r in own_store.scheduled(conn, s.id, ReminderKind.ESCALATION)
        if not r.step.startswith(WINDOW_STEPS_PREFIXES)
    ]
    own_store.cancel_ids(conn, old_plan, Cause.REPLANNED)
    take_ownership(conn, ctx, user_id, s, now, now, how="injection planned")
    for step in escalation.planned_injection_plan(planned, now):
        outbox.schedule(conn, s.id, ReminderKind.ESCALATION, step.step, step.due,
                              audience(conn, step.audience))  # fmt: skip


# --- "Not injecting": the reason, then /withdraw --------------------------------------------


async def not_injecting_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """The typed reason goes to /withdraw's own entry (its checks, its confirmation)."""
    from bot.flows import injection

    lang = ctx.language(actor)

    def body(conn: Connection) -> Screening | None:
        session = _session(conn, actor, NOT_INJECTING_MODE)
        s = store.get_by_id(conn, session.screening_id) if session and session.screening_id else None  # fmt: skip
        if session is None or s is None:
            return None
        # Left before /withdraw runs: its own step (a confirmation) may set the session next.
        _leave(conn, actor, session, ctx.now())
        return s

    s = await ctx.db.write(body)
    if s is None:
        return [Out(t(lang, "own.stale"))]
    reason = text.split()
    if not reason:
        return [Out(t(lang, "own.wd.ask", number=s.number))]
    return await injection.withdraw(ctx, actor, [s.number, *reason])


# --- escalation rows ------------------------------------------------------------------------


# --- registration ---------------------------------------------------------------------------


FEATURE = routing.Feature(
    "ownership",
    # /start's role (any listed user) and allowed in groups: the team presses these there.
    callbacks=(routing.Callback(Prefix.OWNERSHIP, "start", ownership_button),),
    text_modes=(
        routing.TextMode(PLAN_MODE, "withdraw", plan_text),
        routing.TextMode(NOT_INJECTING_MODE, "withdraw", not_injecting_text),
    ),
)
