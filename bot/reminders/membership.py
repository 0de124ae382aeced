"""Team membership that runs itself (issue 24), the parts the reminder sender drives: the
admins' notices (someone joined; an access ends in 7 days, with a button to extend it by 6
months; an access lapsed with open patients, offered to the coordinators), and the lapse
itself — at the end date, the access ends by itself and the person is told once.

The notices are rows of the outbox (kind `admin`, durable, retried, sent once); their text is
worded when they are sent, from what the database says then (an end date changed meanwhile:
the reminder is skipped). The rules (end of a local day, 7 days before, 6 months) are the
core's (conversations/membership.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Connection
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import callback_data as cd
from bot.common import Button, Context
from bot.reminders.decisions import Decision, Message, Skip
from bot.texts import Raw, t
from conversations.membership import needs_reminder, reminder_due
from conversations.reminder_kinds import ReminderKind
from storage import membership as m_store
from storage import reminders as outbox
from storage import screenings as screening_store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit
from storage.membership import Member
from storage.reminders import Reminder

log = logging.getLogger("lysyme.membership")

SYSTEM = "system"
#: Steps of the admins' notices (outbox kind `admin`): `<step>:<telegram id>[:<more>]`.
JOINED = "joined"
ENDS = "access_ends"
LAPSED = "lapsed"
STEPS = (JOINED, ENDS, LAPSED)

Send = Callable[[int, str, list[list[Button]]], Awaitable[object]]


def is_membership_step(step: str) -> bool:
    return step.split(":", 1)[0] in STEPS


def day_text(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def name_of(person: Member | None) -> str:
    """ "Name @username" as Telegram gave them ("" when nothing is known)."""
    if person is None:
        return ""
    parts = [person.full_name or "", f"@{person.username}" if person.username else ""]
    return " ".join(p for p in parts if p)


def who(lang: str, person: Member | None, telegram_id: int) -> str:
    """A person as the admins read them: name @username (id) — from what Telegram gave."""
    named = name_of(person)
    return f"{named} ({telegram_id})" if named else str(telegram_id)


def roles_text(lang: str, roles: frozenset[str] | set[str]) -> str:
    return ", ".join(t(lang, f"role.{r}") for r in sorted(roles))


def admins(conn: Connection) -> list[int]:
    return user_store.users_with_role(conn, "admin")


def tell(conn: Connection, step: str, due: dt.datetime, recipients: list[int]) -> None:
    if recipients:
        outbox.schedule(conn, None, ReminderKind.ADMIN, step, due,
                              [outbox.user_recipient(r) for r in recipients])  # fmt: skip


def plan_end_reminder(
    conn: Connection, ctx: Context, telegram_id: int, day: dt.date, now: dt.datetime
) -> None:
    """The admins' reminder 7 days before `day` (none when the end is nearer than that)."""
    if needs_reminder(day, ctx.zone, now):
        step = f"{ENDS}:{telegram_id}:{day.isoformat()}"
        tell(conn, step, reminder_due(day, ctx.zone), admins(conn))


def extend_data(telegram_id: int, day: dt.date) -> str:
    return cd.encode(cd.AccessExtend(telegram_id, day.isoformat()))


def decision(conn: Connection, ctx: Context, row: Reminder, now: dt.datetime) -> Decision:
    """What an admin notice of membership says now (or why it is no longer sent)."""
    step, _, rest = row.step.partition(":")
    head, _, tail = rest.partition(":")
    if not head.isdigit():
        return Skip(f"bad step {row.step}")
    telegram_id = int(head)
    person = m_store.member(conn, telegram_id)
    if step == JOINED:
        return _joined(conn, telegram_id, person, tail)
    if step == ENDS:
        if person is None or not person.active or person.until_day is None:
            return Skip("access already ended")
        if person.until_day.isoformat() != tail:
            return Skip("end date changed")
        day = person.until_day
        return Message(lambda lang: (
            t(lang, "mb.ends_soon", who=who(lang, person, telegram_id),
              roles=roles_text(lang, person.roles), day=day_text(day)),
            [[Button(t(lang, "mb.extend_button"), extend_data(telegram_id, day))]],
        ))  # fmt: skip
    if step == LAPSED:
        work = m_store.open_work_of(conn, telegram_id)
        if not work:
            return Skip("no open patient")
        return Message(lambda lang: (_handover(lang, person, telegram_id, work), []))
    return Skip(f"unknown step {row.step}")


def _joined(conn: Connection, telegram_id: int, person: Member | None, tail: str) -> Decision:
    invitation = m_store.invitation_by_id(conn, int(tail)) if tail.isdigit() else None
    if invitation is None or person is None:
        return Skip("invitation not found")
    inviter = m_store.member(conn, invitation.created_by)
    until = invitation.until_day

    def render(lang: str) -> tuple[str, list[list[Button]]]:
        text = t(lang, "mb.joined", who=who(lang, person, telegram_id),
                 roles=roles_text(lang, invitation.roles),
                 inviter=who(lang, inviter, invitation.created_by))  # fmt: skip
        if until is not None:
            text += "\n" + t(lang, "mb.until_line", day=day_text(until))
        return text, []

    return Message(render)


def _handover(
    lang: str, person: Member | None, telegram_id: int, work: list[tuple[str, str]]
) -> str:
    lines = [t(lang, "mb.handover", who=who(lang, person, telegram_id))]
    for number, status in work:
        command = (
            f"/resume {number}" if status == screening_store.IN_SCREENING else f"/patient {number}"
        )
        lines.append(t(lang, "mb.handover_line", number=number, status=t(lang, f"status.{status}"),
                       command=Raw(command)))  # fmt: skip
    return "\n".join(lines)


# --- the lapse ------------------------------------------------------------------------------


async def lapse_due(ctx: Context, now: dt.datetime, send: Send) -> int:
    """End every access whose end has come (audited, sessions closed, open patients offered
    to the coordinators), then tell each person once. Returns the number of lapses."""

    def lapsed(conn: Connection) -> tuple[list[Member], list[Member]]:
        due = m_store.due_lapses(conn, now)
        for person in due:
            if not m_store.lapse(conn, person.telegram_id):
                continue
            screening_store.clear_user_sessions(conn, person.telegram_id)
            until = day_text(person.until_day) if person.until_day else None
            ended = person.access_until.isoformat() if person.access_until else None
            append_audit(conn, AuditEntry(now, SYSTEM, "access_lapsed", None,
                                          str(person.telegram_id),
                                          ",".join(sorted(person.roles)), ended,
                                          f"end date {until}" if until else None))  # fmt: skip
            if m_store.open_work_of(conn, person.telegram_id):
                coordinators = [c for c in user_store.users_with_role(conn, "coordinator")
                                if c != person.telegram_id]  # fmt: skip
                tell(conn, f"{LAPSED}:{person.telegram_id}", now,
                     coordinators or admins(conn))  # fmt: skip
        return due, m_store.lapse_notices_due(conn)

    due, told = await ctx.db.write(lapsed)
    for person in due:
        log.info("access of %s lapsed", person.telegram_id)
    for person in told:
        await _tell_lapsed(ctx, person, send)
    return len(due)


async def _tell_lapsed(ctx: Context, person: Member, send: Send) -> None:
    """Once: sent, or refused for good (blocked, chat gone). A network error: next round."""
    lang = person.language if person.language in ("fr", "en") else ctx.settings.language or "fr"
    day = day_text(person.until_day) if person.until_day else ""
    try:
        await send(person.telegram_id, t(lang, "mb.lapsed_you", day=day), [])
    except (Forbidden, BadRequest) as exc:
        log.warning("lapse notice to %s refused: %s", person.telegram_id, type(exc).__name__)
    except TelegramError as exc:
        log.warning("lapse notice to %s not sent yet: %s", person.telegram_id, type(exc).__name__)
        return

    await ctx.db.write(m_store.mark_lapse_told, person.telegram_id)
