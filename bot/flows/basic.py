"""/start, /help, /language, and the admins' /users, /adduser, /removeuser."""

from __future__ import annotations

from sqlalchemy import Connection

from bot import routing
from bot.common import Actor, Context, Out, help_text, parse_id
from bot.flows import membership
from bot.records import audit, begin
from bot.texts import t
from storage import screenings as screening_store
from storage import users as user_store
from storage.audit import append_audit


async def start(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    return [Out(help_text(ctx, actor))]


async def language(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    if len(args) != 1 or args[0].lower() not in ("fr", "en"):
        return [Out(t(ctx.language(actor), "language.usage"))]
    choice = args[0].lower()
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        old = actor.user.language if actor.user else None
        user_store.set_language(conn, actor.user_id, choice)
        append_audit(conn, audit(actor.user_id, "language", now, field="language",
                                       old_value=old, new_value=choice))  # fmt: skip
        return [Out(t(choice, "language.set"))]

    return await ctx.db.write(body)


def _user_id(text: str) -> int | None:
    """A Telegram user id: positive, 64-bit, ASCII digits (a group's id is negative and can
    never be a user; `isdigit()` alone accepts superscripts and other scripts' digits)."""
    return parse_id(text)


async def users(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """Each person's roles, since when, until when, granted by whom (bot/flows/membership.py)."""
    return await membership.users(ctx, actor, args)


async def adduser(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """`/adduser ID role [until dd/mm/yyyy]`, or without an id the contact picker
    (bot/flows/membership.py)."""
    return await membership.adduser(ctx, actor, args)


async def removeuser(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    telegram_id = _user_id(args[0]) if len(args) == 1 else None
    if len(args) == 1 and telegram_id is None:
        return [Out(t(lang, "users.bad_id", value=args[0][:40]))]
    if telegram_id is None:
        return [Out(t(lang, "users.usage_remove"))]
    if telegram_id == actor.user_id:
        return [Out(t(lang, "users.not_self"))]
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        removed = user_store.remove_user(conn, telegram_id)
        if removed is None:
            return [Out(t(lang, "users.unknown", user_id=telegram_id))]
        screening_store.clear_user_sessions(conn, telegram_id)
        append_audit(conn, audit(actor.user_id, "user_removed", now, field=str(telegram_id),
                                       old_value=",".join(sorted(removed))))  # fmt: skip
        return [Out(t(lang, "users.removed", user_id=telegram_id))]

    return await ctx.db.write(body)


FEATURE = routing.Feature(
    "basic",
    commands=(
        routing.Command("help", start),
        routing.Command("language", language),
        routing.Command("adduser", adduser),
        routing.Command("removeuser", removeuser),
    ),
)
