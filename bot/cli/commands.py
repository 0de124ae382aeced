"""The command-line subcommands that need the database or the network (imported lazily)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import errno
import hashlib
import logging
import re
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from bot.cli.command_line import fail, no_database
from bot.settings import Settings

log = logging.getLogger("lysyme.run")

#: What BotFather issues: the bot's numeric id, a colon, then letters, digits, _ and -.
TOKEN_FORMAT = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,100}")


def claim_database(command: str, database: Path | str, *, anchored: bool = True) -> None:
    """Before a command opens a SQLite database to write: its folder exists, no other process
    holds it (storage/lock.py, held until this process ends), and (`anchored`) it is the
    database its anchor knows (storage/anchor.py). Otherwise one line on stderr, exit 2.
    A PostgreSQL database is shared by design (replicas): nothing to claim."""
    from storage.anchor import DatabaseRefused, check
    from storage.lock import DatabaseLocked, acquire

    if isinstance(database, str):
        return

    if not database.parent.is_dir():
        fail(f"{command}: the folder of LYSYME_DATABASE ({database.parent}) does not exist: "
             "create it, or fix the path")  # fmt: skip
    try:
        acquire(database, command)
        if anchored:
            check(database)
    except (DatabaseLocked, DatabaseRefused) as exc:
        fail(f"{command}: {exc}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot run`: polling, or a webhook when LYSYME_WEBHOOK_URL is set."""
    if not settings.telegram_bot_token:
        print(
            "run: TELEGRAM_BOT_TOKEN is not set (export it or put it in .env); "
            "`lysyme-bot console` runs the screening offline",
            file=sys.stderr,
        )
        return 2
    token = settings.telegram_bot_token
    if not TOKEN_FORMAT.fullmatch(token):
        fail("run: TELEGRAM_BOT_TOKEN is malformed (BotFather's tokens look like "
             "123456789:AAE…, digits, a colon, then letters, digits, _ or -)")  # fmt: skip
    claim_database("run", settings.database)
    from telegram.error import InvalidToken, NetworkError

    from bot.app import build_application, configure_logging
    from bot.telegram.polling import FatalPollingError
    from storage.anchor import DatabaseRefused

    configure_logging()
    application = build_application(settings)
    try:
        return _serve(application, settings)
    except InvalidToken:
        fail("run: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with "
             "@BotFather (/token)")  # fmt: skip
    except FatalPollingError as exc:
        fail(f"run: {exc}")
    except DatabaseRefused as exc:
        fail(f"run: {exc}")
    except NetworkError as exc:
        fail(f"run: cannot reach Telegram at {settings.telegram_api_base_url.split('/bot')[0]}:"
             f" {str(exc).replace(token, '<token>')}")  # fmt: skip


def _serve(application: Any, settings: Settings) -> int:
    from telegram import Update

    from bot.telegram.polling import serve_polling

    # Both modes stop gracefully on SIGTERM / SIGINT (PTB's stop_signals): the update in
    # progress and those already received are handled, the reminder sender drains, claimed
    # reminders are released and the database is checkpointed and closed (bot/app.py), exit 0.
    if settings.webhook_url:
        # Served on the URL's own path (a reverse proxy forwards it unchanged). Without a
        # configured secret, a random one per run: Telegram gets it with setWebhook, and a
        # POST without it (anyone who guessed the URL) is refused with 403.
        secret = settings.webhook_secret or _default_webhook_secret(settings)
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
        # been handled (bot/telegram/polling.py), so a kill -9 loses none.
        asyncio.run(serve_polling(application))
    return 0


def _default_webhook_secret(settings: Settings) -> str:
    """Without LYSYME_WEBHOOK_SECRET: a random secret per run; on PostgreSQL, where replicas
    sit behind one load balancer and each sets the webhook at start, one they all derive from
    the token (a random one each would refuse the updates meant for the others)."""
    if not settings.on_postgres or not settings.telegram_bot_token:
        return secrets.token_urlsafe(32)
    digest = hashlib.sha256(f"lysyme-webhook:{settings.telegram_bot_token}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the pending migrations in place (each in its own transaction); a database newer
    than this program is left alone: exit 2, one line."""
    from storage.anchor import DatabaseRefused
    from storage.db import SCHEMA_VERSION
    from storage.open import open_database

    claim_database("migrate", settings.database)

    async def go() -> tuple[int, int]:
        try:
            db = await open_database(settings.database, migrate=False)
        except DatabaseRefused as exc:
            fail(f"migrate: {exc}")
        try:
            current = await db.schema_version()
            if current > SCHEMA_VERSION:
                return current, current
            return await db.migrate()
        finally:
            await db.close()

    before, after = asyncio.run(go())
    if before > SCHEMA_VERSION:
        print(f"migrate: {settings.database_label}: schema version {before} is newer than this "
              f"program's ({SCHEMA_VERSION}); upgrade lysyme-bot first", file=sys.stderr)  # fmt: skip
        return 2
    if before == after:
        print(f"migrate: {settings.database_label}: schema version {after}, already up to date")
    else:
        print(f"migrate: {settings.database_label}: schema version {before} → {after}")
    return 0


def verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    """The hash chain from row 1, then its end against the anchor file (rows removed from the
    end, or the trail rewritten and rehashed) and against the checkpoint of the last
    incremental verification. Exit 0 intact, 1 a problem (named), 2 no database."""
    from storage.anchor import ADOPT_HINT, DatabaseRefused, anchor_path, compare_file, read_anchor
    from storage.audit import VerifyResult, checkpoint_problem, verify_chain
    from storage.open import open_database

    if no_database("verify-audit", settings):
        return 2
    on_postgres = settings.on_postgres
    database = Path(settings.database)

    async def go() -> int:
        try:
            db = await open_database(settings.database, migrate=False)
        except DatabaseRefused as exc:
            print(f"verify-audit: {exc}", file=sys.stderr)
            return 2

        def verified(conn: Connection) -> tuple[VerifyResult, str | None]:
            result = verify_chain(conn)
            return result, checkpoint_problem(conn) if result.ok else None

        try:
            result, checkpoint = await db.read(verified)
        finally:
            await db.close()
        if not result.ok:
            print(f"verify-audit: first bad row {result.first_bad_id}: {result.problem}")
            return 1
        if on_postgres:  # no anchor file: a server database cannot be swapped like a file
            return _verified(result.rows_checked, result.last_id, checkpoint)
        try:
            anchor = read_anchor(anchor_path(database))
        except DatabaseRefused as exc:
            print(f"verify-audit: {exc}")
            return 1
        if anchor is None and checkpoint is not None:
            return _verified(result.rows_checked, result.last_id, checkpoint)
        if anchor is None:  # an older copy put back with its anchor deleted looks like this
            print(f"verify-audit: anchor: {database} has no anchor file "
                  f"{anchor_path(database)}: the end of the trail cannot be checked; "
                  f"{ADOPT_HINT}")  # fmt: skip
            return 1
        if anchor is not None:
            problem = compare_file(database, anchor)
            if problem is not None:
                print(f"verify-audit: anchor: {problem}")
                return 1
        return _verified(result.rows_checked, result.last_id, checkpoint)

    return asyncio.run(go())


def _verified(rows: int, last_id: int, checkpoint: str | None) -> int:
    if checkpoint is not None:
        print(f"verify-audit: {checkpoint}")
        return 1
    print(f"verify-audit: intact, {rows} rows, last row {last_id}")
    return 0


def backup(args: argparse.Namespace, settings: Settings) -> int:
    from storage.backup import BackupError, backup_database

    if isinstance(settings.database, str):
        return _pg_dump(args, settings.database, settings.zone)
    if no_database("backup", settings):
        return 2
    try:
        path = asyncio.run(backup_database(settings.database, args.path, settings.zone))
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 2
    print(f"backup: written {path}")
    return 0


def _init_postgres(args: argparse.Namespace, settings: Settings) -> int:
    """`init` on PostgreSQL: the schema in an empty database, and its first audit row. A
    database that already holds a trail is never set aside from here (`--force` included):
    that is the database administrator's decision, with PostgreSQL's own tools."""
    from storage.anchor import DatabaseRefused
    from storage.audit import AuditEntry, append_audit, has_rows
    from storage.open import open_database

    label = settings.database_label

    async def create() -> bool:
        db = await open_database(settings.database)
        try:

            def first_row(conn: Connection) -> bool:
                if has_rows(conn):
                    return False
                append_audit(conn, AuditEntry(dt.datetime.now(dt.UTC), "init",
                                              "database_created"))  # fmt: skip
                return True

            return await db.write(first_row)
        finally:
            await db.close()

    try:
        created = asyncio.run(create())
    except DatabaseRefused as exc:
        fail(f"init: {exc}")
    if not created:
        fail(f"init: {label} already holds a LYSYME database; on PostgreSQL a new one is a new "
             "database (createdb), the old one is kept or dropped by its administrator")  # fmt: skip
    print(f"init: new database {label}")
    return 0


def _pg_dump(args: argparse.Namespace, url: str, zone: dt.tzinfo) -> int:
    """`lysyme-bot backup PATH` on PostgreSQL: pg_dump (custom format, restorable with
    pg_restore) into PATH when pg_dump is on PATH; otherwise one line saying so. Never a
    silent no-op."""
    import shutil
    import subprocess

    from storage.backup import backup_file_name
    from storage.postgres import redact

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        print("backup: the database is PostgreSQL: back it up with pg_dump (not found on PATH "
              f"here), e.g. pg_dump --format=custom '{redact(url)}'", file=sys.stderr)  # fmt: skip
        return 2
    target = Path(args.path)
    if target.is_dir():
        target = target / backup_file_name(None, zone).replace(".sqlite3", ".dump")
    elif not target.parent.is_dir():
        print(f"backup: backup folder does not exist: {target.parent}", file=sys.stderr)
        return 2
    done = subprocess.run(
        [pg_dump, "--format=custom", f"--file={target}", "--dbname", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or ["failed"])[-1].replace(url, redact(url))
        print(f"backup: pg_dump: {problem}", file=sys.stderr)
        target.unlink(missing_ok=True)
        return 2
    target.chmod(0o600)
    print(f"backup: written {target} (pg_dump custom format; restore with pg_restore)")
    return 0


def _adopt(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot init --adopt`: accept, as it is, a database file that has no anchor (an
    upgrade from a version without anchors, or a file the team knows to be the right one).
    The one deliberate way past that refusal: only a LYSYME database whose audit trail
    verifies; the adoption is an audit row (with the trail's length); then it is anchored."""
    from storage import anchor as anchors
    from storage.audit import AuditEntry, append_audit, verify_chain
    from storage.open import open_database

    if args.force:
        fail("init: --adopt keeps the database as it is, --force sets it aside: choose one")
    if isinstance(settings.database, str):
        fail("init: --adopt is for a database file; a PostgreSQL database has no anchor file")
    database = Path(settings.database)
    claim_database("init", database, anchored=False)
    anchor = anchors.anchor_path(database)
    if not database.exists() or database.stat().st_size == 0:
        fail(f"init: no database at {database} to adopt; `lysyme-bot init` creates a new one")
    problem = anchors.not_lysyme(database)
    if problem is not None:
        fail(f"init: {problem}; not adopted")
    if anchor.exists():
        fail(f"init: {database} already has its anchor {anchor}: nothing to adopt (if the bot "
             "refuses it, the refusal says why)")  # fmt: skip

    async def adopt() -> tuple[int, str | None]:
        db = await open_database(database, migrate=False)
        try:
            result = await db.read(verify_chain)
            if not result.ok:
                return result.rows_checked, f"row {result.first_bad_id}: {result.problem}"

            def adopted(conn: Connection) -> None:
                anchors.give_id(conn)
                append_audit(conn, AuditEntry(
                    dt.datetime.now(dt.UTC), "init", "database_adopted", None, "anchor", None,
                    f"{result.rows_checked} audit rows",
                    "accepted without its anchor file (lysyme-bot init --adopt)",
                ))  # fmt: skip

            await db.write(adopted)
        finally:
            await db.close()
        return result.rows_checked, None

    rows, broken = asyncio.run(adopt())
    if broken is not None:
        fail(f"init: the audit trail of {database} is broken ({broken}); not adopted")
    database_id, count, head = anchors.read_head_file(database)
    assert database_id is not None
    anchors.write_anchor(anchor, anchors.Anchor(database_id, count, head))
    print(f"init: {database} adopted as it is ({rows} audit rows before, the adoption audited); "
          f"anchor written to {anchor}")  # fmt: skip
    return 0


def init(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot init [--force]`: a new, empty database, deliberately. Without --force it
    refuses when a database or an anchor is already there; with --force the old files are
    set aside (renamed `<database>.replaced-<UTC time>`, with their -wal and .anchor), never
    deleted."""
    from storage.anchor import anchor_path
    from storage.audit import AuditEntry, append_audit
    from storage.open import open_database

    if getattr(args, "adopt", False):
        return _adopt(args, settings)
    if isinstance(settings.database, str):
        return _init_postgres(args, settings)
    database = Path(settings.database)
    claim_database("init", database, anchored=False)  # init replaces what fails it
    anchor = anchor_path(database)
    present = [p for p in (database, anchor) if p.exists()]
    if present and not args.force:
        fail(f"init: {present[0]} already exists; `lysyme-bot init --force` sets the old "
             "database and its anchor aside (renamed, not deleted) and starts a new, empty one")  # fmt: skip
    set_aside = ""
    if present:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        base = Path(f"{database}.replaced-{stamp}")
        for suffix in ("", "-wal", "-shm", anchor.name.removeprefix(database.name)):
            old = Path(f"{database}{suffix}")
            if old.exists():
                old.rename(Path(f"{base}{suffix}"))
        set_aside = f"; the old one is now {base}"

    async def create() -> None:
        db = await open_database(database)
        try:
            await db.write(append_audit, AuditEntry(dt.datetime.now(dt.UTC), "init",
                                                    "database_created"))  # fmt: skip
        finally:
            await db.close()

    asyncio.run(create())
    print(f"init: new database {database}{set_aside}")
    return 0
