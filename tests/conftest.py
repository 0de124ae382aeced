"""Shared by every suite: the injected clock, the settings a test bot runs with, and the answers
of an eligible patient as a clinician gives them through the bot (the core's values are
`eligible_answers` in tests/conversations/support.py)."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings
from storage import reminders as outbox
from storage.db import Database
from storage.open import open_database
from storage.postgres import is_postgres_url
from tests.e2e.fake_telegram import FakeTelegram

# pytest caches each test module with its asserts rewritten in __pycache__, unless bytecode
# writing is off (PYTHONDONTWRITEBYTECODE, set on some machines): then every worker rewrites
# every module at every run, ~5 s of CPU each. The cache is only ever a copy of the sources.
sys.dont_write_bytecode = False

# Test folders in memory where the machine has a tmpfs: every commit is fsynced
# (synchronous=FULL), which costs a disk's latency and nothing a test asserts; a kill -9 is a
# process ending, not a power cut. PYTEST_DEBUG_TEMPROOT, if set, is kept.
if os.access("/dev/shm", os.W_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", "/dev/shm")

#: Saturday 21 November 2026, 10:00 in Paris: the suites' "now" unless a test says otherwise.
T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)

#: The trial's time zone in the test settings (`make_settings`).
PARIS = ZoneInfo("Europe/Paris")


def day(offset: int = 0, *, of: dt.datetime = T0) -> str:
    """A date as a clinician types it (dd/mm/yyyy): `offset` days after the local date of `of`,
    the clock of the bot under test (the suites' `T0` unless given). Tests never type a literal
    date: a bot on the real clock would refuse it once the calendar moved on."""
    return (of.astimezone(PARIS).date() + dt.timedelta(days=offset)).strftime("%d/%m/%Y")


def no_such_day(kind: str = "31 February", *, of: dt.datetime = T0) -> str:
    """A date no calendar has, typed as bad input, in the year of `of` (the clock of the bot
    under test): "31 February", "29 February" (of the next common year), "month 13"."""
    year = of.astimezone(PARIS).year
    if kind == "31 February":
        return f"31/02/{year}"
    if kind == "29 February":
        while calendar.isleap(year):
            year += 1
        return f"29/02/{year}"
    if kind == "month 13":
        return f"32/13/{year}"
    raise ValueError(kind)


def real_now() -> dt.datetime:
    """The real clock, for tests that start `lysyme-bot` processes (they run on it)."""
    return dt.datetime.now(dt.UTC)


#: Tests left out of the edit–test loop (`-m "not slow and not deploy"`, README): every
#: end-to-end test, the ones that start `lysyme-bot` processes, and the long property runs.
#: The README's test command and CI run them all.
SLOW_MODULES = frozenset({
    "tests/test_cli_audit.py", "tests/test_cli_lock.py", "tests/test_cli_check.py",
    "tests/storage/test_anchor.py", "tests/storage/test_migrations.py",
    "tests/storage/test_postgres_server.py", "tests/bot/test_record_machine.py",
})  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parents[1]
    for item in items:
        where = item.path.resolve().relative_to(root).as_posix()
        if where.startswith("tests/e2e/") or where in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


#: Who runs a test bot, unless a test says otherwise (DESIGN.md roles).
ADMIN = 1001
TEAM_CHAT = -100500


class FakeClock:
    """Time that moves only when the test says so (the bot's injected clock)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def set(self, now: dt.datetime) -> dt.datetime:
        self.now = now
        return now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(db_path: Path | str, **extra: Any) -> Settings:
    """Settings of a test bot: English, Paris, `ADMIN`, `TEAM_CHAT`; no .env file is read."""
    values: dict[str, Any] = {
        "LYSYME_DATABASE": str(db_path),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_TEAM_CHAT_ID": str(TEAM_CHAT),
        "LYSYME_LANGUAGE": "en",
        "LYSYME_TIMEZONE": "Europe/Paris",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def eligible_male(now: dt.datetime = T0) -> list[tuple[str, str]]:
    """A whole eligible screening (male patient), as a clinician answers it on a bot whose clock
    reads `now`: (a fragment of the question the bot shows, "tap:<button label>" or
    "type:<text>"). First symptoms two days before, admission yesterday."""
    return [("Date of first symptoms", f"type:{day(-2, of=now)}"), *_ELIGIBLE_MALE_AFTER_INDEX]


_ELIGIBLE_MALE_AFTER_INDEX: list[tuple[str, str]] = [
    ("Date of admission", "tap:Yesterday"),
    ("Confirmed SJS", "tap:Yes"),
    ("Age (years)", "type:54"),
    ("Ward", "tap:Intensive care"),
    ("body surface area", "type:35 %"),
    ("Sex", "tap:Male"),
    ("Malignancy", "tap:No"),
    ("HIV", "tap:No"),
    ("hepatitis", "tap:No"),
    ("SARS-CoV-2", "tap:No"),
    ("heart failure", "tap:No"),
    ("epilepsy", "tap:No"),
    ("bone-marrow", "tap:No"),
    ("interventional drug study", "tap:No"),
    ("Deprived of liberty", "tap:No"),
    ("hampering follow-up", "tap:No"),
    ("tutorship", "tap:No"),
    ("psychiatric care", "tap:No"),
    ("social security", "tap:Yes"),
    ("Written consent", "tap:Obtained"),
    ("Who signed", "tap:The patient"),
    ("Weight (kg)", "type:68"),
]

#: `eligible_male` on the suites' injected clock (`T0`).
ELIGIBLE_MALE = eligible_male()


def eligible_script(**answers: str) -> list[tuple[str, str]]:
    """`ELIGIBLE_MALE` with some answers replaced, keyed by question fragment."""
    unknown = set(answers) - {label for label, _ in ELIGIBLE_MALE}
    assert not unknown, unknown
    return [(label, answers.get(label, how)) for label, how in ELIGIBLE_MALE]


@pytest.fixture
def server() -> Iterator[FakeTelegram]:
    """The fake Bot API in a thread of its own, for tests that start `lysyme-bot` processes."""
    tg = FakeTelegram.start_in_thread()
    try:
        yield tg
    finally:
        tg.stop_thread()


# --- the two database backends (issue 16) ------------------------------------------------------

#: A PostgreSQL server the tests may use (CI starts one with scripts/throwaway-postgres and sets
#: this); without it, each xdist worker starts its own throw-away cluster.
POSTGRES_ENV = "LYSYME_TEST_POSTGRESQL"
THROWAWAY_POSTGRES = Path(__file__).resolve().parents[1] / "scripts" / "throwaway-postgres"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL server (superuser, trust): `LYSYME_TEST_POSTGRESQL`, or a
    throw-away cluster started for this test process and stopped at its end."""
    given = os.environ.get(POSTGRES_ENV, "").strip()
    if given:
        yield given
        return
    # mkdtemp, not tmp_path_factory: as root, the cluster belongs to the `postgres` user, who
    # must be able to enter the folder (pytest's base folder is closed to others).
    folder = tempfile.mkdtemp(prefix="lysyme-pg-")
    try:
        started = subprocess.run(
            [str(THROWAWAY_POSTGRES), "start", folder],
            capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        started = subprocess.CompletedProcess([], 2, "", str(exc))
    if started.returncode != 0:
        subprocess.run([str(THROWAWAY_POSTGRES), "stop", folder], capture_output=True)
        why = (started.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.fail(
            f"no PostgreSQL server for the tests ({why}): install PostgreSQL 15, or set "
            f"{POSTGRES_ENV}=postgresql://…",
            pytrace=False,
        )
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(THROWAWAY_POSTGRES), "stop", folder], capture_output=True)


def url_with_schema(server: str, schema: str) -> str:
    """`server` with every connection's search_path set to `schema` (libpq's `options`)."""
    parts = urllib.parse.urlsplit(server)
    query = urllib.parse.parse_qsl(parts.query)
    query = [(key, value) for key, value in query if key != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@contextlib.contextmanager
def private_schema(server: str) -> Iterator[str]:
    """A fresh, empty schema of its own on `server` (a URL that selects it), dropped after."""
    import psycopg

    schema = f"t_{secrets.token_hex(8)}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        pytest.fail(f"the PostgreSQL server for the tests cannot be used: {first}", pytrace=False)
    try:
        yield url_with_schema(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '20s'")  # a connection left open: fail, not hang
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_target(postgres_server_url: str) -> Iterator[str]:
    """A URL for a fresh, empty PostgreSQL schema of this test's own."""
    with private_schema(postgres_server_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a test's database lives, once per backend: a SQLite file (a Path), or a fresh
    PostgreSQL schema (a `postgresql://` URL string). What `open_database` and
    `LYSYME_DATABASE` accept. The PostgreSQL case is never skipped: without a server, it fails."""
    if request.param == "sqlite":
        yield tmp_path / "test.sqlite3"
        return
    # A bot on PostgreSQL keeps its heartbeat file in the working folder (bot/health.py):
    # the test's own, not the checkout's.
    request.getfixturevalue("monkeypatch").chdir(tmp_path)
    with private_schema(request.getfixturevalue("postgres_server_url")) as url:
        yield url


#: A test whose statements its neighbours already run on both backends, and which checks words,
#: routing or formatting: run on SQLite alone (`database_target` given one parameter). The
#: suite's time is spent on what differs between the backends.
sqlite_only = pytest.mark.parametrize("database_target", ["sqlite"], indirect=True)


def is_postgres(target: Path | str) -> bool:
    return is_postgres_url(target)


@pytest.fixture
async def replicas(
    postgres_target: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Database, Database]]:
    """Two replicas of the bot on one schema. Both run in this process: each is told apart in
    claims by its write connection's thread (one per replica), as two processes would be by
    their names."""
    monkeypatch.setattr(outbox, "this_process", lambda: f"replica-{threading.get_ident()}")
    first = await open_database(postgres_target)
    second = await open_database(postgres_target)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
