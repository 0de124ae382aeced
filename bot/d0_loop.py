"""The D0 ownership loop as the sender and the closing of a screening see it (issue 14): who
owns the patient, the lines and buttons a D0-window reminder carries, the escalation steps
written when a screening closes and decided when they fall due. The buttons themselves are
handled by the flow in bot/flows/ownership.py; the rules are the core's
(conversations/escalation.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot import callback_data as cd
from bot.callback_data import NOT_INJECTING, PLAN, TAKE
from bot.common import Button, Context
from bot.present import local_time, time_left
from bot.reminder_types import Decision, Message, Skip, UrgentMessage
from bot.texts import t
from conversations import escalation, schedule
from conversations.escalation import Audience, EscalationStep, LoopState
from conversations.lifecycle import INCLUDED
from conversations.reminder_kinds import Recipient, ReminderKind
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.connection import Connection
from storage.reminders import Reminder
from storage.screenings import Screening

#: Escalation steps of the window itself (the planned-time steps belong to one plan).
WINDOW_STEPS_PREFIXES = (EscalationStep.UNACKNOWLEDGED.value, EscalationStep.NO_PLAN_LAST_DAY.value)


def is_open(s: Screening) -> bool:
    return s.status == store.SCREENED and s.outcome in INCLUDED and s.injected_at is None


def loop_state(s: Screening, loop: own_store.Loop) -> LoopState:
    return LoopState(
        acknowledged_at=loop.acknowledged_at,
        planned_at=loop.planned_at,
        injected=s.injected_at is not None,
        closed=s.status != store.SCREENED or s.outcome not in INCLUDED,
    )


def team_language(ctx: Context) -> str:
    return ctx.settings.language or "fr"


def d0_buttons(lang: str, screening_id: int, reminder_id: int) -> list[list[Button]]:
    """The D0 ownership buttons (bot/callback_data.py `Ownership`)."""

    def data(action: cd.OwnershipAction) -> str:
        return cd.encode(cd.Ownership(screening_id, reminder_id, action))

    return [
        [Button(t(lang, "own.btn.take"), data(TAKE))],
        [
            Button(t(lang, "own.btn.plan"), data(PLAN)),
            Button(t(lang, "own.btn.not_injecting"), data(NOT_INJECTING)),
        ],
    ]


def ownership_lines(lang: str, loop: own_store.Loop, names: dict[int, str], ctx: Context) -> str:
    lines = []
    if loop.owner_id is not None:
        who = names.get(loop.owner_id) or str(loop.owner_id)
        at = local_time(loop.acknowledged_at, ctx.zone) if loop.acknowledged_at else "—"
        lines.append(t(lang, "own.line.owner", name=who, at=at))
    else:
        lines.append(t(lang, "own.line.nobody"))
    if loop.planned_at is not None:
        lines.append(t(lang, "own.line.planned", at=local_time(loop.planned_at, ctx.zone)))
    return "\n".join(lines)


async def deep_link(conn: Connection, number: str) -> str:
    """`https://t.me/<bot>?start=<NUMBER>` once the bot's username is known (kept at start)."""
    username = await store.get_meta(conn, BOT_USERNAME_META)
    return f"https://t.me/{username}?start={number}" if username else ""


BOT_USERNAME_META = "bot_username"


async def decorate(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, decision: Decision
) -> Decision:
    """A D0-window reminder with who owns the patient, the plan, and the three buttons (the
    window-closed message has nothing left to answer)."""
    if not isinstance(decision, Message) or row.step == schedule.WINDOW_CLOSED:
        return decision
    loop = await own_store.get_loop(conn, s.id)
    names = await own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
    link = await deep_link(conn, s.number) if row.recipient == outbox.TEAM else ""
    inner = decision.render

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        text, buttons = inner(lang)
        extra = [ownership_lines(lang, loop, names, ctx)]
        if link:
            extra.append(t(lang, "own.line.link", url=link))
        return text + "\n" + "\n".join(extra), buttons + d0_buttons(lang, s.id, row.id)

    return Message(render)


async def audience(conn: Connection, who: Audience) -> list[str]:
    """Symbolic recipients of an escalation step: the owner is resolved when it is sent; the
    coordinators (the admins when there is none) and admins are listed now, one row each."""
    coordinators = await user_store.users_with_role(conn, "coordinator")
    admins = await user_store.users_with_role(conn, "admin")
    users: list[int] = []
    owner: list[str] = []
    match who:
        case Audience.COORDINATORS:
            users = coordinators or admins
        case Audience.COORDINATORS_AND_ADMINS:
            users = coordinators + admins
        case Audience.OWNER:
            owner = [Recipient.OWNER.value]
        case Audience.OWNER_AND_COORDINATORS:
            owner = [Recipient.OWNER.value]
            users = coordinators or admins
    return owner + [outbox.user_recipient(u) for u in dict.fromkeys(users)]


async def schedule_window_escalations(
    conn: Connection, ctx: Context, screening_id: int, admission: dt.date | None,
    now: dt.datetime, *, included: bool = True,
) -> None:  # fmt: skip
    """(Re)write the window's escalation steps still ahead (screening closed eligible or
    pending, or re-evaluated); a patient no longer included keeps none."""
    stale = [
        r.id
        for r in await own_store.scheduled(conn, screening_id, ReminderKind.ESCALATION)
        if r.step.startswith(WINDOW_STEPS_PREFIXES)
    ]
    await own_store.cancel_ids(conn, stale, "re-evaluation")
    if not included or admission is None:
        return
    for step in escalation.future_window_plan(admission, now, ctx.zone):
        await outbox.schedule(conn, screening_id, ReminderKind.ESCALATION, step.step, step.due,
                              await audience(conn, step.audience))  # fmt: skip


async def escalation_decision(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, now: dt.datetime
) -> Decision:
    """The sender's branch for `escalation` rows: still relevant now? then its message."""
    if s.admission_date is None:
        return Skip("no admission date")
    loop = await own_store.get_loop(conn, s.id)
    state = loop_state(s, loop)
    try:
        kind, day = escalation.parse_step(row.step)
        relevant = escalation.still_relevant(
            row.step, row.due_at, state, admission_date=s.admission_date, zone=ctx.zone, now=now
        )
    except ValueError:
        return Skip(f"unknown escalation step {row.step}")
    if not relevant:
        if state.injected:
            return Skip("injected")
        if state.closed:
            return Skip(f"status {s.status}, outcome {s.outcome}")
        return Skip("answered: acknowledged or planned")
    names = await own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
    link = await deep_link(conn, s.number)

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        params: dict[str, Any] = {"number": s.number, "day": day or ""}
        params["deadline"] = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
        params["left"] = time_left(lang, s.d0_deadline, now) if s.d0_deadline else "—"
        params["planned"] = local_time(loop.planned_at, ctx.zone) if loop.planned_at else "—"
        lines = [t(lang, f"esc.{kind.value}", **params), ownership_lines(lang, loop, names, ctx)]
        command = "rem.inject" if s.outcome == "eligible" else "rem.update"
        lines.append(t(lang, command, number=s.number))
        if link:
            lines.append(t(lang, "own.line.link", url=link))
        return "\n".join(lines), []

    return UrgentMessage(render) if kind is EscalationStep.NO_PLAN_LAST_DAY else Message(render)
