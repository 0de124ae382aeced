"""Telegram handlers: thin. Each one turns the update into an `Actor` and plain arguments,
passes the access gate, calls a flow, and renders the `Out` messages it returns.

Routing is data: `COMMANDS` (command → flow), `CALLBACKS` (callback-data prefix → flow) and
`TEXT_MODES` (the session's mode → flow for a typed message). Other modules register theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy import Connection
from telegram import (
    BotCommand,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot.callback_data import prefix_of
from bot.common import (
    COMMAND_ROLES,
    PRIVATE_ONLY,
    Actor,
    Context,
    DuplicateUpdate,
    Out,
    allowed,
    chat_session,
    group_pointer,
    refuse,
)
from bot.markup import keyboard, reply_markup, split_message
from bot.reminders import delivery as reminder_delivery
from bot.routing import Routes
from bot.telegram import delivery
from bot.telegram.delivery import with_retries
from bot.texts import t
from storage import screenings as store
from storage import users as user_store
from storage.errors import StorageError, StorageGone

log = logging.getLogger("lysyme.handlers")


def routes(application: Application) -> Routes:  # type: ignore[type-arg]
    """The dispatch tables the composition root built for this Application (bot/app.py)."""
    table: Routes = application.bot_data["routes"]
    return table


def core(application: Application) -> Context:  # type: ignore[type-arg]
    ctx: Context = application.bot_data["ctx"]
    return ctx


async def actor_for(ctx: Context, update: Update) -> Actor | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    # A plain read (no write transaction), ONE hop to the database thread on every update:
    # the user, this chat's session and their reach together, read afresh (never cached).
    listed, session, reach = await ctx.db.read(store.user_and_session, user.id, chat.id, ctx.now())
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
        full_name=user.full_name,
        username=user.username,
        reach=reach,
    )


async def render(
    update: Update,
    app_context: ContextTypes.DEFAULT_TYPE,
    actor: Actor,
    outs: list[Out],
    delivered: set[int] | None = None,
) -> None:
    """Send the `Out`s in order, each retried (bot/telegram/delivery.py); what a message delivers (a
    prompt shown, a held outbox row) is recorded once Telegram has accepted it, and the ids
    of the held rows delivered are added to `delivered`."""
    bot = app_context.bot
    ctx = core(app_context.application)
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
        message_id: int | None = None
        if out.document is not None:
            name, content = out.document
            await with_retries(partial(bot.send_document, chat_id, document=content,
                                       filename=name, caption=out.text or None,
                                       parse_mode=ParseMode.HTML))  # fmt: skip
            continue
        if out.photo is not None:
            await with_retries(partial(bot.send_photo, chat_id, photo=out.photo,
                                       caption=out.text[:1024] or None,
                                       parse_mode=ParseMode.HTML))  # fmt: skip
            continue
        if out.edit is not None:
            try:
                await with_retries(partial(bot.edit_message_text, out.text[:4096],
                                           chat_id=chat_id, message_id=out.edit,
                                           parse_mode=ParseMode.HTML, reply_markup=markup))  # fmt: skip
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("edit failed: %s", exc.message)
            continue
        chunks = split_message(out.text)
        try:
            for position, chunk in enumerate(chunks):
                last = position == len(chunks) - 1
                sent = await with_retries(partial(bot.send_message, chat_id, chunk,
                                                  parse_mode=ParseMode.HTML,
                                                  reply_markup=reply_markup(out) if last else None))  # fmt: skip
                message_id = sent.message_id
        except TelegramError as exc:
            if chat_id == actor.chat_id:
                raise
            # A notice to another chat (an admin, the team) that failed after the commit: the
            # person who acted still gets their own answer ("saved"), never a false failure.
            log.warning("notice to chat %s for update %s not delivered: %s", chat_id,
                        update.update_id, exc)  # fmt: skip
            continue
        try:
            await delivery.delivered(ctx, out, message_id)
        except StorageError as exc:
            # What was committed stays committed, and the reply went out: only the record of
            # the delivery is missing (a typed answer is then asked again, never mistaken).
            log.warning("delivery of update %s's reply not recorded: %s", update.update_id, exc)
        if out.delivers is not None and delivered is not None:
            delivered.add(out.delivers)
    if query is not None and not toast_sent:
        await query.answer()


async def _refuse_unknown(
    ctx: Context, actor: Actor, app_context: ContextTypes.DEFAULT_TYPE
) -> list[Out]:
    """One polite refusal; the admins are told (at most once a day per id)."""
    now = ctx.now()

    def noted(conn: Connection) -> list[int]:
        notify = user_store.note_access_request(conn, actor.user_id, now)
        return user_store.users_with_role(conn, "admin") if notify else []

    admins = await ctx.db.write(noted)
    outs = refuse(ctx, actor, "start")
    for admin in admins:
        admin_user = await ctx.db.read(user_store.get_user, admin)

        outs.append(Out(t(ctx.language_of(admin_user), "access.admin_notice", user_id=actor.user_id),
                        chat_id=admin))  # fmt: skip
    return outs


async def _run(
    update: Update,
    app_context: ContextTypes.DEFAULT_TYPE,
    command_name: str,
    call: Callable[[Context, Actor], Awaitable[list[Out]]],
    actor: Actor | None = None,
    *,
    open_to_all: bool = False,
) -> None:
    """The one gate every command, button and message goes through (`actor`: already read
    by `actor_for` for this update). `open_to_all`: a deep link anyone may open (an
    invitation): the flow checks everything itself."""
    ctx = core(app_context.application)
    if actor is None:
        try:
            actor = await actor_for(ctx, update)
        except StorageError as exc:  # the access gate could not read: say so, change nothing
            await answer_failure(update, app_context, exc)
            return
    if actor is None:
        return
    try:
        if open_to_all:
            outs = await call(ctx, actor)
        elif actor.user is None:
            outs = await _refuse_unknown(ctx, actor, app_context)
        elif not allowed(actor.user, command_name):
            outs = refuse(ctx, actor, command_name)
        elif command_name in PRIVATE_ONLY and not actor.private:
            outs = group_pointer(ctx, actor)
        else:
            outs = await call(ctx, actor)
            try:  # issue 14: unreachable users
                outs = await reminder_delivery.on_activity(ctx, actor, outs)
            except StorageError as exc:  # after the flow's commit: its answer stands (not
                # "nothing was saved"); the user's reachability is seen at their next message
                log.warning("update %s: reachability not updated: %s", update.update_id, exc)
    except DuplicateUpdate:
        log.info("update %s already handled", update.update_id)
        if update.callback_query is not None:
            try:  # a re-delivered query was usually answered already: Telegram refuses
                await update.callback_query.answer()
            except TelegramError as exc:
                log.info("update %s: query not answered again: %s", update.update_id, exc)
        return
    except StorageGone:  # the file was deleted or replaced: logged and told once (bot/app.py)
        outs = [Out(t(ctx.language(actor), "db.paused"))]
    except StorageError as exc:  # locked, disk full…: rolled back, nothing half-written
        log.warning("database error for update %s (%s): %s", update.update_id, command_name, exc)
        outs = [Out(t(ctx.language(actor), "error.temporary"))]
    except Exception:
        log.exception("handler failed for update %s (%s)", update.update_id, command_name)
        outs = [Out(t(ctx.language(actor), "error.generic"))]
    delivered: set[int] = set()
    try:
        await render(update, app_context, actor, outs, delivered)
    except TelegramError as exc:
        log.warning("reply failed for update %s: %s", update.update_id, exc)
    finally:
        # A result not delivered (429 beyond the wait, network down) goes to the sender.
        await delivery.release(
            ctx,
            [o.delivers for o in outs if o.delivers is not None and o.delivers not in delivered],
        )


async def answer_failure(
    update: object, app_context: ContextTypes.DEFAULT_TYPE, exc: object
) -> None:
    """An update whose handling failed outside a flow (the access gate's read, a routing
    step): the user is told, in their language as far as it is known, to try again — a
    database error is temporary; nothing was written (every write is one transaction)."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    ctx: Context | None = app_context.application.bot_data.get("ctx")
    telegram = (update.effective_user.language_code or "") if update.effective_user else ""
    lang = (ctx.settings.language if ctx else None) or (
        telegram[:2] if telegram[:2] in ("fr", "en") else "fr"
    )
    key = "error.temporary" if isinstance(exc, StorageError) else "error.generic"
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang, key)[:200], show_alert=True)
        elif update.effective_chat.type == ChatType.PRIVATE:
            await with_retries(partial(app_context.bot.send_message, update.effective_chat.id,
                                       t(lang, key), parse_mode=ParseMode.HTML))  # fmt: skip
    except TelegramError as error:
        log.warning("update %s: the failure could not be reported: %s", update.update_id, error)


async def on_error(update: object, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    """`Application.add_error_handler`: whatever escaped a handler answers the user."""
    log.error("update failed: %s", type(app_context.error).__name__, exc_info=app_context.error)
    await answer_failure(update, app_context, app_context.error)


def typed(text: str | None) -> str:
    """A message's text without U+0000: no keyboard types it, and PostgreSQL's text columns
    cannot store it (a reason with one would fail as a database error). Removed before
    anything reads the text, so both backends see the same words."""
    return (text or "").replace("\x00", "")


async def on_command(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    text = typed(message.text if message is not None else None)
    if not text.split():
        return  # (a command entity over blank text comes only from a forged client)
    head, *args = text.split()
    name, _, addressee = head[1:].partition("@")
    name = name.lower()
    if addressee and addressee.lower() != (app_context.bot.username or "").lower():
        return  # /command@other_bot in a group: not ours to answer
    table = routes(app_context.application)
    link = table.deep_link(args[0]) if name == "start" and args else None
    if link is not None:  # an invitation link: opened by someone not listed yet (issue 24)
        await _run(update, app_context, name, lambda ctx, actor: link(ctx, actor, args[:1]),
                   open_to_all=True)  # fmt: skip
        return
    flow = table.commands.get(name)
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
    prefix = prefix_of(data)
    route = routes(app_context.application).callbacks.get(prefix) if prefix else None
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
    text = typed(message.text)

    text_modes = routes(app_context.application).text_modes

    async def route(ctx: Context, actor: Actor) -> list[Out]:
        session = await chat_session(ctx.db, actor)  # read by the gate with the user
        mode = session.mode if session else "screen"
        _, flow = text_modes.get(mode, text_modes["screen"])
        if not text.strip():
            return [Out(t(ctx.language(actor), "error.not_understood"))]
        return await flow(ctx, actor, text)

    # Typed answers are patient data: the role of the command whose conversation the session
    # is in (a coordinator types a discharge date; a clinician an answer), private chats only.
    actor = await actor_for(core(app_context.application), update)
    if actor is None:
        return
    command = "screen"
    if actor.session is not None and actor.session.mode in text_modes:
        command = text_modes[actor.session.mode][0]
    await _run(update, app_context, command, route, actor)


async def on_users_shared(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    """Someone chosen with Telegram's contact picker (`/adduser` without an id, issue 24)."""
    message = update.effective_message
    shared = message.users_shared if message is not None else None
    route = routes(app_context.application).shared_users
    if shared is None or route is None:
        await on_other(update, app_context)
        return
    people = [
        (u.user_id, " ".join(n for n in (u.first_name, u.last_name) if n) or None, u.username)
        for u in shared.users
    ]
    request_id = shared.request_id
    await _run(update, app_context, route.needs,
               lambda ctx, actor: route.flow(ctx, actor, request_id, people))  # fmt: skip


async def on_other(update: Update, app_context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, edited messages…: a polite word, never a crash."""
    if update.effective_chat is None or update.effective_user is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE:
        return
    await _run(update, app_context, "help", _not_understood)


def bot_commands(lang: str, user_commands: list[str]) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd.{name}")[:256]) for name in user_commands]
