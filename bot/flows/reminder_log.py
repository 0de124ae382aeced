"""Issue 14's views: `/reminders [NUMBER]` (coordinator, private chat), `/start NUMBER` (the
deep link of team notices), and `/users` showing who cannot be reached privately.

`/reminders` lists every reminder row of one patient or of every open patient with its
state, nothing hidden: scheduled (when), sent (when, late or not), answered and acknowledged
(who, when), skipped (why), failed (why), cancelled (by what: `Cause`), unknown (a timeout
after the request left).
Escalations are the rows of kind "escalation". The renderer splits the text under 4,096
characters (bot/telegram/handlers.py `split_message`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from bot import routing
from bot.common import Actor, Context, Out, allowed, group_pointer
from bot.flows import basic
from bot.present import local_time
from bot.reminders.board import board_line
from bot.texts import t
from bot.views.reminder_words import reason_words, recipient_words, state_words, what
from conversations.reminder_kinds import Cause, ReminderState
from storage import ownership as own_store
from storage import queries
from storage import screenings as store
from storage.ownership import LogRow
from storage.screenings import Screening

MAX_ARGS = 1


def _short(moment: dt.datetime | None, ctx: Context) -> str:
    return local_time(moment, ctx.zone) if moment is not None else "—"


#: Issue 26: the cause a cancelled row keeps (`Cause`), in the reader's language.
_CANCEL_CAUSES = {
    Cause.INJECTED: "rl.cancel.injection",
    Cause.WITHDRAWN: "rl.cancel.withdrawal",
    Cause.ANSWERED: "rl.cancel.answered",
    Cause.WINDOW_CLOSED: "rl.cancel.window_closed",
    Cause.ABANDONED: "rl.cancel.abandoned",
    Cause.REEVALUATION: "rl.cancel.other",
    Cause.ACKNOWLEDGEMENT: "rl.cancel.acknowledgement",
    Cause.REPLANNED: "rl.cancel.replanned",
}


def _cancel_cause(lang: str, row: LogRow, s: Screening | None) -> str:
    """Rows cancelled by code that names its cause carry it; the others are read from what
    happened to the patient (injection, withdrawal, else a re-evaluation)."""
    if row.cancelled_by in _CANCEL_CAUSES:
        return t(lang, _CANCEL_CAUSES[Cause(row.cancelled_by)])
    if row.cancelled_by:
        return reason_words(lang, row.cancelled_by)
    if s is None:
        return t(lang, "rl.cancel.other")
    if s.injected_at is not None:
        return t(lang, "rl.cancel.injection")
    if s.status == store.WITHDRAWN:
        return t(lang, "rl.cancel.withdrawal")
    return t(lang, "rl.cancel.other")


def row_line(
    lang: str, ctx: Context, row: LogRow, s: Screening | None, names: dict[int, str]
) -> str:
    head = f"• {what(lang, row.kind, row.step)} → {recipient_words(lang, row.recipient, names)}"
    match row.state:
        case ReminderState.SCHEDULED:
            state = t(lang, "rl.state.scheduled", at=_short(row.due_at, ctx))
        case ReminderState.CLAIMED:
            state = t(lang, "rl.state.claimed", at=_short(row.due_at, ctx))
        case ReminderState.SENT if row.late:
            state = t(lang, "rl.state.sent_late", at=_short(row.sent_at, ctx),
                      due=_short(row.due_at, ctx))  # fmt: skip
        case ReminderState.SENT:
            state = t(lang, "rl.state.sent", at=_short(row.sent_at, ctx))
        case ReminderState.SKIPPED:
            state = t(lang, "rl.state.skipped", why=reason_words(lang, row.last_error))
        case ReminderState.FAILED:
            state = t(lang, "rl.state.failed", why=reason_words(lang, row.last_error))
        case ReminderState.CANCELLED:
            state = t(lang, "rl.state.cancelled", why=_cancel_cause(lang, row, s))
        case ReminderState.UNKNOWN:
            state = t(lang, "rl.state.unknown", at=_short(row.due_at, ctx))
        case _:
            state = state_words(lang, row.state)
    parts = [head, state]
    if row.answered_by is not None:
        who = names.get(row.answered_by, str(row.answered_by))
        parts.append(t(lang, "rl.state.answered", who=who, at=_short(row.answered_at, ctx)))
    if row.acknowledged_by is not None:
        who = recipient_words(lang, f"user:{row.acknowledged_by}", names)
        parts.append(t(lang, "rl.state.acknowledged", who=who, at=_short(row.acknowledged_at, ctx)))
    if row.rerouted_from:
        parts.append(t(lang, "rl.rerouted", who=recipient_words(lang, row.rerouted_from, names)))
    return " — ".join(parts)


async def reminders(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    if len(args) > MAX_ARGS:
        return [Out(t(lang, "rl.usage"))]

    def body(conn: Connection) -> list[Out]:
        if args:
            number = args[0].upper()[:20]
            found = store.get_by_number(conn, number)
            if found is None:
                return [Out(t(lang, "rl.not_found", number=number))]
            patients = [found]
        else:
            patients = [s for s in queries.open_screenings(conn) if s.status == store.SCREENED]
        rows = own_store.reminder_log(conn, [s.id for s in patients])
        # The team's morning boards while these patients were open (issue 14).
        since = min((s.created_at for s in patients), default=None)
        boards = own_store.board_log(conn, since) if since is not None else []
        user_ids = [r.acknowledged_by for r in rows if r.acknowledged_by is not None]
        user_ids += [r.answered_by for r in rows if r.answered_by is not None]
        user_ids += [int(r.recipient[5:]) for r in rows
                     if r.recipient.startswith("user:") and r.recipient[5:].lstrip("-").isdigit()]  # fmt: skip
        names = own_store.display_names(conn, user_ids)
        if not patients:
            return [Out(t(lang, "rl.no_open"))]
        lines = [t(lang, "rl.title", count=len(rows) + len(boards))]
        if boards:
            lines += ["", t(lang, "rl.board")]
            lines += [row_line(lang, ctx, row, None, names) for row in boards]
        by_screening: dict[int | None, list[LogRow]] = {}
        for row in rows:
            by_screening.setdefault(row.screening_id, []).append(row)
        for s in patients:
            lines += [
                "",
                t(lang, "rl.patient", number=s.number, status=t(lang, f"status.{s.status}")),
            ]
            mine = by_screening.get(s.id, [])
            if not mine:
                lines.append(t(lang, "rl.none", number=s.number))
            lines += [row_line(lang, ctx, row, s, names) for row in mine]
        return [Out("\n".join(lines))]

    return await ctx.db.write(body)


# --- /start NUMBER: the deep link of team notices -------------------------------------------


async def start(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """`/start` as before; `/start HMN-001` (a team notice's link) shows the patient in the
    private chat: the record for coordinators, the status for clinicians, nothing to others."""
    if not args or actor.user is None:
        return await basic.start(ctx, actor, args)
    if not actor.private:
        return group_pointer(ctx, actor)
    if allowed(actor.user, "patient"):
        from bot.views import patient as patient_view

        return await patient_view.patient(ctx, actor, args[:1])
    if allowed(actor.user, "status"):
        return await _patient_status(ctx, actor, args[0].upper()[:20])
    return await basic.start(ctx, actor, [])


async def _patient_status(ctx: Context, actor: Actor, number: str) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        s = store.get_by_number(conn, number)
        if s is None:
            return [Out(t(lang, "screen.not_found", number=number))]
        loop = own_store.get_loop(conn, s.id)
        names = own_store.display_names(conn, [loop.owner_id] if loop.owner_id else [])
        return [Out(board_line(lang, ctx, s, loop, names, now))]

    return await ctx.db.write(body)


def _raw(text: str) -> str:
    from bot.texts import Raw

    return Raw(text)


# --- /users: who cannot be reached privately ------------------------------------------------


async def users(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    outs = await basic.users(ctx, actor, args)

    def body(conn: Connection) -> list[Out]:
        unreachable = own_store.unreachable_users(conn)
        if not unreachable or not outs:
            return outs
        lang = ctx.language(actor)
        lines = []
        for line in outs[0].text.split("\n"):
            for user_id, why in unreachable.items():
                if line.startswith(f"<code>{user_id}</code>"):
                    line += " " + t(lang, "users.unreachable", why=t(lang, f"rem.why.{why}"))
            lines.append(line)
        return [Out("\n".join(lines)), *outs[1:]]

    return await ctx.db.write(body)


FEATURE = routing.Feature(
    "reminder log",
    commands=(
        routing.Command("reminders", reminders),
        routing.Command("start", start),
        routing.Command("users", users),
    ),
)
