"""Telegram handlers: thin. Each one turns the update into an `Actor` and plain arguments,
passes the access gate, calls a flow, and renders the `Out` messages it returns.

Routing is data: `COMMANDS` (command → flow), `CALLBACKS` (callback-data prefix → flow) and
`TEXT_MODES` (the session's mode → flow for a typed message). Other modules register theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot import delivery
from bot.common import (
    COMMAND_ROLES,
    PRIVATE_ONLY,
    Actor,
    Context,
    DuplicateUpdate,
    Out,
    allowed,
    chat_session,
    commands_for,
    group_pointer,
    refuse,
)
from bot.texts import t
from storage import screenings as store
from storage import users as user_store

log = logging.getLogger("lysyme.handlers")

CommandFlow = Callable[[Context, Actor, list[str]], Awaitable[list[Out]]]
CallbackFlow = Callable[[Context, Actor, str], Awaitable[list[Out]]]
TextFlow = Callable[[Context, Actor, str], Awaitable[list[Out]]]

COMMANDS: dict[str, CommandFlow] = {}
CALLBACKS: dict[str, tuple[str, CallbackFlow]] = {}  # prefix → (command whose role it needs, flow)
TEXT_MODES: dict[str, tuple[str, TextFlow]] = {}


def command(name: str) -> Callable[[CommandFlow], CommandFlow]:
    def register(func: CommandFlow) -> CommandFlow:
        COMMANDS[name] = func
        return func

    return register


def core(application: Application) -> Context:  # type: ignore[type-arg]
    ctx: Context = application.bot_data["ctx"]
    return ctx


async def actor_for(ctx: Context, update: Update) -> Actor | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    # A plain read (no write transaction), ONE hop to the database thread on every update:
    # the user and this chat's session together, read afresh (never cached).
    listed, session = await store.user_and_session(ctx.db.conn, user.id, chat.id)
    message = update.callback_query.message if update.callback_query else None
    return Actor(
        user_id=user.id,
        chat_id=chat.id,
        private=chat.type == ChatType.PRIVATE,
        user=listed,
        telegram_language=user.language_code,
        update_id=update.update_id,
        message_id=message.message_id if message else None,
        session=session,
        session_read=True,
        first_name=user.first_name,
    )


async def render(
    update: Update, app_context: ContextTypes.DEFAULT_TYPE, actor: Actor, outs: list[Out]
) -> None:
    bot = app_context.bot
    query = update.callback_query
    toast_sent = False
    for out in outs:
        if out.toast is not None and query is not None and not toast_sent:
            await query.answer(out.toast[:200])
            toast_sent = True
        if not out.text and out.document is None and out.photo is None:
            continue
        markup = keyboard(out)
        chat_id = out.chat_id if out.chat_id is not None else actor.chat_id
        if out.document is not None:
            name, content = out.document
            await bot.send_document(chat_id, document=content, filename=name, caption=out.text or None,
                                    parse_mode=ParseMode.HTML)  # fmt: skip
            continue
        if out.photo is not None:
            await bot.send_photo(chat_id, photo=out.photo, caption=out.text[:1024] or None,
                                 parse_mode=ParseMode.HTML)  # fmt: skip
            continue
        if out.edit is not None:
            try:
                await bot.edit_message_text(out.text[:4096], chat_id=chat_id, message_id=out.edit,
                                            parse_mode=ParseMode.HTML, reply_markup=markup)  # fmt: skip
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("edit failed: %s", exc.message)
            continue
        chunks = split_message(out.text)
        for position, chunk in enumerate(chunks):
            last = position == len(chunks) - 1
            await bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML,
                                   reply_markup=markup if last else None)  # fmt: skip
    if query is not None and not toast_sent:
        await query.answer()


def keyboard(out: Out) -> InlineKeyboardMarkup | None:
    if not out.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in out.buttons]
    )


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split at line breaks under Telegram's 4,096-character limit."""
    if len(text) <= limit:
        return [text]
    chunks, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


async def _refuse_unknown(
    ctx: Context, actor: Actor, app_context: ContextTypes.DEFAULT_TYPE
) -> list[Out]:
    """One polite refusal; the admins are told (at most once a day per id)."""
    now = ctx.now()
    async with ctx.db.transaction() as conn:
        notify = await user_store.note_access_request(conn, actor.user_id, now)
        admins = await user_store.users_with_role(conn, "admin") if notify else []
    outs = refuse(ctx, actor, "start")
    for admin in admins:
        async with ctx.db.transaction() as conn:
            admin_user = await user_store.get_user(conn, admin)
        outs.append(Out(t(ctx.language_of(admin_user), "access.admin_notice", user_id=actor.user_id),
                        chat_id=admin))  # fmt: skip
    return outs


async def _run(
    update: Update,
    app_context: ContextTypes.DEFAULT_TYPE,
    command_name: str,
    call: Callable[[Context, Actor], Awaitable[list[Out]]],
    actor: Actor | None = None,
) -> None:
    """The one gate every command, button and message goes through (`actor`: already read
    by `actor_for` for this update)."""
    ctx = core(app_context.application)
    if actor is None:
        actor = await actor_for(ctx, update)
    if actor is None:
        return
    try:
        if actor.user is None:
            outs = await _refuse_unknown(ctx, actor, app_context)
        elif not allowed(actor.user, command_name):
            outs = refuse(ctx, actor, command_name)
        elif command_name in PRIVATE_ONLY and not actor.private:
            outs = group_pointer(ctx, actor)
        else:
            outs = await call(ctx, actor)
            outs = await delivery.on_activity(ctx, actor, outs)  # issue 14: unreachable users
    except DuplicateUpdate:
        log.info("update %s already handled", update.update_id)
        if update.callback_query is not None:
            try:  # a re-delivered query was usually answered already: Telegram refuses
                await update.callback_query.answer()
            except TelegramError as exc:
                log.info("update %s: query not answered again: %s", update.update_id, exc)
        return
    except Exception:
        log.exception("handler failed for update %s (%s)", update.update_id, command_name)
        outs = [Out(t(ctx.language(actor), "error.generic"))]
    try:
        await render(update, app_context, actor, outs)
    except TelegramError as exc:
        log.warning("reply failed for update %s: %s", update.update_id, exc)


async def on_command(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text or not message.text.split():
        return  # (a command entity over blank text comes only from a forged client)
    head, *args = message.text.split()
    name, _, addressee = head[1:].partition("@")
    name = name.lower()
    if addressee and addressee.lower() != (app_context.bot.username or "").lower():
        return  # /command@other_bot in a group: not ours to answer
    flow = COMMANDS.get(name)
    if flow is None:
        # Gated by the command's role even when no flow serves it (yet): a refusal never
        # depends on what is routed.
        await _run(update, app_context, name if name in COMMAND_ROLES else "help", _not_understood)
        return
    await _run(update, app_context, name, lambda ctx, actor: flow(ctx, actor, args))


async def _not_understood(ctx: Context, actor: Actor) -> list[Out]:
    return [Out(t(ctx.language(actor), "error.not_understood"))]


async def on_callback(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    data = query.data if isinstance(query.data, str) else ""
    prefix = data.split(":", 1)[0]
    route = CALLBACKS.get(prefix)
    if route is None:
        ctx = core(app_context.application)
        actor = await actor_for(ctx, update)
        lang = ctx.language(actor) if actor else "fr"
        try:
            await query.answer(t(lang, "screen.stale"))
        except TelegramError as exc:  # e.g. a re-delivered query, answered already
            log.warning("reply failed for update %s: %s", update.update_id, exc)
        return
    command_name, flow = route
    await _run(update, app_context, command_name, lambda ctx, actor: flow(ctx, actor, data))


async def on_text(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    text = message.text or ""

    async def route(ctx: Context, actor: Actor) -> list[Out]:
        session = await chat_session(ctx.db, actor)  # read by the gate with the user
        mode = session.mode if session else "screen"
        _, flow = TEXT_MODES.get(mode, TEXT_MODES["screen"])
        if not text.strip():
            return [Out(t(ctx.language(actor), "error.not_understood"))]
        return await flow(ctx, actor, text)

    # Typed answers are patient data: the role of the command whose conversation the session
    # is in (a coordinator types a discharge date; a clinician an answer), private chats only.
    actor = await actor_for(core(app_context.application), update)
    if actor is None:
        return
    command = "screen"
    if actor.session is not None and actor.session.mode in TEXT_MODES:
        command = TEXT_MODES[actor.session.mode][0]
    await _run(update, app_context, command, route, actor)


async def on_other(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, edited messages…: a polite word, never a crash."""
    if update.effective_chat is None or update.effective_user is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE:
        return
    await _run(update, app_context, "help", _not_understood)


def bot_commands(lang: str, user_commands: list[str]) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd.{name}")[:256]) for name in user_commands]


def help_text(ctx: Context, actor: Actor) -> str:
    lang = ctx.language(actor)
    assert actor.user is not None
    lines = [t(lang, "help.intro")]
    lines += [f"/{name} — {t(lang, f'cmd.{name}')}" for name in commands_for(actor.user)]
    return "\n".join(lines)
