"""End-to-end fixtures: the real `Application` (built by `bot.app.build_application`) polling
the fake Bot API server over HTTP on 127.0.0.1, with a temp-file database and a settable clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.settings import Settings
from bot.telegram.polling import UpdatePoller
from tests.conftest import (  # noqa: F401 - re-exported to the tests
    ADMIN,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    FakeClock,
    eligible_male,
    make_settings,
    real_now,
)
from tests.e2e.fake_telegram import FakeTelegram

CLINICIAN = 2002
CLINICIAN_2 = 2003
COORDINATOR = 3003


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def settings_for(tg: FakeTelegram, db_path: Path, **extra: Any) -> Settings:
    """The shared test settings, pointed at the fake Bot API server."""
    values = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url, **extra}
    return make_settings(db_path, **values)


StartBot = Callable[..., Awaitable[Any]]


@pytest.fixture
async def start_bot(tg: FakeTelegram, tmp_path: Path, clock: FakeClock) -> AsyncIterator[StartBot]:
    """Start (and at teardown stop) a polling Application; callable again after a stop."""
    running: list[Any] = []

    async def start(**extra: Any) -> Any:
        app = build_application(settings_for(tg, tmp_path / "e2e.sqlite3", **extra), clock=clock)
        await app.initialize()
        await app.post_init(app)  # type: ignore[misc]
        await app.start()
        poller = UpdatePoller(app, timeout=1)  # as `lysyme-bot run` polls (bot/telegram/polling.py)
        poller.start()
        app.bot_data["poller"] = poller
        running.append(app)
        return app

    yield start
    for app in running:
        await stop_app(app)


async def stop_app(app: Any) -> None:
    if app.running:
        poller = app.bot_data.pop("poller", None)
        if poller is not None:
            await poller.stop()
        await app.stop()
        await app.post_stop(app)
        await app.post_shutdown(app)
        await app.shutdown()


async def add_user(tg: FakeTelegram, user_id: int, role: str) -> None:
    """Through the bot itself, as an admin would."""
    mark = tg.mark()
    tg.send_text(ADMIN, f"/adduser {user_id} {role}")
    await tg.wait_for_message(ADMIN, contains=f"{user_id}", after_index=mark)


class Clinician:
    """Drives a screening as a person would: tap a button or type, then wait for the reply."""

    def __init__(self, tg: FakeTelegram, user_id: int) -> None:
        self.tg = tg
        self.user_id = user_id

    async def command(self, text: str, expect: str | None = None) -> dict[str, Any]:
        mark = self.tg.mark()
        self.tg.send_text(self.user_id, text, language_code="en")
        call = await self.tg.wait_for_message(self.user_id, contains=expect, after_index=mark)
        await self.tg.wait_until_idle(quiet=0.05)
        return dict(call.result)

    def prompt(self) -> dict[str, Any]:
        """The newest bot message in this chat that still shows buttons."""
        for message in reversed(self.tg.sent_messages(self.user_id)):
            current = self.tg.message(self.user_id, message["message_id"])
            if current and current.get("reply_markup"):
                return current
        raise AssertionError("no message with buttons")

    async def next_prompt(self, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """`prompt()`, once the bot has shown one: on a busy machine its buttons may come a
        little after the last reply that `type`/`tap` waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                return self.prompt()
            except AssertionError:
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(0.02)  # polls the fake server's record; no clock is involved

    async def tap(self, label: str, expect: str | None = None) -> None:
        message = await self.next_prompt()
        mark = self.tg.mark()
        self.tg.press_button_text(self.user_id, self.user_id, message["message_id"], label)
        await self.tg.wait_for_call("answerCallbackQuery", after_index=mark)
        if expect is not None:
            await self.tg.wait_for_message(self.user_id, contains=expect, after_index=mark)
        await self.tg.wait_until_idle(quiet=0.05)

    async def type(self, text: str, expect: str | None = None) -> str:
        mark = self.tg.mark()
        self.tg.send_text(self.user_id, text, language_code="en")
        call = await self.tg.wait_for_message(self.user_id, contains=expect, after_index=mark)
        await self.tg.wait_until_idle(quiet=0.05)
        return str(call.result.get("text", ""))

    def last_text(self) -> str:
        return self.tg.last_text(self.user_id) or ""


async def answer_all(clinician: Clinician, answers: list[tuple[str, str]]) -> None:
    for label, how in answers:
        prompt = clinician.prompt()
        assert label.lower() in prompt["text"].lower(), (label, prompt["text"])
        kind, _, value = how.partition(":")
        if kind == "tap":
            await clinician.tap(value)
        else:
            await clinician.type(value)


async def screening_opened(tg: FakeTelegram, start_bot: StartBot) -> Clinician:
    """The bot started, a clinician added, and a first screening (HMN-001) opened."""
    await start_bot()
    await add_user(tg, CLINICIAN, "clinician")
    doc = Clinician(tg, CLINICIAN)
    await doc.command("/screen", expect="HMN-001")
    return doc


# --- a real `lysyme-bot run` process (the `server` fixture is in tests/conftest.py) ----------


#: libfaketime's settings: a suite run with the date moved (issue 20) moves its bots' too.
_CLOCK_VARIABLES = ("LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC", "FAKETIME_NO_CACHE")


def same_clock() -> dict[str, str]:
    """The variables that give a subprocess the test's own clock: under libfaketime (the suite
    run a year ahead, on 29/02/2028 …) the bot must read the date the test computed its typed
    dates from. Empty on a normal run."""
    return {name: os.environ[name] for name in _CLOCK_VARIABLES if name in os.environ}


def process_env(tg: FakeTelegram, workdir: Path, database: str = "bot.sqlite3",
                **extra: str) -> dict[str, str]:  # fmt: skip
    """The environment of a `lysyme-bot run` subprocess: nothing of the caller's but PATH and
    the clock (`same_clock`)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        **same_clock(),
        "HOME": str(workdir),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "LYSYME_DATABASE": str(workdir / database),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_TEAM_CHAT_ID": str(TEAM_CHAT),
        "LYSYME_LANGUAGE": "en",
        **extra,
    }


def replica_role(workdir: Path) -> str | None:
    """ "leader" or "standby", as a replica on PostgreSQL records it in the heartbeat file of
    its working folder (bot/health.py), or None before it has."""
    try:
        document = json.loads((workdir / "lysyme-health.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    role = document.get("role")
    return str(role) if role else None


def run_process(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """`lysyme-bot run` as a process of its own (stderr kept for the test to read)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
