"""Issue 26, loud when it matters, as sent: the sender asks the core (conversations/loudness.py)
from the row's kind and step, so an urgent step sent late at night by a catch-up rings; a
restart's offer to resume a screening does not ring at night.

The scenario of the soak: the bot was down from 07:58 to 22:30 on a patient's last day; at
22:35 the 20:00 step goes out, late, with 1 h 24 min left — with sound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection

from bot import app as bot_app
from bot.common import Button
from bot.flows.screening import SCREEN_MODE
from bot.reminders import delivery as reminder_delivery
from bot.reminders import sweep
from storage import screenings as store
from tests.bot.test_reminders import (
    ADMIN,
    CLINICIAN,
    COORDINATOR,
    PARIS,
    TEAM,
    Env,
    local,
    make_env,
    reminder_rows,
    screen_patient,
)
from tests.conftest import T0

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

_DAY = T0.astimezone(PARIS).date()
ADMISSION = _DAY
LAST_DAY = _DAY + dt.timedelta(days=3)


def on(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return local(day.year, day.month, day.day, hour, minute)


@dataclass
class Heard:
    chat_id: int
    text: str
    silent: bool


@dataclass
class Recording:
    """A `send` that notes whether each message went silent (the sender's `SILENT`)."""

    heard: list[Heard] = field(default_factory=list)

    async def __call__(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int:
        self.heard.append(Heard(chat_id, text, reminder_delivery.SILENT.get()))
        return len(self.heard)


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, on(ADMISSION, 10))
    yield environment
    await environment.ctx.db.close()


async def test_the_last_days_20h_step_caught_up_at_22_35_rings(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    send = Recording()
    for day in range(1, 3):  # the first two days go by as usual
        for hour in (8, 10):
            await sweep.sweep(env.ctx, on(ADMISSION + dt.timedelta(days=day), hour), send)
    await sweep.sweep(env.ctx, on(LAST_DAY, 7, 58), send)
    send.heard.clear()
    # Down from 07:58 to 22:30; the first sweep after the restart at 22:35.
    await sweep.sweep(env.ctx, on(LAST_DAY, 22, 35), send)
    (team,) = [h for h in send.heard if h.chat_id == TEAM and not h.text.startswith("☀️")]
    (owner,) = [h for h in send.heard if h.chat_id == CLINICIAN]
    for step in (team, owner):
        assert "HMN-001" in step.text and "1 h 24 min left" in step.text, step.text
        assert "sent late" in step.text
        assert not step.silent  # the window closes within the hour and a half: it rings
    # The morning board, caught up too, is nothing to act on at night: silent.
    (board,) = [h for h in send.heard if h.chat_id == TEAM and h.text.startswith("☀️")]
    assert board.silent
    # The coordinators' and admins' 14:00 escalation, late as well: it rings.
    for chat in (COORDINATOR, ADMIN):
        assert any("URGENT" in h.text and not h.silent for h in send.heard if h.chat_id == chat)
    # Only the latest step of each kind went out: the 14:00 step and the morning's are skipped.
    sent = {(r["step"], r["recipient"]): r["state"] for r in await reminder_rows(env.ctx, s.id)
            if r["kind"] == "d0_window"}  # fmt: skip
    assert sent[("last_day_evening", "team")] == "sent"
    assert sent[("last_day_afternoon", "team")] == "skipped"


async def test_a_step_nobody_must_act_on_at_night_is_silent_even_on_time(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending")
    send = Recording()
    await sweep.sweep(env.ctx, env.clock.now, send)
    assert send.heard and not any(h.silent for h in send.heard)  # 10:00: every message rings
    send.heard.clear()
    # Down from the evening before until 22:35 on day 1: the day's pending list and
    # reminders go out late, silent (nothing urgent yet).
    await sweep.sweep(env.ctx, on(ADMISSION + dt.timedelta(days=1), 22, 35), send)
    assert send.heard and all(h.silent for h in send.heard), send.heard
    assert s.number == "HMN-001"


# --- a restart at night -----------------------------------------------------------------------


@dataclass
class FakeBot:
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def send_message(self, chat_id: int, text: str, **options: Any) -> SimpleNamespace:
        self.calls.append({"chat_id": chat_id, "text": text, **options})
        return SimpleNamespace(message_id=len(self.calls))


async def open_screening(env: Env) -> None:
    def open_(conn: Connection) -> None:
        s = store.create_screening(conn, site="HMN", clinician_id=CLINICIAN,
                                   chat_id=CLINICIAN, now=env.clock.now,
                                   first_question="index_date")  # fmt: skip
        store.set_session(conn, CLINICIAN, CLINICIAN, s.id, SCREEN_MODE, env.clock.now)

    await env.ctx.db.write(open_)


@pytest.mark.parametrize(("hour", "minute", "silent"), [(22, 35, True), (3, 10, True),
                                                        (9, 0, False)])  # fmt: skip
async def test_the_offer_to_resume_after_a_restart_rings_by_day_only(
    env: Env, hour: int, minute: int, silent: bool
) -> None:
    await open_screening(env)
    env.clock.set(on(ADMISSION + dt.timedelta(days=1), hour, minute))
    bot = FakeBot()
    await bot_app._offer_resume(SimpleNamespace(bot=bot), env.ctx)  # type: ignore[arg-type]
    notice, question = bot.calls
    assert "The bot restarted: resuming screening" in notice["text"]
    assert notice["disable_notification"] is silent
    assert question["disable_notification"] is silent
