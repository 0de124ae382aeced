"""Team membership (issue 24, DESIGN.md "Team membership"): `/invite role [until dd/mm/yyyy]`
(a single-use link), `/invite` alone (the pending invitations, each with a button to revoke
it), the link opened (`/start inv_…`), `/adduser ID role [until dd/mm/yyyy]` and `/adduser
[role] [until …]` without an id (Telegram's contact picker), `/users` (roles, since, until,
granted by), and the admins' button that extends an access by 6 months.

The token is drawn here (`secrets.token_urlsafe`, 256 bits) and shown once, in the link; the
database, the logs and the audit trail only ever see the invitation's number and the token's
SHA-256 (conversations/membership.py `hash_token`).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import secrets

from sqlalchemy import Connection

from bot import callback_data as cd
from bot import routing
from bot.callback_data import Prefix
from bot.common import Actor, Button, Context, Out, help_text, parse_id
from bot.present import local_time
from bot.records import audit, begin
from bot.reminders import membership as notices
from bot.reminders.delivery import BOT_USERNAME_META
from bot.texts import t
from conversations import membership as rules
from conversations.membership import (
    Grant,
    GrantError,
    GrantRefused,
    InvitationState,
    Payload,
)
from conversations.windows import local_today
from storage import membership as m_store
from storage import screenings as screening_store
from storage import users as user_store
from storage.audit import append_audit
from storage.sql import after_commit
from storage.users import User

log = logging.getLogger("lysyme.membership")


def grant_error(lang: str, refused: GrantRefused, usage: str) -> str:
    """One line per mistake: the role that does not exist, the date, or the usage."""
    match refused.error:
        case GrantError.UNKNOWN_ROLE:
            return t(lang, "mb.unknown_role", word=refused.word, roles=_role_list(lang))
        case GrantError.NO_DATE:
            return t(lang, "mb.no_date")
        case GrantError.BAD_DATE:
            return t(lang, "mb.bad_date", value=refused.word)
        case GrantError.PAST_DATE:
            return t(lang, "mb.past_date", value=refused.word)
        case GrantError.EXTRA:
            return t(lang, "mb.extra", value=refused.word)
        case GrantError.NO_ROLE:
            return t(lang, usage, roles=_role_list(lang))


def _role_list(lang: str) -> str:
    """The roles as the user may type them: their word in the user's language, and the
    stored name beside it where the two differ (`coordinateur (coordinator)`)."""
    words = ((t(lang, f"role.{r}"), r) for r in rules.ROLES)
    return ", ".join(word if word == r else f"{word} ({r})" for word, r in words)


def _day(day: dt.date | None) -> str:
    return notices.day_text(day) if day else ""


def _set_until(
    conn: Connection,
    ctx: Context,
    actor: str,
    telegram_id: int,
    old: dt.date | None,
    day: dt.date | None,
    now: dt.datetime,
) -> None:
    """The access's last day (audited when it changes) and the admins' reminder before it."""
    ends = rules.end_of_local_day(day, ctx.zone) if day is not None else None
    m_store.set_until(conn, telegram_id, day, ends)
    if old != day:
        append_audit(conn, audit(actor, "access_until", now, field=str(telegram_id),
                                       old_value=old.isoformat() if old else None,
                                       new_value=day.isoformat() if day else None))  # fmt: skip
    if day is not None and old != day:
        notices.plan_end_reminder(conn, ctx, telegram_id, day, now)


# --- /invite ------------------------------------------------------------------------------


async def invite(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()
    if not args:
        return await _pending(ctx, actor, lang, now)
    parsed = rules.parse_grant(args, local_today(now, ctx.zone))
    if isinstance(parsed, GrantRefused):
        return [Out(grant_error(lang, parsed, "mb.invite_usage"))]
    token = secrets.token_urlsafe(rules.TOKEN_BYTES)
    expires = now + rules.INVITATION_VALIDITY

    def body(conn: Connection) -> tuple[str, int] | None:
        begin(conn, actor, now)
        username = screening_store.get_meta(conn, BOT_USERNAME_META)
        if not username:
            return None
        number = m_store.create_invitation(conn, rules.hash_token(token), parsed.roles,
                                           parsed.until, actor.user_id, now, expires)  # fmt: skip
        append_audit(conn, audit(actor.user_id, "invitation_created", now,
                                 field=f"invitation:{number}",
                                 new_value=",".join(sorted(parsed.roles)),
                                 reason=f"until {parsed.until.isoformat()}"
                                 if parsed.until else None))  # fmt: skip
        return username, number

    made = await ctx.db.write(body)
    if made is None:
        return [Out(t(lang, "mb.no_username"))]
    username, number = made
    link = f"https://t.me/{username}?start={rules.payload_of(token)}"
    text = t(lang, "mb.invite_made", roles=notices.roles_text(lang, parsed.roles),
             expires=local_time(expires, ctx.zone), link=link)  # fmt: skip
    if parsed.until is not None:
        text += "\n" + t(lang, "mb.until_line", day=_day(parsed.until))
    log.info("invitation %s made by %s", number, actor.user_id)
    return [Out(text)]


async def _pending(ctx: Context, actor: Actor, lang: str, now: dt.datetime) -> list[Out]:
    def fetch(conn: Connection) -> list[Out]:
        pending = m_store.pending_invitations(conn, now)
        lines = [t(lang, "mb.invite_usage", roles=_role_list(lang))]
        if not pending:
            return [Out("\n".join([*lines, t(lang, "mb.no_pending")]))]
        lines.append(t(lang, "mb.pending_title", count=len(pending)))
        buttons: list[list[Button]] = []
        for inv in pending:
            line = t(lang, "mb.pending_line", number=inv.id, roles=notices.roles_text(lang, inv.roles),
                     by=inv.created_by, expires=local_time(inv.expires_at, ctx.zone))  # fmt: skip
            if inv.until_day is not None:
                line += " — " + t(lang, "mb.until_line", day=_day(inv.until_day))
            lines.append(line)
            buttons.append([Button(t(lang, "mb.revoke_button", number=inv.id),
                                   cd.encode(cd.InvitationRevoke(inv.id)))])  # fmt: skip
        return [Out("\n".join(lines), buttons=buttons)]

    return await ctx.db.read(fetch)


async def revoke(ctx: Context, actor: Actor, data: str) -> list[Out]:
    lang = ctx.language(actor)
    button = cd.INVITATION_REVOKE.decode(data)
    if button is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        if not m_store.revoke_invitation(conn, button.invitation_id, actor.user_id, now):
            return [Out("", toast=t(lang, "mb.revoke_nothing"))]
        append_audit(conn, audit(actor.user_id, "invitation_revoked", now,
                                       field=f"invitation:{button.invitation_id}"))  # fmt: skip
        return [
            Out("", toast=t(lang, "mb.revoked", number=button.invitation_id)),
            Out(t(lang, "mb.revoked", number=button.invitation_id)),
        ]

    return await ctx.db.write(body)


# --- the link opened: /start inv_… --------------------------------------------------------


async def redeem(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """Anyone may open a link: in a private chat, a whole, known, valid token makes them a
    user; anything else gets one line, changes nothing but the count of refused attempts
    (audited), and ten refusals in an hour stop this id trying for the rest of the hour."""
    lang = ctx.language(actor)
    now = ctx.now()
    payload = args[0] if args else ""
    if not actor.private:
        return [Out(t(lang, "mb.link_in_group"))]
    kind, token = rules.classify_payload(payload)

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        start, attempts = m_store.refusals(conn, actor.user_id)
        if rules.rate_limited(start, attempts, now):
            count = m_store.note_refusal(conn, actor.user_id, now, rules.REFUSAL_WINDOW)
            if count == rules.REFUSALS_PER_HOUR + 1:  # audited once per hour, not per try
                append_audit(conn, audit(actor.user_id, "invitation_rate_limited", now))
            return [Out(t(lang, "mb.too_many"))]
        invitation = None
        if kind is Payload.INVITATION and token is not None:
            invitation = m_store.invitation_by_hash(conn, rules.hash_token(token))
        if invitation is None:
            return _refused(conn, actor, lang, now, None, "not an invitation of this bot")
        state = rules.invitation_state(invitation.expires_at, invitation.used_at,
                                       invitation.revoked_at, now)  # fmt: skip
        if state is not InvitationState.VALID:
            return _refused(conn, actor, lang, now, invitation.id, state.value)
        if actor.user is not None:  # listed already: the link stays for the person it is for
            return [Out(t(lang, "mb.already_listed",
                          roles=notices.roles_text(lang, actor.user.roles)))]  # fmt: skip
        if not m_store.use_invitation(conn, invitation.id, actor.user_id, now):
            return _refused(conn, actor, lang, now, invitation.id, "used")  # lost a race
        old, new = user_store.grant_roles(conn, actor.user_id, set(invitation.roles),
                                                str(invitation.created_by), now)  # fmt: skip
        m_store.set_identity(conn, actor.user_id, actor.full_name, actor.username)
        append_audit(conn, audit(actor.user_id, "user_joined", now,
                                       field=str(actor.user_id),
                                       old_value=",".join(sorted(old)) or None,
                                       new_value=",".join(sorted(new)),
                                       reason=f"invitation:{invitation.id}"))  # fmt: skip
        _set_until(conn, ctx, str(actor.user_id), actor.user_id, None,
                         invitation.until_day, now)  # fmt: skip
        notices.tell(conn, f"{notices.JOINED}:{actor.user_id}:{invitation.id}", now,
                           [a for a in notices.admins(conn) if a != actor.user_id])  # fmt: skip
        after_commit(conn, ctx.wake_sender)  # reminders changed
        joined = Actor(actor.user_id, actor.chat_id, actor.private,
                       User(actor.user_id, new, actor.user.language if actor.user else None),
                       actor.telegram_language)  # fmt: skip
        text = t(lang, "mb.welcome", roles=notices.roles_text(lang, new))
        if invitation.until_day is not None:
            text += "\n" + t(lang, "mb.until_line", day=_day(invitation.until_day))
        return [Out(text), Out(help_text(ctx, joined))]

    outs = await ctx.db.write(body)
    return outs


def _refused(
    conn: Connection,
    actor: Actor,
    lang: str,
    now: dt.datetime,
    invitation_id: int | None,
    why: str,
) -> list[Out]:
    m_store.note_refusal(conn, actor.user_id, now, rules.REFUSAL_WINDOW)
    append_audit(conn, audit(actor.user_id, "invitation_refused", now,
                                   field=f"invitation:{invitation_id}" if invitation_id else None,
                                   reason=why))  # fmt: skip
    return [Out(t(lang, "mb.link_refused"))]


# --- /adduser -----------------------------------------------------------------------------

#: Bits of a contact picker's request id: the roles, then the last day (days since EPOCH).
_ROLE_BITS = {"clinician": 1, "coordinator": 2, "admin": 4}
_EPOCH = dt.date(2000, 1, 1)


def picker_request(roles: frozenset[str], until: dt.date | None) -> int:
    """The contact picker's request id (a signed 32-bit number Telegram sends back with the
    choice): the roles and the end date travel in it, checked again when it comes back."""
    bits = sum(_ROLE_BITS[r] for r in roles)
    days = (until - _EPOCH).days if until is not None else 0
    return (days << 3) | bits


def picker_grant(request_id: int) -> Grant | None:
    roles = frozenset(r for r, bit in _ROLE_BITS.items() if request_id & bit)
    days = request_id >> 3
    if not roles or request_id < 0 or days < 0:
        return None
    return Grant(roles, _EPOCH + dt.timedelta(days=days) if days else None)


async def adduser(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()
    today = local_today(now, ctx.zone)
    telegram_id = parse_id(args[0]) if args else None
    if telegram_id is None and args and rules.role_of(args[0]) is None:
        if args[0].lower() in ("until", "jusqu'au"):
            return [Out(grant_error(lang, GrantRefused(GrantError.NO_ROLE), "users.usage_add"))]
        return [Out(t(lang, "users.bad_id", value=args[0][:40]))]
    words = args[1:] if telegram_id is not None else args
    if not words and telegram_id is None:  # the contact picker, one button per role
        pickers = [(t(lang, f"mb.pick.{r}"), picker_request(frozenset({r}), None))
                   for r in rules.ROLES]  # fmt: skip
        return [Out(t(lang, "mb.pick_intro"), pickers=pickers)]
    parsed = rules.parse_grant(words, today)
    if isinstance(parsed, GrantRefused):
        return [Out(grant_error(lang, parsed, "users.usage_add"))]
    if telegram_id is None:
        label = t(lang, "mb.pick_one", roles=notices.roles_text(lang, parsed.roles))
        return [Out(t(lang, "mb.pick_intro"),
                    pickers=[(label, picker_request(parsed.roles, parsed.until))])]  # fmt: skip
    return await _add(ctx, actor, telegram_id, parsed, None, None)


async def shared(
    ctx: Context, actor: Actor, request_id: int, people: list[tuple[int, str | None, str | None]]
) -> list[Out]:
    """The person chosen with the picker is added with the roles (and end date) it was for."""
    lang = ctx.language(actor)
    grant = picker_grant(request_id)
    if grant is None or len(people) != 1:
        return [Out(t(lang, "mb.pick_stale"), drop_keyboard=True)]
    if grant.until is not None and grant.until < local_today(ctx.now(), ctx.zone):
        return [Out(t(lang, "mb.past_date", value=_day(grant.until)), drop_keyboard=True)]
    telegram_id, name, username = people[0]
    outs = await _add(ctx, actor, telegram_id, grant, name, username)
    return [Out(o.text, drop_keyboard=True) if i == 0 else o for i, o in enumerate(outs)]


async def _add(
    ctx: Context,
    actor: Actor,
    telegram_id: int,
    grant: Grant,
    name: str | None,
    username: str | None,
) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        before = m_store.member(conn, telegram_id)
        was_active = before is not None and before.active
        old, new = user_store.grant_roles(conn, telegram_id, set(grant.roles),
                                                str(actor.user_id), now)  # fmt: skip
        if name or username:
            m_store.set_identity(conn, telegram_id, name, username)
        append_audit(conn, audit(actor.user_id, "user_added", now, field=str(telegram_id),
                                       old_value=",".join(sorted(old)) or None,
                                       new_value=",".join(sorted(new))))  # fmt: skip
        old_until = before.until_day if was_active and before is not None else None
        until = grant.until if grant.until is not None else old_until
        _set_until(conn, ctx, str(actor.user_id), telegram_id, old_until, until, now)
        person = m_store.member(conn, telegram_id)
        who = notices.who(lang, person, telegram_id)
        text = t(lang, "users.added", user_id=who, roles=notices.roles_text(lang, new))
        if until is not None:
            text += "\n" + t(lang, "mb.until_line", day=_day(until))
        return [Out(text)]

    return await ctx.db.write(body)


# --- the reminder's button: 6 months more -------------------------------------------------


async def extend(ctx: Context, actor: Actor, data: str) -> list[Out]:
    lang = ctx.language(actor)
    button = cd.ACCESS_EXTEND.decode(data)
    day = rules.parse_day(button.day) if button is not None else None
    if button is None or day is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        person = m_store.member(conn, button.telegram_id)
        if person is None or not person.active or person.until_day != day:
            return [Out("", toast=t(lang, "mb.extend_stale"))]
        new_day = rules.extended(day)
        _set_until(conn, ctx, str(actor.user_id), button.telegram_id, day, new_day, now)
        text = t(lang, "mb.extended", who=notices.who(lang, person, button.telegram_id),
                 day=_day(new_day))  # fmt: skip
        return [Out("", toast=t(lang, "mb.extend_done")), Out(text, edit=actor.message_id)]

    return await ctx.db.write(body)


# --- /users -------------------------------------------------------------------------------


async def users(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def fetch(conn: Connection) -> list[Out]:
        listed = m_store.members(conn)
        pending = m_store.pending_invitations(conn, now)
        granters = {m.telegram_id: m for m in listed}
        for member in listed:
            if member.granted_by.isdigit() and int(member.granted_by) not in granters:
                found = m_store.member(conn, int(member.granted_by))
                if found is not None:
                    granters[found.telegram_id] = found
        lines = [t(lang, "users.title", count=len(listed))]
        for m in listed:
            if m.granted_by.isdigit():
                by = notices.who(lang, granters.get(int(m.granted_by)), int(m.granted_by))
            else:
                by = t(lang, "mb.by_settings")
            parts = [f"<code>{m.telegram_id}</code>"]
            if name := notices.name_of(m):
                parts.append(html.escape(name))
            parts.append(html.escape(notices.roles_text(lang, m.roles)))
            parts.append(t(lang, "mb.since", day=m.since.astimezone(ctx.zone).strftime("%d/%m/%Y"),
                           by=by))  # fmt: skip
            parts.append(t(lang, "mb.until_line", day=_day(m.until_day)) if m.until_day
                         else t(lang, "mb.no_end"))  # fmt: skip
            lines.append(" — ".join(parts))
        if pending:
            lines.append(t(lang, "mb.users_pending", count=len(pending)))
        return [Out("\n".join(lines))]

    return await ctx.db.read(fetch)


FEATURE = routing.Feature(
    "membership",
    commands=(routing.Command("invite", invite),),
    callbacks=(
        routing.Callback(Prefix.INVITATION, "invite", revoke),
        routing.Callback(Prefix.ACCESS, "adduser", extend),
    ),
    deep_links=(routing.DeepLink(rules.TOKEN_PREFIX, redeem),),
    shared_users=routing.SharedUsers("adduser", shared),
)
