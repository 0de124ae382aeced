"""The command-line subcommands that need the database or the network (imported lazily)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

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

    configure_logging()
    application = build_application(settings)
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=10)
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import Database

    async def go() -> tuple[int, int]:
        db = await Database.open(settings.database, migrate=False)
        try:
            return await db.migrate()
        finally:
            await db.close()

    before, after = asyncio.run(go())
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
