"""The daily automatic backup, when `LYSYME_BACKUP_DIR` is set.

A task started at start-up and stopped at shutdown (its `FEATURE`'s hooks, run by
bot/app.py): at start, a backup if the newest one in the folder is more than a day old (or
there is none); then one every day at 03:00 trial-local time (DST-safe, computed by the
pure core's `next_local_time`). Each run is SQLite's online backup (`storage.backup`: a whole
0600 copy, safe while the bot writes), then the folder is pruned to the newest
`LYSYME_BACKUP_KEEP`. Every backup and every pruned file is an audit row (actor `system`).

A failure is logged (the operator's one-line reason: paths and SQLite errors, never answers)
and the admins are told once — not again until a backup has worked, which they are told too.

`run_backup(ctx, now)` is the unit the tests call with an injected time; `BackupScheduler`
takes an injected `wait` so its timing is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import routing
from bot.common import Context
from bot.texts import t
from conversations.windows import next_local_time
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.backup import (
    BackupError,
    backup_database,
    backup_file_name,
    backup_instant,
    prune_backups,
)
from storage.errors import StorageError

log = logging.getLogger("lysyme.backups")

#: Local time of the daily backup (quiet hours, before the 08:00 reminders).
BACKUP_TIME = dt.time(3, 0)
#: A backup older than this at start is redone at once.
MAX_AGE = dt.timedelta(days=1)
#: The scheduler re-reads the clock at least this often (seconds): a suspended machine or a
#: clock change never makes it miss a day by much.
MAX_WAIT = 3600.0
#: How long shutdown lets a backup in progress finish (seconds) before cancelling it.
STOP_TIMEOUT = 120.0

_TASK_KEY = "lysyme.backup_task"
SYSTEM = "system"

#: `await wait(seconds)` returns True when the scheduler is asked to stop, False on time-out.
Wait = Callable[[float], Awaitable[bool]]
#: `await notify(text key, **params)`: tell the admins.
Notify = Callable[..., Awaitable[None]]


def backup_time_of(path: Path) -> dt.datetime | None:
    """The instant in a backup's name (`lysyme-YYYYMMDD-HHMMSS+HHMM.sqlite3`), None otherwise."""
    return backup_instant(path.name)


def newest_backup(folder: Path) -> dt.datetime | None:
    """The time of the newest backup in `folder` (None if none, or no folder)."""
    if not folder.is_dir():
        return None
    times = [
        moment
        for path in folder.iterdir()
        if path.is_file() and (moment := backup_time_of(path)) is not None
    ]
    return max(times, default=None)


def due_at_start(folder: Path, now: dt.datetime) -> bool:
    newest = newest_backup(folder)
    return newest is None or now - newest >= MAX_AGE


def _ensure_folder(folder: Path) -> None:
    """Create the backup folder (owner only) if it is missing."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create backup folder {folder}: {exc.strerror}") from exc


async def run_backup(ctx: Context, now: dt.datetime, *, reason: str = "daily") -> Path:
    """One backup into `LYSYME_BACKUP_DIR` named after `now`, then prune to `backup_keep`;
    audited. Returns the new file. Raises BackupError (one line) when it cannot be made."""
    folder = ctx.settings.backup_dir
    if folder is None:
        raise BackupError("LYSYME_BACKUP_DIR is not set")
    await asyncio.to_thread(_ensure_folder, folder)
    # The file is reopened for the copy (SQLite's backup API: one consistent snapshot of what
    # is committed, never a transaction in progress).
    path = await backup_database(ctx.db.path, folder / backup_file_name(now, ctx.settings.zone))
    keep = ctx.settings.backup_keep
    pruned = await asyncio.to_thread(prune_backups, folder, keep)
    entries = [AuditEntry(now, SYSTEM, "backup", field="file", new_value=path.name, reason=reason)]
    entries += [
        AuditEntry(now, SYSTEM, "backup_pruned", field="file", old_value=old.name,
                   reason=f"keep the newest {keep}")
        for old in pruned
    ]  # fmt: skip
    await ctx.db.write(append_audit_many, entries)
    log.info("backup written: %s (%d older removed)", path.name, len(pruned))
    return path


def describe_failure(exc: BaseException) -> str:
    """One line for the log and the admins: the operator's reason, never data."""
    if isinstance(exc, BackupError | OSError | StorageError):
        text = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
        first = text.splitlines()[0] if text else type(exc).__name__
        return first[:300]
    return type(exc).__name__


class BackupScheduler:
    """At start if due, then daily at 03:00 local time, until `stop()`."""

    def __init__(self, ctx: Context, notify: Notify, wait: Wait | None = None) -> None:
        self.ctx = ctx
        self._notify = notify
        self._stopping = asyncio.Event()
        self._wait: Wait = wait or self._wait_for_stop
        self.failing = False  # the admins were told of a failure, not yet of a success
        self.made: list[Path] = []

    def stop(self) -> None:
        self._stopping.set()

    async def _wait_for_stop(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        folder = self.ctx.settings.backup_dir
        if folder is None:
            return
        now = self.ctx.now()
        if await asyncio.to_thread(due_at_start, folder, now):
            await self.attempt(now, reason="at start: the newest backup is over a day old")
        while not self._stopping.is_set():
            due = next_local_time(self.ctx.now(), BACKUP_TIME, self.ctx.zone)
            while (remaining := (due - self.ctx.now()).total_seconds()) > 0:
                if await self._wait(min(remaining, MAX_WAIT)) or self._stopping.is_set():
                    return
            await self.attempt(self.ctx.now())

    async def attempt(self, now: dt.datetime, reason: str = "daily") -> Path | None:
        """One backup; a failure is logged, audited if possible, and told to the admins once."""
        try:
            path = await run_backup(self.ctx, now, reason=reason)
        except Exception as exc:
            problem = describe_failure(exc)
            log.error("automatic backup failed: %s", problem)
            await self._audit_failure(now, problem)
            if not self.failing:
                self.failing = True
                await self._tell("bk.failed", problem=problem)
            return None
        self.made.append(path)
        if self.failing:
            self.failing = False
            await self._tell("bk.recovered", file=path.name)
        return path

    async def _audit_failure(self, now: dt.datetime, problem: str) -> None:
        try:
            entry = AuditEntry(now, SYSTEM, "backup_failed", field="file", reason=problem)
            await self.ctx.db.write(append_audit, entry)
        except Exception as exc:  # the database itself may be what fails
            log.error("could not audit the backup failure: %s", describe_failure(exc))

    async def _tell(self, key: str, **params: str) -> None:
        try:
            await self._notify(key, **params)
        except Exception as exc:
            log.warning("could not tell the admins about the backup: %s", describe_failure(exc))


async def tell_admins(application: Any, ctx: Context, key: str, **params: str) -> None:
    admins = [u for u in await ctx.db.read(user_store.list_users) if "admin" in u.roles]
    for admin in admins:
        try:
            await application.bot.send_message(
                admin.telegram_id, t(ctx.language_of(admin), key, **params),
                parse_mode=ParseMode.HTML,
            )  # fmt: skip
        except TelegramError as exc:
            log.warning("could not tell admin %s: %s", admin.telegram_id, exc)


# --- start-up and shutdown hooks ------------------------------------------------------------


async def start(application: Any, ctx: Context) -> None:
    """Start hook: start the scheduler when LYSYME_BACKUP_DIR is set."""
    if ctx.settings.backup_dir is None or _TASK_KEY in application.bot_data:
        return
    if ctx.settings.on_postgres:  # the server's own backups (pg_dump, base backups) apply
        log.warning("LYSYME_BACKUP_DIR is ignored on PostgreSQL: back the database up with "
                    "pg_dump (`lysyme-bot backup PATH` runs it) or the server's own backups")  # fmt: skip
        return

    async def notify(key: str, **params: str) -> None:
        await tell_admins(application, ctx, key, **params)

    scheduler = BackupScheduler(ctx, notify)
    task = asyncio.create_task(scheduler.run(), name="lysyme-daily-backup")
    application.bot_data[_TASK_KEY] = (scheduler, task)
    log.info("daily backup into %s at %s local time", ctx.settings.backup_dir, BACKUP_TIME)


async def stop(application: Any, ctx: Context | None) -> None:
    """Stop hook: let a backup in progress finish, then end the task (before the
    database closes)."""
    entry = application.bot_data.pop(_TASK_KEY, None)
    if entry is None:
        return
    scheduler, task = entry
    scheduler.stop()
    try:
        await asyncio.wait_for(task, timeout=STOP_TIMEOUT)
    except TimeoutError:
        log.warning("the backup in progress did not finish in time; cancelled")
    except Exception as exc:
        log.error("the backup task ended with %s", describe_failure(exc))


FEATURE = routing.Feature("daily backups", on_start=(start,), on_stop=(stop,))
