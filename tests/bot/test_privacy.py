"""No leaks: a whole screening over a real HTTP Bot API exchange (httpx, URLs carrying the
token) with every logger at DEBUG after production's `configure_logging` — no answer value and
no token in any log record; the team chat gets no answer value; the database, its WAL and its
backups are readable by their owner only, whatever the umask."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_application, configure_logging
from bot.backups import run_backup
from bot.common import Context
from bot.telegram.polling import UpdatePoller
from storage.backup import backup_database
from tests.conftest import day, eligible_script
from tests.e2e.conftest import (
    ADMIN,
    CLINICIAN,
    TEAM_CHAT,
    Clinician,
    FakeClock,
    add_user,
    answer_all,
    settings_for,
    stop_app,
)
from tests.e2e.fake_telegram import FakeTelegram

TOKEN = "7654321:AAH-privacy-SECRET_token-0123456789abcdef"

#: The answers typed or tapped, chosen so that each is recognisable in a log line.
SCREENING = eligible_script(
    **{
        "Age (years)": "type:63",
        "Ward": "tap:Dermatology",
        "body surface area": "type:37,5 %",
        "Weight (kg)": "type:71,4",
    }
)
HEART_RATE = "131"
#: Every form in which those answers (and what is computed from them) could show up.
VALUES = [
    day(-2), "2026-11-19", day(-1), "2026-11-20", "63", "37,5", "37.5", "71,4",
    "71.4", HEART_RATE, "142800000", "142.8", "Dermatology", "dermatology",
]  # fmt: skip
SECRETS = [TOKEN, TOKEN.split(":", 1)[1]]


def leaks(text: str) -> list[str]:
    found = [s for s in SECRETS if s in text]
    for value in VALUES:
        if re.search(rf"(?<![\w.,/-]){re.escape(value)}(?![\w.,/-])", text):
            found.append(value)
    return found


def record_text(record: logging.LogRecord) -> str:
    parts = [record.name, record.getMessage()]
    if record.exc_info and record.exc_info[1] is not None:
        parts.extend(traceback.format_exception(record.exc_info[1]))
    return " ".join(parts)


@pytest.fixture
def production_logging() -> Iterator[None]:
    """`configure_logging` as `lysyme-bot run` does (at DEBUG here), restored afterwards."""
    manager = logging.Logger.manager
    saved = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    configure_logging(logging.DEBUG)
    yield
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(saved.get(name, logging.NOTSET))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A careless umask: the modes checked below must not come from it."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_modes(db_path: Path) -> dict[str, int]:
    """Mode of the database file and of its -wal / -shm companions that exist."""
    files = {suffix: Path(f"{db_path}{suffix}") for suffix in ("", "-wal", "-shm")}
    return {suffix: mode(path) for suffix, path in files.items() if path.exists()}


async def test_a_whole_screening_leaks_no_answer_and_no_token(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    production_logging: None,
    open_umask: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC))
    db_path = tmp_path / "data" / "bot.sqlite3"
    db_path.parent.mkdir()  # LYSYME_DATABASE's folder must exist (no silent creation)
    async with FakeTelegram(token=TOKEN) as tg:
        settings = settings_for(tg, db_path, LYSYME_BACKUP_DIR=str(tmp_path / "backups"))
        app = build_application(settings, clock=clock)
        await app.initialize()
        await app.post_init(app)  # type: ignore[misc]
        await app.start()
        app.bot_data["poller"] = poller = UpdatePoller(app, timeout=1)
        poller.start()
        try:
            await add_user(tg, CLINICIAN, "clinician")
            doc = Clinician(tg, CLINICIAN)
            await doc.command("/screen", expect="HMN-001")
            await answer_all(doc, SCREENING)
            await doc.tap("Confirm", expect="all criteria are met")
            assert "142.8 × 10⁶ cells" in tg.last_text(CLINICIAN) or any(
                "142.8 × 10⁶" in m.get("text", "") for m in tg.sent_messages(CLINICIAN)
            )
            await tg.wait_for_message(TEAM_CHAT, contains="HMN-001")  # the outcome notice
            await doc.type(HEART_RATE, expect="urea")
            await doc.type("not a number", expect="urea")  # an error path, logged or not
            await tg.wait_until_idle(quiet=0.1)

            # The database and its WAL: owner only, even with umask 0.
            modes = database_modes(db_path)
            assert modes[""] == 0o600 and modes["-wal"] == 0o600, modes
            assert modes.get("-shm", 0o600) == 0o600
            # A backup, automatic or by hand: owner only.
            ctx: Context = app.bot_data["ctx"]
            automatic = await run_backup(ctx, clock.now + dt.timedelta(hours=18))
            assert mode(automatic) == 0o600
            by_hand = await backup_database(db_path, tmp_path / "by-hand.sqlite3")
            assert mode(by_hand) == 0o600
        finally:
            await stop_app(app)

        # The team chat receives notices only: never an answer value.
        assert tg.sent_messages(TEAM_CHAT)
        for message in tg.sent_messages(TEAM_CHAT):
            text = str(message.get("text", "") or message.get("caption", ""))
            assert not leaks(text), (leaks(text), text)
        # The admins' messages (access notices) carry no answer either.
        for message in tg.sent_messages(ADMIN):
            assert not leaks(str(message.get("text", ""))), message

    # The HTTP exchange did happen with the token in its URLs…
    assert any(call.method == "getUpdates" for call in tg.calls())
    # …and yet no log record, at any level, of any logger, carries it or an answer.
    assert caplog.records, "nothing was logged at all: the check would be empty"
    assert any(r.name.startswith("lysyme") for r in caplog.records)
    offending = [(r.name, r.levelname, leaks(record_text(r))) for r in caplog.records]
    offending = [entry for entry in offending if entry[2]]
    assert not offending, offending[:5]
    assert mode(db_path) == 0o600


def test_production_logging_silences_the_libraries_that_print_data(
    production_logging: None,
) -> None:
    """httpx logs URLs (token), PTB's DEBUG prints whole updates (answers)."""
    for name in ("httpx", "httpcore", "telegram", "telegram.ext"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
