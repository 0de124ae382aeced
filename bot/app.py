"""The composition root: settings + database + clock → a python-telegram-bot `Application`.

`build_application(settings)` wires the real adapters; tests pass a fake clock or a fake
request layer. At start (`post_init`): migrate, make the configured admins admins, verify the
audit trail incrementally, release reminders a crash left claimed, set the command menus,
offer every interrupted screening back to its clinician, and start the reminder sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import Connection
from telegram import BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import backups, health, markup, records
from bot.common import Clock, Context, commands_for, system_clock
from bot.flows import (
    basic,
    coordinator,
    injection,
    membership,
    ownership,
    reminder_log,
    screening,
)
from bot.records import Loaded
from bot.reminders import board as reminders_board
from bot.reminders import delivery as reminder_delivery
from bot.reminders import sender
from bot.routing import Feature, Routes, build_routes
from bot.settings import Settings
from bot.telegram import delivery, handlers
from bot.telegram.leadership import FencedRequest, Leadership
from bot.telegram.polling import ON_STOP_SIGNAL
from bot.telegram.wrapped_request import BeatingRequest
from bot.texts import t
from conversations import loudness
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, VerifyResult, append_audit, verify_incremental
from storage.errors import StorageConflict, StorageError, StorageGone, StorageUnavailable
from storage.open import open_database
from storage.screenings import Screening
from storage.users import User

log = logging.getLogger("lysyme.app")
T = TypeVar("T")


#: Every feature of the bot, as data (bot/routing.py): the one place that wires them. Their
#: start hooks run in this order (the bot's username first: notices at start link to it).
FEATURES: tuple[Feature, ...] = (
    reminder_delivery.FEATURE,
    basic.FEATURE,
    membership.FEATURE,
    screening.FEATURE,
    injection.FEATURE,
    coordinator.FEATURE,
    ownership.FEATURE,
    reminder_log.FEATURE,
    sender.FEATURE,
    reminders_board.FEATURE,
    backups.FEATURE,
)


def routes() -> Routes:
    """The dispatch tables of the bot (and of the console), built from `FEATURES`."""
    return build_routes(FEATURES)


def configure_logging(level: int = logging.INFO) -> None:
    """Ids and actions only: httpx logs URLs (with the token) at INFO, PTB's DEBUG logs whole
    updates (answers) — both kept at WARNING."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_application(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    paced: bool = True,
) -> Application:  # type: ignore[type-arg]
    """The bot. `paced=False` leaves out Telegram's rate limits (30/s, 20/min per group): for
    an in-process fake of the Bot API, which has none."""
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    table = routes()
    builder: Any = (  # PTB's builder changes its type parameters with each option
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_url.replace("/bot", "/file/bot"))
        .concurrent_updates(False)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .defaults(reminder_delivery.defaults())  # issue 14: protect_content on every message
    )
    if paced:  # 30 messages/s overall, 20/min per group (bot/reminders/delivery.py)
        builder = builder.rate_limiter(reminder_delivery.rate_limiter())
    # PTB's own defaults (256 connections; one for getUpdates), wrapped so that a call only a
    # leader makes is refused once the lease is not live (bot/telegram/leadership.py), and getUpdates
    # beats `poll` (bot/health.py).
    builder = builder.request(FencedRequest(request or HTTPXRequest(connection_pool_size=256)))
    updates_request = get_updates_request or HTTPXRequest(connection_pool_size=1)
    builder = builder.get_updates_request(BeatingRequest(FencedRequest(updates_request)))
    application: Application = builder.build()  # type: ignore[type-arg]
    application.bot_data["settings"] = settings
    application.bot_data["clock"] = clock
    application.bot_data["routes"] = table
    # An edited old message is not a new command (editing an old /screen must not open one).
    not_edited = ~filters.UpdateType.EDITED
    application.add_handler(
        CommandHandler(list(table.commands), handlers.on_command, filters=not_edited), group=0
    )
    application.add_handler(
        MessageHandler(filters.COMMAND & ~filters.UpdateType.EDITED, handlers.on_command), group=0
    )
    application.add_handler(CallbackQueryHandler(handlers.on_callback), group=0)
    application.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED,
            handlers.on_text,
        ),
        group=0,
    )
    # Someone chosen with the contact picker of /adduser (issue 24).
    application.add_handler(
        MessageHandler(filters.StatusUpdate.USERS_SHARED, handlers.on_users_shared), group=0
    )
    # Anything else in a private chat (stickers, photos, edited messages…): a polite word.
    application.add_handler(MessageHandler(filters.ALL, handlers.on_other), group=0)
    # After group 0 has handled it: the `update` heartbeat (webhook or polling).
    application.add_handler(TypeHandler(Update, _beat_update), group=1)
    application.add_error_handler(handlers.on_error)  # an unexpected error answers the user
    return application


async def _beat_update(update: object, app_context: Any) -> None:
    health.beat("update", dt.datetime.now(dt.UTC))


async def open_context(settings: Settings, clock: Clock = system_clock) -> Context:
    db = await open_database(settings.database, pool_size=settings.database_pool_size,
                             lease=settings.leader_lease_seconds)  # fmt: skip
    ctx = Context(settings=settings, db=db, clock=clock)
    now = ctx.now()

    def admins_listed(conn: Connection) -> int:
        for admin in settings.admin_ids:
            old, new = user_store.grant_roles(conn, admin, {"admin"}, "system", now)
            if old != new:
                append_audit(
                    conn,
                    AuditEntry(now, "system", "user_added", None, str(admin),
                               ",".join(sorted(old)) or None, ",".join(sorted(new)),
                               "LYSYME_ADMIN_IDS"),
                )  # fmt: skip
        return outbox.release_claimed(conn)

    released = await db.write(admins_listed)
    if released:
        log.info("released %d reminders left claimed by a previous run", released)
    return ctx


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    settings: Settings = application.bot_data["settings"]
    ctx = await open_context(settings, application.bot_data["clock"])
    health.configure(
        health.heartbeat_path(settings.database),
        pid=os.getpid(),
        mode="webhook" if settings.webhook_url else "polling",
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    application.bot_data["ctx"] = ctx
    application.bot_data[ON_STOP_SIGNAL] = lambda: _arm_stop_deadline(application, ctx)
    # One replica leads (polls, sends reminders); on SQLite the only process does.
    leadership = Leadership(
        ctx.db,
        solo=not settings.on_postgres,
        lease=dt.timedelta(seconds=settings.leader_lease_seconds),
    )
    await leadership.step()  # the first replica leads at once
    leadership.start()
    application.bot_data[LEADERSHIP_KEY] = leadership
    ctx.leads = leadership.live  # the lease known live now (monotonic clock)
    ctx.lease = leadership.fence
    result = await _verify_trail(ctx)
    if not result.ok:
        log.error("audit trail verification failed: %s", result.problem)
        await _tell_admins(application, ctx, "audit.broken", problem=result.problem or "")
    await _at_start("command menus", lambda: _set_menus(application, ctx))
    if leadership.leading:
        await _offer_resume(application, ctx)
    # A standby that takes over offers the open screenings back, as a restart does.
    leadership.on_lead = lambda: _spawn(application, _offer_resume(application, ctx))
    for hook in handlers.routes(application).on_start:
        await hook(application, ctx)
    _watch_database_file(application, ctx)
    health.ready(dt.datetime.now(dt.UTC))
    log.info(
        "started as @%s, database %s, team chat %s, mode %s, %s",
        application.bot.username,
        ctx.db.label,  # as configured (relative to the working folder when relative)
        ctx.settings.team_chat_id if ctx.settings.team_chat_id is not None else "none",
        "webhook" if settings.webhook_url else "polling",
        leadership.role,
    )


LEADERSHIP_KEY = "leadership"

#: A start-up step that reads or writes the database is tried this many times when the database
#: drops the connection under it (a PostgreSQL restart, a terminated backend while a replica
#: starts): the connection is opened again at the next transaction, so a second try normally
#: goes through, where a crash would print a traceback and wait for systemd's restart.
START_ATTEMPTS = 3


async def _at_start(what: str, step: Callable[[], Awaitable[T]]) -> T:
    attempt = 1
    while True:
        try:
            return await step()
        except (StorageUnavailable, StorageConflict) as exc:
            if attempt == START_ATTEMPTS:
                raise
            attempt += 1
            log.warning("%s interrupted by the database (%s): trying again", what, exc)


async def _verify_trail(ctx: Context) -> VerifyResult:
    async def verify() -> VerifyResult:
        return await ctx.db.write(verify_incremental)  # its checkpoint is a write

    return await _at_start("audit trail verification", verify)


def _spawn(application: Application, work: Coroutine[Any, Any, None]) -> None:  # type: ignore[type-arg]
    application.create_task(work, name="lysyme-takeover")


#: Seconds between two looks at the database path (a write looks at it too, at once).
FILE_WATCH_INTERVAL = 5.0
_WATCH_KEY = "database_watch"


def _watch_database_file(application: Application, ctx: Context) -> None:  # type: ignore[type-arg]
    """A deleted or replaced database file (a backup moved over it, an `rm`) stops every write
    (storage/errors.py StorageGone: users are told the bot is paused); the admins are told once
    and an error is logged. Seen before the next write, or within FILE_WATCH_INTERVAL."""

    def gone(problem: str) -> None:
        log.error("%s: writes stopped, restart the bot once the right file is back", problem)
        application.create_task(_tell_admins(application, ctx, "db.gone", problem=problem))

    ctx.db.on_gone = gone

    def fault(problem: str) -> None:  # after a commit: the data is saved, the admins told
        application.create_task(_tell_admins(application, ctx, "db.fault", problem=problem))

    ctx.db.on_fault = fault

    never = asyncio.Event()  # cancelled at stop; the wait is only a pause between looks

    async def watch() -> None:
        while ctx.db.file_problem() is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(never.wait(), FILE_WATCH_INTERVAL)

    application.bot_data[_WATCH_KEY] = asyncio.create_task(watch(), name="lysyme-db-watch")


async def _stop_watching(application: Application, ctx: Context | None) -> None:  # type: ignore[type-arg]
    task = application.bot_data.pop(_WATCH_KEY, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_DEADLINE_KEY = "stop_deadline"


def _arm_stop_deadline(application: Application, ctx: Context) -> None:  # type: ignore[type-arg]
    """A stop is bounded even when the database went silent (a network that drops every
    packet: a statement then waits until the kernel gives up, minutes). Once the sender's
    grace for the message in flight (sender.STOP_GRACE) plus one lease have passed since the
    stop began, every database connection is cut (Database.abort): what waits on it fails at
    once and the stop ends (reminders left claimed are released at the next start, or taken
    by the leader). A database that answers never needs that long: no statement of the bot
    waits longer than two thirds of the lease (storage/postgres.py session_limits).
    10 + 15 s by default, under systemd's TimeoutStopSec=30 (README)."""
    if _DEADLINE_KEY in application.bot_data:
        return
    grace = sender.STOP_GRACE + ctx.settings.leader_lease_seconds

    def cut() -> None:
        log.warning("the stop waited %.0f s for the database: its connections are cut", grace)
        ctx.db.abort()

    timer = threading.Timer(grace, cut)
    timer.daemon = True
    timer.start()
    application.bot_data[_DEADLINE_KEY] = timer


async def _post_stop(application: Application) -> None:  # type: ignore[type-arg]
    """Stop the background tasks while the Bot's HTTP client is still open (PTB closes it
    before post_shutdown), so a message in flight is finished and marked."""
    ctx: Context | None = application.bot_data.get("ctx")
    if ctx is not None:
        _arm_stop_deadline(application, ctx)  # (webhook mode: from here; polling: the signal)
    await _stop_watching(application, ctx)
    for hook in handlers.routes(application).on_stop:
        await hook(application, ctx)


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    ctx: Context | None = application.bot_data.get("ctx")
    await _post_stop(application)  # the hooks are idempotent: a no-op after post_stop
    leadership: Leadership | None = application.bot_data.pop(LEADERSHIP_KEY, None)
    if leadership is not None:
        await leadership.stop()  # gives the lease up: a standby takes over at once
    if ctx is not None:
        try:
            released = await ctx.db.write(outbox.release_claimed)
        except StorageGone:
            released = 0  # the file is gone: nothing to release in it
        except StorageError as exc:  # unreachable, or cut at the stop's deadline
            log.warning("claimed reminders not released at stop (%s): released at the next "
                        "start, or taken over by the leader", exc)  # fmt: skip
            released = 0
        if released:
            log.info("released %d reminders claimed but not sent", released)
        await ctx.db.close()  # checkpoints the WAL into the database file
    deadline: threading.Timer | None = application.bot_data.pop(_DEADLINE_KEY, None)
    if deadline is not None:
        deadline.cancel()
    health.stopped(dt.datetime.now(dt.UTC))


async def _tell_admins(application: Application, ctx: Context, key: str, **params: str) -> None:  # type: ignore[type-arg]
    if ctx.db.gone is not None:  # no write transaction any more: a plain read of the old file
        listed = await ctx.db.read(user_store.list_users)
    else:
        listed = await ctx.db.write(user_store.list_users)
    admins = [u for u in listed if "admin" in u.roles]
    for admin in admins:
        try:
            await application.bot.send_message(
                admin.telegram_id,
                t(ctx.language_of(admin), key, **params),
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:
            log.warning("could not tell admin %s: %s", admin.telegram_id, exc)


async def _set_menus(application: Application, ctx: Context) -> None:  # type: ignore[type-arg]
    """Each listed user sees the commands of their roles; others see /start and /help."""
    lang = ctx.settings.language or "fr"
    try:
        await application.bot.set_my_commands(
            handlers.bot_commands(lang, ["start", "help"]), scope=BotCommandScopeDefault()
        )
        listed = await ctx.db.write(user_store.list_users)
        for user in listed:
            await application.bot.set_my_commands(
                handlers.bot_commands(ctx.language_of(user), commands_for(user)),
                scope=BotCommandScopeChat(user.telegram_id),
            )
    except TelegramError as exc:
        log.warning("could not set the command menus: %s", exc)


async def _offer_resume(application: Application, ctx: Context) -> None:  # type: ignore[type-arg]
    """After a restart, every interrupted screening's clinician gets its current question back
    (a reply lost in the crash is never a dead end)."""
    open_sessions = await ctx.db.write(store.open_screening_sessions)
    for session, screening_row in open_sessions:

        def resumed(conn: Connection, user_id: int, row: Screening) -> tuple[User, Loaded] | None:
            user = user_store.get_user(conn, user_id)
            if user is None:
                return None
            return user, records.load(conn, row)

        found = await ctx.db.write(resumed, session.user_id, screening_row)
        if found is None:
            continue
        user, loaded = found
        lang = ctx.language_of(user)
        prompt = screening.current_prompt(lang, loaded, ctx)
        text = t(lang, "screen.resumed_after_restart", number=screening_row.number)
        # Nobody must act on it at night: silent then (DESIGN.md "Loud or silent").
        quiet = loudness.silent_notice(loudness.Notice.RESTART, ctx.now(), ctx.zone)
        try:
            await application.bot.send_message(session.chat_id, text, parse_mode=ParseMode.HTML,
                                               disable_notification=quiet)  # fmt: skip
            sent = await application.bot.send_message(
                session.chat_id, prompt.text, parse_mode=ParseMode.HTML,
                reply_markup=markup.keyboard(prompt), disable_notification=quiet,
            )  # fmt: skip
            await delivery.delivered(ctx, prompt, sent.message_id)
        except TelegramError as exc:
            log.warning("could not offer %s back: %s", screening_row.number, exc)
