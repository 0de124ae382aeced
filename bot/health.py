"""Heartbeats, and the container health check: `python -m bot.health`.

The running bot records *heartbeats* — when it last did each periodic thing — in a small JSON
file next to the database (`<database>-health.json`, mode 0600):

* `poll`: the last successful getUpdates round (polling mode; a long poll returns at least
  every 10 s even when nobody writes, so a silent night still beats);
* `update`: the last Telegram update handled (either mode; informative only — a quiet night
  is not a fault);
* `sender`: the reminder sender's last round (bot/reminders/sender.py calls `beat("sender", now)`).

and what *fails*: `failing("database", …)` while the sender's rounds (each takes the write
lock; at least one durable write a minute) raise a database error — locked, disk full,
read-only — cleared by the next round that works. The check is unhealthy meanwhile.

Why a file and not the database's `meta` table: a heartbeat is operational state, not trial
data. Written to the database it would cost a durable (`synchronous=FULL`) transaction and
the single write lock several times a minute, grow the WAL, end up in every backup, and the
health check could not tell "the bot is stuck" from "the database is locked". The file is
rewritten atomically (temporary file + rename, no fsync: losing a heartbeat in a power cut is
harmless) at most every `FLUSH_EVERY` seconds, so a heartbeat costs a dictionary update.

`python -m bot.health` (the Dockerfile's HEALTHCHECK) prints one line and exits 0 when
1. the database answers (opened read-only: `PRAGMA user_version`, a read of `sqlite_master`),
2. every heartbeat that has a limit (`LIMITS`) is recent, `poll` being required in polling
   mode, and
3. in webhook mode, the bot's own webhook server answers HTTP on its port (any status: a GET
   on the webhook path is refused with 405, which proves the server and its event loop live);
otherwise it prints why and exits 1. It reads the same settings as the bot (environment or
`.env`).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storage.db import probe_read_only
from storage.errors import StorageError

log = logging.getLogger("lysyme.health")

SUFFIX = "-health.json"  # beside -wal and -shm; matches .gitignore's *.sqlite3-*
#: Seconds after which a heartbeat is stale. Names without a limit are informative only.
LIMITS: dict[str, float] = {"poll": 90.0, "sender": 300.0, "lease": 30.0}
#: What only the leader does (bot/telegram/leadership.py): a standby is not expected to beat them.
LEADER_ONLY = ("poll", "sender")
#: The file is rewritten at most this often (a beat with a new name is written at once).
FLUSH_EVERY = 5.0
PROBE_TIMEOUT = 3.0


def heartbeat_path(database: str | Path) -> Path:
    """Beside the SQLite file; on PostgreSQL (several replicas, each its own working folder,
    `/data` in the container), `lysyme-health.json` in the working folder."""
    if isinstance(database, str) and database.startswith(("postgresql://", "postgres://")):
        return Path.cwd() / f"lysyme{SUFFIX}"
    return Path(f"{database}{SUFFIX}")


class _Heartbeats:
    """The process's heartbeats; written to `path` once `configure` has been called."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.info: dict[str, Any] = {}
        self.beats: dict[str, str] = {}
        self.failures: dict[str, str] = {}  # name → "since problem", while it fails
        self.flushed_at = 0.0
        self.warned = False

    def configure(self, path: Path | None, **info: Any) -> None:
        self.path, self.info, self.beats, self.flushed_at = path, info, {}, 0.0
        self.failures = {}
        if path is not None:
            self.flush()

    def beat(self, name: str, now: dt.datetime) -> None:
        new = name not in self.beats
        self.beats[name] = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        if self.path is not None and (new or time.monotonic() - self.flushed_at >= FLUSH_EVERY):
            self.flush()

    def failing(self, name: str, now: dt.datetime, problem: str) -> None:
        if name not in self.failures:
            self.failures[name] = (
                f"{now.astimezone(dt.UTC).isoformat(timespec='seconds')} {problem}"
            )
            self.flush()

    def recovered(self, name: str) -> None:
        if self.failures.pop(name, None) is not None:
            self.flush()

    def flush(self) -> None:
        if self.path is None:
            return
        self.flushed_at = time.monotonic()
        document = {**self.info, "beats": self.beats, "limits": LIMITS, "failing": self.failures}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
            os.replace(temporary, self.path)
        except OSError as exc:  # never let a heartbeat take the bot down
            if not self.warned:
                log.warning("could not write the heartbeat file %s: %s", self.path, exc)
                self.warned = True


_HEARTBEATS = _Heartbeats()


def configure(path: Path | None, **info: Any) -> None:
    """Start a fresh heartbeat file (at start-up; `info`: mode, pid, …). None: in memory only."""
    _HEARTBEATS.configure(path, **info)


def beat(name: str, now: dt.datetime) -> None:
    """Record that `name` ran at `now` (aware). Cheap: call it on every round."""
    _HEARTBEATS.beat(name, now)


def set_role(role: str) -> None:
    """ "leader" or "standby" (bot/telegram/leadership.py), written at once."""
    _HEARTBEATS.info["role"] = role
    if role != "leader":
        _HEARTBEATS.info.pop("leader_until", None)
    _HEARTBEATS.flush()


def lease_renewed(until: dt.datetime) -> None:
    """The leader renewed its lease: it leads until `until` (wall clock) unless renewed again,
    written at once. A process that stops renewing (frozen, SIGSTOP) cannot say it no longer
    leads: the check reads this and says "standby" once it has passed."""
    _HEARTBEATS.info["leader_until"] = until.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    _HEARTBEATS.flush()


def failing(name: str, now: dt.datetime, problem: str) -> None:
    """`name` fails (e.g. "database": the sender's writes fail): the check is unhealthy until
    `recovered(name)`. Written at once."""
    _HEARTBEATS.failing(name, now, problem)


def recovered(name: str) -> None:
    _HEARTBEATS.recovered(name)


def flush() -> None:
    """Write the heartbeats now."""
    _HEARTBEATS.flush()


def ready(now: dt.datetime) -> None:
    """Start-up finished (migrations, trail verified, menus, start hooks): written at once."""
    _HEARTBEATS.info["ready_at"] = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    _HEARTBEATS.flush()


def stopped(now: dt.datetime) -> None:
    """At shutdown: the file says so, and the check fails at once (not 90 s later)."""
    _HEARTBEATS.info["stopped_at"] = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    _HEARTBEATS.flush()


def beats() -> dict[str, str]:
    return dict(_HEARTBEATS.beats)


# --- the check ------------------------------------------------------------------------------


class Unhealthy(Exception):
    """One line saying what is wrong."""


def _age(stamp: str, now: dt.datetime) -> float:
    return (now - dt.datetime.fromisoformat(stamp)).total_seconds()


def check_database(database: Path | str) -> int:
    """The schema version, if the database answers a read-only query."""
    if isinstance(database, str):
        from storage.postgres import probe_schema_version

        try:
            version = probe_schema_version(database, PROBE_TIMEOUT)
        except ImportError:
            raise Unhealthy("the PostgreSQL driver (psycopg) is not installed") from None
        except StorageError as exc:
            raise Unhealthy(f"database does not answer: {exc}") from None
        if version < 1:
            raise Unhealthy("database has no schema yet")
        return version
    if not database.exists():
        raise Unhealthy(f"database {database} not found")
    try:
        version = probe_read_only(database, PROBE_TIMEOUT)
    except StorageError as exc:
        raise Unhealthy(f"database does not answer: {exc}") from None
    if version < 1:
        raise Unhealthy("database has no schema yet")
    return version


def check_heartbeats(path: Path, now: dt.datetime, *, polling: bool) -> list[str]:
    """The ages of the heartbeats that matter, or Unhealthy. A standby replica (role in the
    file) is not expected to poll or send; it must keep trying for the leader lease."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        role = document.get("role")
        recorded: dict[str, str] = dict(document.get("beats") or {})
        stopped_at = document.get("stopped_at")
        failures: dict[str, str] = dict(document.get("failing") or {})
        leader_until = document.get("leader_until")
    except (OSError, ValueError, TypeError, AttributeError):
        raise Unhealthy(f"no readable heartbeat file {path} (is the bot running?)") from None
    if stopped_at:
        raise Unhealthy(f"the bot stopped at {stopped_at}")
    for name, since in sorted(failures.items()):
        raise Unhealthy(f"{name} failing since {since}")
    if role == "leader" and isinstance(leader_until, str):
        try:
            lapsed = _age(leader_until, now) > 0
        except (TypeError, ValueError):
            lapsed = True
        if lapsed:  # frozen, or cut off: it no longer knows its lease to be live
            role = "standby"
    standby = role == "standby"
    if polling and not standby and "poll" not in recorded:
        raise Unhealthy("no getUpdates round recorded yet")
    seen = []
    for name, stamp in sorted(recorded.items()):
        try:
            age = _age(stamp, now)
        except (TypeError, ValueError):
            raise Unhealthy(f"heartbeat {name}: unreadable time {stamp!r}") from None
        limit = None if standby and name in LEADER_ONLY else LIMITS.get(name)
        if limit is not None and age > limit + FLUSH_EVERY:
            raise Unhealthy(f"{name} last ran {age:.0f} s ago (limit {limit:.0f} s)")
        seen.append(f"{name} {max(age, 0):.0f} s ago")
    if role in ("leader", "standby"):
        seen.insert(0, str(role))
    return seen


def probe_webhook(listen: str, port: int, url: str) -> int:
    """The HTTP status the local webhook server answers a GET with (any status is alive)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen, listen)
    path = urlsplit(url).path or "/"
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError as exc:
        raise Unhealthy(f"webhook server on {host}:{port} does not answer: {exc}") from None
    finally:
        connection.close()


def check(settings: Any, now: dt.datetime | None = None) -> str:
    """What is healthy, in one line; raises Unhealthy with one line otherwise."""
    now = now or dt.datetime.now(dt.UTC)
    database = settings.database
    version = check_database(database)
    polling = not settings.webhook_url
    beats = check_heartbeats(heartbeat_path(database), now, polling=polling)
    role = [beats.pop(0)] if beats and beats[0] in ("leader", "standby") else []
    parts = [*role, f"database answers (schema {version})", *beats]
    if not polling:
        status = probe_webhook(settings.webhook_listen, settings.webhook_port, settings.webhook_url)
        parts.append(f"webhook server answers (HTTP {status})")
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        summary = check(settings)
    except SettingsError as exc:
        print(f"unhealthy: {exc}")
        return 1
    except Unhealthy as exc:
        print(f"unhealthy: {exc}")
        return 1
    print(f"healthy: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
