"""The D0 ownership loop as the sender and the closing of a screening see it (issue 14): who
owns the patient, the lines and buttons a D0-window reminder carries, the escalation steps
written when a screening closes and decided when they fall due. The buttons themselves are
handled by the flow in bot/flows/ownership.py; the rules are the core's
(conversations/escalation.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.callback_data import NOT_INJECTING, PLAN, TAKE
from bot.common import Button, Context
from bot.present import local_time, time_left
from bot.reminders.decisions import Decision, Message, Skip
from bot.texts import t
from conversations import escalation, schedule
from conversations.eligibility import Outcome
from conversations.escalation import Audience, EscalationStep, LoopState
from conversations.lifecycle import INCLUDED
from conversations.reminder_kinds import Cause, Recipient, ReminderKind
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
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


def d0_buttons(lang: str, screening_id: int, reminder_id: int) -> list[Button]:
    """The D0 ownership buttons, one row (bot/callback_data.py `Ownership`)."""

    def data(action: cd.OwnershipAction) -> str:
        return cd.encode(cd.Ownership(screening_id, reminder_id, action))

    return [
        Button(t(lang, "own.btn.take"), data(TAKE)),
        Button(t(lang, "own.btn.plan"), data(PLAN)),
        Button(t(lang, "own.btn.not_injecting"), data(NOT_INJECTING)),
    ]


@dataclass(frozen=True)
class OwnerFacts:
    """What a D0 notice says about who is on the patient, read afresh each time it is drawn
    (issue 26: a notice is never its previous text plus new lines)."""

    owner: str | None  # the owner's name (their Telegram id if unknown); None: nobody
    taken_at: dt.datetime | None  # when the current owner took the patient
    planned_at: dt.datetime | None
    injected_at: dt.datetime | None = None
    link: str = ""  # the deep link to the patient (team notices), or ""


def owner_facts(
    loop: own_store.Loop, names: dict[int, str], s: Screening | None = None, link: str = ""
) -> OwnerFacts:
    owner = None
    if loop.owner_id is not None:
        owner = names.get(loop.owner_id) or str(loop.owner_id)
    return OwnerFacts(
        owner=owner,
        taken_at=loop.taken_at or loop.acknowledged_at,  # (a take recorded before issue 26)
        planned_at=loop.planned_at,
        injected_at=s.injected_at if s is not None else None,
        link=link,
    )


def owner_lines(lang: str, facts: OwnerFacts, zone: ZoneInfo) -> list[str]:
    """One owner line (with the time of the take), then the plan or the injection."""
    if facts.owner is not None:
        at = local_time(facts.taken_at, zone) if facts.taken_at else "—"
        lines = [t(lang, "own.line.owner", name=facts.owner, at=at)]
    else:
        lines = [t(lang, "own.line.nobody")]
    if facts.injected_at is not None:
        lines.append(t(lang, "own.line.injected", at=local_time(facts.injected_at, zone)))
    elif facts.planned_at is not None:
        lines.append(t(lang, "own.line.planned", at=local_time(facts.planned_at, zone)))
    return lines


def render_notice(
    lang: str, zone: ZoneInfo, body: str, facts: OwnerFacts, buttons: list[Button]
) -> tuple[str, list[list[Button]]]:
    """A D0 notice drawn from facts: its body, one owner line, the plan, one link, and one
    row of buttons (none once the patient is injected: nothing left to answer)."""
    lines = [body, *owner_lines(lang, facts, zone)]
    if facts.link:
        lines.append(t(lang, "own.line.link", url=facts.link))
    rows = [buttons] if buttons and facts.injected_at is None else []
    return "\n".join(lines), rows


def ownership_lines(lang: str, loop: own_store.Loop, names: dict[int, str], ctx: Context) -> str:
    return "\n".join(owner_lines(lang, owner_facts(loop, names), ctx.zone))


def deep_link(conn: Connection, number: str) -> str:
    """`https://t.me/<bot>?start=<NUMBER>` once the bot's username is known (kept at start)."""
    username = store.get_meta(conn, BOT_USERNAME_META)
    return f"https://t.me/{username}?start={number}" if username else ""


BOT_USERNAME_META = "bot_username"


class D0Notice(Message):
    """A D0-window message that already carries its owner line, link and buttons."""


def decorate(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, decision: Decision
) -> Decision:
    """A D0-window reminder with who owns the patient, the plan, the link and the buttons,
    drawn from the facts read now (the window-closed message has nothing left to answer).
    Its body is the undecorated message's text; a notice already decorated is returned as
    it is (the lines are never added twice)."""
    if isinstance(decision, D0Notice) or not isinstance(decision, Message):
        return decision
    if row.step == schedule.WINDOW_CLOSED:
        return decision
    loop = own_store.get_loop(conn, s.id)
    names = own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
    link = deep_link(conn, s.number) if row.recipient == outbox.TEAM else ""
    facts = owner_facts(loop, names, s, link)
    inner = decision.render

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        body, own_rows = inner(lang)
        text, rows = render_notice(lang, ctx.zone, body, facts, d0_buttons(lang, s.id, row.id))
        return text, own_rows + rows

    return D0Notice(render)


def audience(conn: Connection, who: Audience) -> list[str]:
    """Symbolic recipients of an escalation step: the owner is resolved when it is sent; the
    coordinators (the admins when there is none) and admins are listed now, one row each."""
    coordinators = user_store.users_with_role(conn, "coordinator")
    admins = user_store.users_with_role(conn, "admin")
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


def schedule_window_escalations(
    conn: Connection, ctx: Context, screening_id: int, admission: dt.date | None,
    now: dt.datetime, *, included: bool = True,
) -> None:  # fmt: skip
    """(Re)write the window's escalation steps still ahead (screening closed eligible or
    pending, or re-evaluated); a patient no longer included keeps none."""
    stale = [
        r.id
        for r in own_store.scheduled(conn, screening_id, ReminderKind.ESCALATION)
        if r.step.startswith(WINDOW_STEPS_PREFIXES)
    ]
    own_store.cancel_ids(conn, stale, Cause.REEVALUATION)
    if not included or admission is None:
        return
    for step in escalation.future_window_plan(admission, now, ctx.zone):
        outbox.schedule(conn, screening_id, ReminderKind.ESCALATION, step.step, step.due,
                              audience(conn, step.audience))  # fmt: skip


def escalation_decision(
    conn: Connection, ctx: Context, row: Reminder, s: Screening, now: dt.datetime
) -> Decision:
    """The sender's branch for `escalation` rows: still relevant now? then its message."""
    if s.admission_date is None:
        return Skip("no admission date")
    loop = own_store.get_loop(conn, s.id)
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
    names = own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
    link = deep_link(conn, s.number)

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        params: dict[str, Any] = {"number": s.number, "day": day or ""}
        params["deadline"] = local_time(s.d0_deadline, ctx.zone) if s.d0_deadline else "—"
        params["left"] = time_left(lang, s.d0_deadline, now) if s.d0_deadline else "—"
        params["planned"] = local_time(loop.planned_at, ctx.zone) if loop.planned_at else "—"
        lines = [t(lang, f"esc.{kind.value}", **params), ownership_lines(lang, loop, names, ctx)]
        command = "rem.inject" if s.outcome == Outcome.ELIGIBLE else "rem.update"
        lines.append(t(lang, command, number=s.number))
        if link:
            lines.append(t(lang, "own.line.link", url=link))
        return "\n".join(lines), []

    return Message(render)  # loud or silent: the core's table (conversations/loudness.py)
