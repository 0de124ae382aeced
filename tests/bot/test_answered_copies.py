"""Issue 26, every copy answered, and every way a reminder row ends named right in /reminders.

A follow-up question goes to the injecting clinician and the coordinators, every morning until
answered: once answered, every copy sent is edited to show the answer, who gave it and when,
without buttons; a press on another copy afterwards says it was already answered and changes
nothing; the log says "answered".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection
from telegram.error import Forbidden, TimedOut

from bot.common import Out
from bot.flows import injection, ownership, reminder_log
from storage import ownership as own_store
from storage import screenings as store
from tests.bot.test_injection import inject, who
from tests.bot.test_ownership import IdSend, person
from tests.bot.test_reminders import (
    CLINICIAN,
    COORDINATOR,
    OTHER_CLINICIAN,
    PARIS,
    TEAM,
    Env,
    local,
    make_env,
    screen_patient,
)
from tests.conftest import T0

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

_DAY = T0.astimezone(PARIS).date()
ADMISSION = _DAY


def on(days: int, hour: int, minute: int = 0) -> dt.datetime:
    day = ADMISSION + dt.timedelta(days=days)
    return local(day.year, day.month, day.day, hour, minute)


def shown(moment: dt.datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, on(0, 10))
    environment.send = IdSend()

    def names(conn: Connection) -> None:
        for user_id, name in ((CLINICIAN, "Alice"), (OTHER_CLINICIAN, "Bruno"),
                              (COORDINATOR, "Chloé")):  # fmt: skip
            own_store.set_display_name(conn, user_id, name)

    await environment.ctx.db.write(names)
    yield environment
    await environment.ctx.db.close()


def copies_of(env: Env, question: str) -> list[tuple[int, int, Any]]:
    """(chat, message id, message) of each copy of a follow-up question sent so far."""
    send: Any = env.send
    found = []
    for message_id, (chat, text) in send.message_ids.items():
        if question in text:
            (message,) = [m for m in env.send.to(chat) if m.text == text][:1]
            found.append((chat, message_id, message))
    return found


async def log_of(env: Env, number: str = "HMN-001") -> str:
    (out,) = await reminder_log.reminders(env.ctx, person(COORDINATOR), [number])
    return out.text


async def test_an_answered_follow_up_reads_as_answered_on_every_copy(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(on(1, 10))
    await inject(env)
    await env.sweep(on(8, 8))  # D0 + 7: to the clinician and the coordinator
    await env.sweep(on(9, 8))  # not answered: asked again
    copies = copies_of(env, "Re-epithelialisation")
    assert sorted(chat for chat, _, _ in copies) == [CLINICIAN, CLINICIAN, COORDINATOR,
                                                     COORDINATOR]  # fmt: skip
    mine = max(m for chat, m, _ in copies if chat == CLINICIAN)
    yes = next(b.data for row in copies[-1][2].buttons for b in row if b.data.endswith(":yes"))
    no = yes.removesuffix(":yes") + ":no"
    answered_at = env.clock.set(on(9, 9, 12))
    outs = await injection.follow_up_button(env.ctx, who(CLINICIAN, message_id=mine), yes)
    edits = {(o.chat_id, o.edit): o for o in outs if o.edit is not None}
    # Every copy (his own pressed one first), edited to show the answer, who, when; no buttons.
    assert outs[0].edit == mine
    assert set(edits) == {(chat, m) for chat, m, _ in copies}
    assert len(edits) == 4
    for edit in edits.values():
        assert f"✅ Answered: <b>Yes</b> — Alice, {shown(answered_at)}" in edit.text, edit.text
        assert "Re-epithelialisation" in edit.text and edit.buttons == []
    # The log says answered, by whom and when; tomorrow's questions are cancelled as answered.
    text = await log_of(env)
    assert text.count(f"answered by Alice {shown(answered_at)}") == 4
    assert "cancelled: question answered" in text
    follow_ups = [line for line in text.split("\n") if line.startswith("• follow-up")]
    assert follow_ups
    assert not [line for line in follow_ups if "injection recorded" in line]
    # The coordinator presses "No" on his copy afterwards: already answered, nothing changes.
    coordinator_copy = max(m for chat, m, _ in copies if chat == COORDINATOR)
    again = await injection.follow_up_button(
        env.ctx, who(COORDINATOR, message_id=coordinator_copy), no
    )
    assert again[0] == Out("", toast="Already recorded: Yes. Corrections go through /correct.")
    assert [o.edit for o in again[1:]] == [coordinator_copy] and again[1].buttons == []
    answers = await env.ctx.db.read(store.current_answers, s.id)
    assert json.loads(answers["follow_up:reepithelialisation_d7"]) == "yes"
    assert await log_of(env) == text  # nothing changed
    env.send.clear()
    await env.sweep(on(10, 8))
    assert not [m for m in env.send.sent if "Re-epithelialisation" in m.text]


async def test_a_typed_discharge_date_edits_every_copy_of_the_question(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(on(1, 10))
    await inject(env)
    await env.sweep(on(31, 8))  # D0 + 30
    copies = copies_of(env, "discharge")
    data = next(b.data for row in copies[0][2].buttons for b in row if b.data.endswith(":date"))
    env.clock.set(on(31, 9))
    await injection.follow_up_button(env.ctx, who(COORDINATOR, message_id=copies[0][1]), data)
    day = (ADMISSION + dt.timedelta(days=29)).strftime("%d/%m/%Y")
    outs = await injection.fu_date_text(env.ctx, who(COORDINATOR), day)
    edits = [o for o in outs if o.edit is not None]
    assert sorted((o.chat_id, o.edit) for o in edits) == sorted((c, m) for c, m, _ in copies)
    assert all(f"Answered: <b>{day}</b> — Chloé" in o.text for o in edits)


# --- /reminders: every way a row ends ---------------------------------------------------------


async def test_reminders_names_the_cause_of_every_way_a_row_ends(env: Env) -> None:
    """One patient walked through each path; each row's line names what happened to it."""
    a = await screen_patient(env.ctx, env.clock.now, ADMISSION)  # HMN-001: taken, planned, injected
    b = await screen_patient(env.ctx, env.clock.now, ADMISSION, clinician=OTHER_CLINICIAN)
    c = await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending")
    await env.sweep()  # the outcome notices: sent
    # Down all of day 1 until 08:00 on day 2: day 1's steps are superseded by day 2's.
    env.send.always_fail[OTHER_CLINICIAN] = Forbidden("Forbidden: bot was blocked by the user")
    read_timeout = TimedOut()
    read_timeout.__cause__ = httpx.ReadTimeout("read")
    env.send.fail[COORDINATOR] = [read_timeout]
    await env.sweep(on(2, 8))
    await env.sweep(on(2, 8, 30))  # late: sent more than 15 min after its time
    env.clock.set(on(2, 9))
    # HMN-001: taken ("I'm on it" on the private reminder), planned, re-planned, injected.
    await ownership.ownership_button(env.ctx, person(CLINICIAN, message_id=0), _take(env, a.id))
    for typed in ("14:30", "15:30"):
        assert await _plan(env, a.id)
        await ownership.plan_text(env.ctx, person(CLINICIAN), typed)
    env.clock.set(on(2, 16))
    await inject(env, a.number)
    # HMN-002: withdrawn.
    await injection.withdraw(env.ctx, who(OTHER_CLINICIAN), [b.number, "family", "refused"])
    await injection.withdraw_button(env.ctx, who(OTHER_CLINICIAN), f"w:{b.id}:ok")
    # HMN-003 (pending): the window closes.
    await env.sweep(on(4, 8))
    # HMN-001: the D0 + 7 question answered the first morning.
    await env.sweep(on(9, 8))
    question = copies_of(env, "Re-epithelialisation")[0]
    yes = next(b.data for row in question[2].buttons for b in row if b.data.endswith(":yes"))
    env.clock.set(on(9, 8, 30))
    await injection.follow_up_button(env.ctx, who(CLINICIAN, message_id=question[1]), yes)

    first, second, third = (
        await log_of(env),
        await log_of(env, b.number),
        await log_of(env, c.number),
    )
    expectations = {
        "sent": (first, f"→ team — sent {shown(on(0, 10))}"),
        "sent late": (first, "late (due"),
        "superseded": (first, "skipped: superseded by a later step"),
        "on the board": (first, "skipped: on the morning board"),
        "acknowledged": (first, "acknowledged by Alice"),
        "answered": (first, f"answered by Alice {shown(on(9, 8, 30))}"),
        "question answered": (first, "cancelled: question answered"),
        "acknowledged escalation": (first, "cancelled: acknowledged"),
        "re-planned": (first, "cancelled: injection re-planned"),
        "injection recorded": (first, "cancelled: injection recorded"),
        "withdrawn": (second, "cancelled: patient withdrawn"),
        "failed": (second, "failed: Telegram: Forbidden: bot was blocked by the user"),
        "fate unknown": (first + second + third, "fate unknown"),
        "window closed": (third, "cancelled: D0 window closed"),
    }
    for path, (text, line) in expectations.items():
        assert line in text, (path, text)
    # An answered question's rows never read as cancelled by the injection.
    follow_ups = [line for line in first.split("\n") if line.startswith("• follow-up")]
    assert follow_ups and not [line for line in follow_ups if "injection recorded" in line]
    assert TEAM < 0


def _take(env: Env, screening_id: int) -> str:
    """The "I'm on it" data of the newest private reminder of this patient."""
    for message in reversed(env.send.to(CLINICIAN)):
        for row in message.buttons:
            for button in row:
                if button.data.startswith(f"o:{screening_id}:") and button.data.endswith(":t"):
                    return button.data
    raise AssertionError("no private reminder with buttons")


async def _plan(env: Env, screening_id: int) -> bool:
    data = _take(env, screening_id).removesuffix(":t") + ":p"
    outs = await ownership.ownership_button(env.ctx, person(CLINICIAN, message_id=0), data)
    return any("when is the injection planned" in o.text for o in outs)
