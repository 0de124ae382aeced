"""The command-line subcommands that need the database or the network (imported lazily)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot run`: polling, or a webhook when LYSYME_WEBHOOK_URL is set."""
    if not settings.telegram_bot_token:
        print(
            "run: TELEGRAM_BOT_TOKEN is not set (export it or put it in .env); "
            "`lysyme-bot console` runs the screening offline",
            file=sys.stderr,
        )
        return 2
    from telegram import Update

    from bot.app import build_application, configure_logging
    from bot.polling import serve_polling

    configure_logging()
    application = build_application(settings)
    # Both modes stop gracefully on SIGTERM / SIGINT (PTB's stop_signals): the update in
    # progress and those already received are handled, the reminder sender drains, claimed
    # reminders are released and the database is checkpointed and closed (bot/app.py), exit 0.
    if settings.webhook_url:
        # Served on the URL's own path (a reverse proxy forwards it unchanged). Without a
        # configured secret, a random one per run: Telegram gets it with setWebhook, and a
        # POST without it (anyone who guessed the URL) is refused with 403.
        secret = settings.webhook_secret or secrets.token_urlsafe(32)
        try:
            application.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path.strip("/"),
                webhook_url=settings.webhook_url,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
            )
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
            print(f"run: cannot serve the webhook on {settings.webhook_listen}:"
                  f"{settings.webhook_port}: {exc.strerror}", file=sys.stderr)  # fmt: skip
            return 2
    else:
        # Our own loop, not PTB's Updater: an update is confirmed to Telegram only once it has
        # been handled (bot/polling.py), so a kill -9 loses none.
        asyncio.run(serve_polling(application))
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the pending migrations in place (each in its own transaction); a database newer
    than this program is left alone: exit 2, one line."""
    from storage.db import SCHEMA_VERSION, Database

    async def go() -> tuple[int, int]:
        db = await Database.open(settings.database, migrate=False)
        try:
            current = await db.schema_version()
            if current > SCHEMA_VERSION:
                return current, current
            return await db.migrate()
        finally:
            await db.close()

    before, after = asyncio.run(go())
    if before > SCHEMA_VERSION:
        print(f"migrate: {settings.database}: schema version {before} is newer than this "
              f"program's ({SCHEMA_VERSION}); upgrade lysyme-bot first", file=sys.stderr)  # fmt: skip
        return 2
    if before == after:
        print(f"migrate: {settings.database}: schema version {after}, already up to date")
    else:
        print(f"migrate: {settings.database}: schema version {before} → {after}")
    return 0


def verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    from storage.audit import verify_chain
    from storage.db import Database

    if not Path(settings.database).exists():
        print(f"verify-audit: no database at {settings.database}", file=sys.stderr)
        return 2

    async def go() -> int:
        db = await Database.open(settings.database, migrate=False)
        try:
            result = await verify_chain(db.conn)
        finally:
            await db.close()
        if result.ok:
            print(f"verify-audit: intact, {result.rows_checked} rows, last row {result.last_id}")
            return 0
        print(f"verify-audit: first bad row {result.first_bad_id}: {result.problem}")
        return 1

    return asyncio.run(go())


def backup(args: argparse.Namespace, settings: Settings) -> int:
    from storage.backup import BackupError, backup_database

    if not Path(settings.database).exists():
        print(f"backup: no database at {settings.database}", file=sys.stderr)
        return 2
    try:
        path = asyncio.run(backup_database(settings.database, args.path))
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 2
    print(f"backup: written {path}")
    return 0
