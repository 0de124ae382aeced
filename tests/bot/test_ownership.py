"""Issue 14 on the injected clock: "I'm on it" / planned time / "Not injecting" buttons on D0
reminders, escalation rows in the outbox, unreachable users, unknown deliveries, /reminders.

Same harness as test_reminders.py (real SQLite file, FakeClock, fake `send`); the fake send
here returns message ids, as Telegram does, so the team message can be edited in place.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import Forbidden, TimedOut

from bot.common import Actor, Button, Out
from bot.flows import ownership, reminder_log
from storage import ownership as own_store
from storage.sql import fetch_all
from storage.users import User
from tests.bot.test_reminders import (
    ADMIN,
    CLINICIAN,
    COORDINATOR,
    OTHER_CLINICIAN,
    TEAM,
    Env,
    FakeSend,
    audit_rows,
    local,
    make_env,
    reminder_rows,
    screen_patient,
)
from tests.conftest import sqlite_only

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMISSION = dt.date(2026, 11, 20)  # window: 21, 22, 23/11; deadline 23/11 23:59
NAMES = {CLINICIAN: "Alice", OTHER_CLINICIAN: "Bruno", COORDINATOR: "Chloé", ADMIN: "Dan"}
ROLES = {CLINICIAN: "clinician", OTHER_CLINICIAN: "clinician", COORDINATOR: "coordinator",
         ADMIN: "admin"}  # fmt: skip


@dataclass
class IdSend(FakeSend):
    """Returns a message id per message, like sendMessage."""

    ids: Any = field(default_factory=lambda: itertools.count(500))
    message_ids: dict[int, tuple[int, str]] = field(default_factory=dict)

    async def __call__(self, chat_id: int, text: str, buttons: list[list[Button]]) -> int:
        await super().__call__(chat_id, text, buttons)
        message_id = next(self.ids)
        self.message_ids[message_id] = (chat_id, text)
        return message_id


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, local(2026, 11, 20, 10))
    environment.send = IdSend()
    yield environment
    await environment.ctx.db.close()


_updates = itertools.count(1)


def person(user_id: int, *, chat_id: int | None = None, message_id: int | None = None) -> Actor:
    chat = user_id if chat_id is None else chat_id
    return Actor(user_id=user_id, chat_id=chat, private=chat == user_id,
                 user=User(user_id, frozenset({ROLES[user_id]}), "en"), telegram_language="en",
                 update_id=next(_updates), message_id=message_id, first_name=NAMES[user_id])  # fmt: skip


def buttons_of(env: Env, chat_id: int) -> list[Button]:
    message = env.send.to(chat_id)[-1]
    return [b for row in message.buttons for b in row]


def button(env: Env, chat_id: int, label: str) -> tuple[str, int]:
    """(callback data, message id) of a button of the newest message in that chat."""
    data = next(b.data for b in buttons_of(env, chat_id) if label in b.label)
    send: Any = env.send
    message_id = max(m for m, (chat, _) in send.message_ids.items() if chat == chat_id)
    return data, message_id


async def press(env: Env, user_id: int, chat_id: int, label: str) -> list[Out]:
    data, message_id = button(env, chat_id, label)
    return await ownership.ownership_button(
        env.ctx, person(user_id, chat_id=chat_id, message_id=message_id), data
    )


async def escalations(env: Env, screening_id: int) -> list[Any]:
    return [r for r in await reminder_rows(env.ctx, screening_id) if r["kind"] == "escalation"]


async def notes(env: Env) -> dict[int, Any]:
    rows = await env.ctx.db.read(fetch_all, "SELECT * FROM reminder_notes")
    return {r["reminder_id"]: r for r in rows}


async def to_day_one_morning(env: Env) -> Any:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()  # the team notice of the outcome
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 8))
    return s


# --- acknowledgement and escalation ---------------------------------------------------------


def board_message(env: Env) -> Any:
    """The newest morning board the team group received."""
    return [m for m in env.send.to(TEAM) if m.plain.startswith("☀️")][-1]


async def test_the_team_gets_one_morning_board_not_a_message_per_patient(env: Env) -> None:
    first = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await screen_patient(env.ctx, env.clock.now, ADMISSION, clinician=OTHER_CLINICIAN)
    await env.sweep()  # the team notices of the two outcomes
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 8))
    (board,) = env.send.to(TEAM)  # one message for the team, not one per patient
    assert board.plain.startswith("☀️") and "HMN-001" in board.plain and "HMN-002" in board.plain
    labels = [[b.label for b in row] for row in board.buttons]
    assert labels == [["✋ HMN-001", "🗓 HMN-001", "🚫 HMN-001"],
                      ["✋ HMN-002", "🗓 HMN-002", "🚫 HMN-002"]]  # fmt: skip
    assert "✋ I'm on it · 🗓 Injection planned… · 🚫 Not injecting" in board.plain
    assert all(len(b.data.encode()) <= 64 for row in board.buttons for b in row)
    # The private morning reminders stay one per patient, with their three buttons.
    for chat in (CLINICIAN, OTHER_CLINICIAN):
        (private,) = env.send.to(chat)
        assert [b.label for row in private.buttons for b in row] == [
            "✋ I'm on it", "🗓 Injection planned…", "🚫 Not injecting"]  # fmt: skip
    # The team's own rows of that step are in the log, "on the board", not sent.
    (team_row,) = [r for r in await reminder_rows(env.ctx, first.id)
                   if r["recipient"] == "team" and r["step"] == "day_1"]  # fmt: skip
    assert (team_row["state"], team_row["last_error"]) == ("skipped", "on the board")
    (text,) = [
        o.text for o in await reminder_log.reminders(env.ctx, person(COORDINATOR), ["HMN-001"])
    ]
    assert "D0 window · day 1, 08:00 → team — skipped: on the morning board" in text
    assert "morning board · 21/11/2026 → team — sent 21/11/2026 08:00" in text


async def test_im_on_it_on_the_board_edits_the_board_and_moves_the_reminders(env: Env) -> None:
    s = await to_day_one_morning(env)
    env.clock.set(local(2026, 11, 21, 9, 15))
    outs = await press(env, OTHER_CLINICIAN, TEAM, "✋ HMN-001")
    assert outs[0].toast == "You are on HMN-001. Its reminders now come to you privately."
    _, board_id = button(env, TEAM, "✋ HMN-001")
    (board_edit,) = [o for o in outs if o.chat_id == TEAM and o.edit is not None]
    assert board_edit.edit == board_id  # the board itself, edited in place
    assert "HMN-001" in board_edit.text and "Bruno" in board_edit.text
    assert [b.label for b in board_edit.buttons[0]] == ["✋ HMN-001", "🗓 HMN-001", "🚫 HMN-001"]
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 10))
    assert env.send.to(COORDINATOR) == []  # acknowledged: no escalation
    (day_one,) = [r for r in await escalations(env, s.id) if r["step"] == "unacknowledged_1"]
    assert day_one["state"] == "cancelled"
    taken = await audit_rows(env.ctx, "owner_taken")
    assert [(a["actor"], a["new_value"]) for a in taken] == [(str(OTHER_CLINICIAN),) * 2]
    # The next morning: the owner gets the private reminder; the team a new board naming him.
    env.send.clear()
    await env.sweep(local(2026, 11, 22, 8))
    assert len(env.send.to(OTHER_CLINICIAN)) == 1 and env.send.to(CLINICIAN) == []
    (board,) = env.send.to(TEAM)
    assert "Bruno" in board.plain and board.plain.startswith("☀️")


async def test_board_callback_data_is_checked_against_the_database(env: Env) -> None:
    s = await to_day_one_morning(env)
    data, message_id = button(env, TEAM, "✋ HMN-001")
    _, sid, rid, _action = data.split(":")
    for forged in (f"o:{int(sid) + 1}:{rid}:t", f"o:{sid}:{int(rid) + 99}:t", f"o:{sid}:{rid}:x"):
        outs = await ownership.ownership_button(
            env.ctx, person(CLINICIAN, chat_id=TEAM, message_id=message_id), forged
        )
        assert outs == [Out("", toast="This reminder is no longer active.")], forged
    assert (await env.ctx.db.read(own_store.get_loop, s.id)).owner_id is None


async def test_the_board_is_posted_once_a_day_even_after_downtime(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    env.send.clear()
    # Down all of the 21st, back at 09:30 on the 22nd: that day's board, late, once.
    await env.sweep(local(2026, 11, 22, 9, 30))
    for minutes in (1, 30, 240):
        await env.sweep(local(2026, 11, 22, 9, 30) + dt.timedelta(minutes=minutes))
    (board,) = env.send.to(TEAM)
    assert board.plain.startswith("☀️ Open patients — 22/11/2026")
    assert len(env.send.to(CLINICIAN)) == 1  # the private reminder, latest step only
    boards = {r["step"]: (r["state"], r["last_error"]) for r in await reminder_rows(env.ctx)
              if r["kind"] == "board"}  # fmt: skip
    assert boards == {"2026-11-21": ("skipped", "superseded by a later step"),
                      "2026-11-22": ("sent", None), "2026-11-23": ("scheduled", None)}  # fmt: skip
    env.send.clear()
    await env.sweep(local(2026, 11, 23, 8))
    assert len([m for m in env.send.to(TEAM) if m.plain.startswith("☀️")]) == 1


async def test_urgent_steps_stay_separate_team_messages_with_buttons(env: Env) -> None:
    await to_day_one_morning(env)
    await env.sweep(local(2026, 11, 23, 8))
    env.send.clear()
    await env.sweep(local(2026, 11, 23, 14))
    (urgent,) = [m for m in env.send.to(TEAM)]
    assert "HMN-001" in urgent.plain and "last day" in urgent.plain
    assert "✋ I'm on it" in [b.label for row in urgent.buttons for b in row]


async def test_acknowledgement_on_a_private_reminder_stops_the_escalation(env: Env) -> None:
    s = await to_day_one_morning(env)
    env.clock.set(local(2026, 11, 21, 9, 15))
    outs = await press(env, CLINICIAN, CLINICIAN, "I'm on it")
    private_edit = next(o for o in outs if o.chat_id == CLINICIAN and o.edit is not None)
    assert "Taken by <b>Alice</b> (21/11/2026 09:15)" in private_edit.text
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 10))
    assert env.send.to(COORDINATOR) == []
    (day_one,) = [r for r in await escalations(env, s.id) if r["step"] == "unacknowledged_1"]
    assert (await notes(env))[day_one["id"]]["cancelled_by"] == "acknowledgement"


async def test_no_acknowledgement_escalates_exactly_once(env: Env) -> None:
    s = await to_day_one_morning(env)
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 9, 59))
    assert env.send.to(COORDINATOR) == []
    await env.sweep(local(2026, 11, 21, 10))
    (message,) = env.send.to(COORDINATOR)
    assert "HMN-001" in message.plain and "no answer by 10:00" in message.plain
    assert env.send.to(ADMIN) == []  # not urgent: the coordinators only
    for minutes in (1, 30, 120):
        await env.sweep(local(2026, 11, 21, 10) + dt.timedelta(minutes=minutes))
    assert len(env.send.to(COORDINATOR)) == 1
    sent = [r for r in await escalations(env, s.id) if r["state"] == "sent"]
    assert [r["step"] for r in sent] == ["unacknowledged_1"]


async def test_last_day_without_a_plan_is_urgent_for_coordinators_and_admins(env: Env) -> None:
    await to_day_one_morning(env)
    env.send.clear()
    await env.sweep(local(2026, 11, 23, 14))
    for chat in (COORDINATOR, ADMIN):
        assert any("URGENT — HMN-001" in m.plain for m in env.send.to(chat)), chat


async def test_ownership_taken_over_is_audited_and_moves_the_private_reminders(env: Env) -> None:
    s = await to_day_one_morning(env)
    await press(env, CLINICIAN, TEAM, "✋ HMN-001")
    await press(env, OTHER_CLINICIAN, CLINICIAN, "I'm on it")  # pressed on a forwarded copy
    takeover = await audit_rows(env.ctx, "owner_takeover")
    assert [(a["old_value"], a["new_value"]) for a in takeover] == [
        (str(CLINICIAN), str(OTHER_CLINICIAN))
    ]
    loop = await env.ctx.db.read(own_store.get_loop, s.id)
    assert loop.owner_id == OTHER_CLINICIAN
    env.send.clear()
    await env.sweep(local(2026, 11, 22, 8))
    assert [m.chat_id for m in env.send.sent if m.chat_id > 0] == [OTHER_CLINICIAN]


async def test_callback_data_is_checked_against_the_database(env: Env) -> None:
    s = await to_day_one_morning(env)
    data, message_id = button(env, CLINICIAN, "I'm on it")
    _, sid, rid, _action = data.split(":")
    for forged in (f"o:{int(sid) + 1}:{rid}:t", f"o:{sid}:{int(rid) + 99}:t", f"o:{sid}:{rid}:x",
                   "o:1", "o:a:b:t"):  # fmt: skip
        outs = await ownership.ownership_button(
            env.ctx, person(CLINICIAN, message_id=message_id), forged
        )
        assert outs == [Out("", toast="This reminder is no longer active.")], forged
    outs = await ownership.ownership_button(
        env.ctx, person(COORDINATOR, chat_id=TEAM, message_id=message_id), data
    )
    assert outs == [Out("", toast="For clinicians only.")]
    assert (await env.ctx.db.read(own_store.get_loop, s.id)).owner_id is None


# --- planned time ---------------------------------------------------------------------------


async def plan(env: Env, user_id: int, text: str) -> list[Out]:
    outs = await press(env, user_id, TEAM, "🗓 HMN-001")
    assert any(o.chat_id == user_id and "when is the injection planned" in o.text for o in outs)
    return await ownership.plan_text(env.ctx, person(user_id), text)


async def test_planned_time_reminds_the_owner_then_reports_when_it_passes(env: Env) -> None:
    s = await to_day_one_morning(env)
    env.clock.set(local(2026, 11, 21, 9))
    outs = await plan(env, CLINICIAN, "14:30")
    assert "injection planned for <b>21/11/2026 14:30</b>" in outs[0].text
    team_edit = next(o for o in outs if o.chat_id == TEAM and o.edit is not None)
    assert "planned 21/11/2026 14:30" in team_edit.text  # the board
    planned = await audit_rows(env.ctx, "d0_planned")
    assert planned[0]["new_value"].startswith("2026-11-21T13:30")
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 10))
    assert env.send.to(COORDINATOR) == []  # a plan answers the morning reminder
    await env.sweep(local(2026, 11, 21, 13, 30))
    (before,) = env.send.to(CLINICIAN)
    assert "in one hour" in before.plain
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 15, 30))  # planned time + 1 h, no /d0
    for chat in (CLINICIAN, COORDINATOR):
        (passed,) = env.send.to(chat)
        assert "planned at 21/11/2026 14:30 is not recorded" in passed.plain
    states = {r["step"]: r["state"] for r in await escalations(env, s.id)}
    assert states["before_planned"] == "sent" and states["unacknowledged_1"] == "cancelled"


async def test_a_new_plan_cancels_the_old_plan_steps(env: Env) -> None:
    s = await to_day_one_morning(env)
    env.clock.set(local(2026, 11, 21, 9))
    await plan(env, CLINICIAN, "14:30")
    await plan(env, OTHER_CLINICIAN, "22/11 09:00")
    rows = await escalations(env, s.id)
    old = [r for r in rows if r["state"] == "cancelled" and r["step"] == "before_planned"]
    assert len(old) == 1 and (await notes(env))[old[0]["id"]]["cancelled_by"] == "re-planned"
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 16))
    assert env.send.sent == []  # the old plan says nothing any more


@sqlite_only
@pytest.mark.parametrize(
    ("typed", "expected"),
    [("tomorrow", "is not a time"), ("21/11 08:00", "has passed"),
     ("24/11 09:00", "after the D0 deadline")],
)  # fmt: skip
async def test_a_wrong_planned_time_is_refused_in_words(
    env: Env, typed: str, expected: str
) -> None:
    await to_day_one_morning(env)
    env.clock.set(local(2026, 11, 21, 9))
    outs = await plan(env, CLINICIAN, typed)
    assert expected in outs[0].text
    assert await audit_rows(env.ctx, "d0_planned") == []


async def test_not_injecting_asks_the_reason_then_withdraws(env: Env) -> None:
    s = await to_day_one_morning(env)
    outs = await press(env, CLINICIAN, TEAM, "🚫 HMN-001")
    assert any(o.chat_id == CLINICIAN and "type the reason" in o.text for o in outs)
    replies = await ownership.not_injecting_text(env.ctx, person(CLINICIAN), "family refused")
    rows = await reminder_rows(env.ctx, s.id)
    withdrawn = await audit_rows(env.ctx, "withdrawal")
    # /withdraw's own entry answers: done at once, or its confirmation question.
    assert withdrawn or any("HMN-001" in o.text for o in replies)
    if withdrawn:
        assert withdrawn[0]["reason"] == "family refused"
        assert not [r for r in rows if r["state"] == "scheduled" and r["kind"] == "escalation"]


# --- unreachable people, unknown fate -------------------------------------------------------


FOR_ALICE = "👤 For Dr Alice, who cannot be reached privately:"


async def admin_notices(env: Env) -> list[Any]:
    return [r for r in await reminder_rows(env.ctx) if r["kind"] == "admin"
            and r["step"].startswith(f"unreachable:{CLINICIAN}:")]  # fmt: skip


async def test_unreachable_user_is_rerouted_to_the_team_and_the_coordinators(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    from bot.reminders import delivery as reminder_delivery

    # She used the bot once: her Telegram first name is kept (staff names only).
    await reminder_delivery.on_activity(env.ctx, person(CLINICIAN), [])
    await env.sweep()
    env.send.clear()
    env.send.always_fail[CLINICIAN] = Forbidden("Forbidden: bot was blocked by the user")
    await env.sweep(local(2026, 11, 21, 8))
    await env.sweep(local(2026, 11, 21, 8, 0, 5))
    assert (await audit_rows(env.ctx, "user_unreachable"))[0]["field"] == str(CLINICIAN)
    # Her private reminder goes to the team group (beside the board) and to the coordinator,
    # each saying for whom it was meant.
    (copy,) = env.send.to(COORDINATOR)
    assert copy.plain.startswith(FOR_ALICE) and "HMN-001" in copy.plain and "day 1" in copy.plain
    (team_copy,) = [m for m in env.send.to(TEAM) if not m.plain.startswith("☀️")]
    assert team_copy.plain.startswith(FOR_ALICE) and "day 1" in team_copy.plain
    assert "✋ I'm on it" in [b.label for row in team_copy.buttons for b in row]
    assert len(await admin_notices(env)) == 1  # the admins are told once
    await env.sweep(local(2026, 11, 21, 12))  # (the 10:00 escalation to the coordinator)
    env.send.clear()
    calls = env.send.calls
    await env.sweep(local(2026, 11, 22, 8))
    # The board, the team's copy and the coordinator's; no try at the clinician any more.
    assert env.send.calls == calls + 3
    rerouted = sorted(m.chat_id for m in env.send.sent if m.plain.startswith(FOR_ALICE))
    assert rerouted == sorted([COORDINATOR, TEAM])
    assert len(await admin_notices(env)) == 1  # same episode: not told again
    log = await reminder_log.reminders(env.ctx, person(COORDINATOR), ["HMN-001"])
    assert "rerouted (recipient unreachable: Alice)" in log[0].text
    users = await reminder_log.users(env.ctx, person(ADMIN), [])
    assert "unreachable privately (bot blocked or removed)" in users[0].text
    # She writes to the bot privately: reachable again; her reminders come to her again.
    replies = await reminder_delivery.on_activity(env.ctx, person(CLINICIAN), [])
    assert "I can write to you here again" in replies[0].text
    del env.send.always_fail[CLINICIAN]
    env.send.clear()
    await env.sweep(local(2026, 11, 23, 8))
    (own,) = env.send.to(CLINICIAN)
    assert not own.plain.startswith(FOR_ALICE)
    assert [m for m in env.send.sent if m.plain.startswith(FOR_ALICE)] == []
    # She blocks the bot again: a new episode, the admins are told again.
    env.send.always_fail[CLINICIAN] = Forbidden("Forbidden: bot was blocked by the user")
    await env.sweep(local(2026, 11, 23, 13, 30))  # (the planned-time steps need a plan: none)
    await env.sweep(local(2026, 11, 23, 14))
    await env.sweep(local(2026, 11, 23, 20))
    assert len(await admin_notices(env)) == 2
    assert s.number == "HMN-001"


async def test_a_private_reminder_with_answer_values_never_goes_to_the_team(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending")
    await env.sweep()
    env.send.always_fail[CLINICIAN] = Forbidden("Forbidden: bot was blocked by the user")
    await env.sweep(local(2026, 11, 21, 8))
    await env.sweep(local(2026, 11, 21, 8, 0, 5))
    pending = [m for m in env.send.sent if "still pending" in m.plain]
    assert [m.chat_id for m in pending] == [COORDINATOR]  # the coordinator only
    # (Her first name is not known: the bot never heard from her. Her Telegram id then.)
    assert pending[0].plain.startswith(f"👤 For user {CLINICIAN}, who cannot be reached")
    assert not any("still pending" in m.plain for m in env.send.to(TEAM))


async def test_a_timeout_after_the_request_left_is_unknown_and_not_resent(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    read_timeout = TimedOut()
    read_timeout.__cause__ = httpx.ReadTimeout("read")
    env.send.fail[TEAM] = [read_timeout]
    await env.sweep()
    await env.sweep(env.clock.now + dt.timedelta(minutes=20))
    assert env.send.calls == 1
    (team_row,) = [r for r in await reminder_rows(env.ctx, s.id)
                   if r["recipient"] == "team" and r["step"] == "outcome"]  # fmt: skip
    assert team_row["state"] == "unknown"
    log = await reminder_log.reminders(env.ctx, person(COORDINATOR), ["HMN-001"])
    assert "fate unknown" in log[0].text


# --- /reminders -----------------------------------------------------------------------------


async def test_reminders_lists_every_row_with_its_state(env: Env) -> None:
    await to_day_one_morning(env)
    await press(env, OTHER_CLINICIAN, TEAM, "✋ HMN-001")
    screen_b = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    (text,) = [o.text for o in await reminder_log.reminders(env.ctx, person(COORDINATOR), [])]
    assert "<b>HMN-001</b>" in text and f"<b>{screen_b.number}</b>" in text
    assert "D0 window · day 1, 08:00 → team — skipped: on the morning board" in text
    assert "morning board · 21/11/2026 → team — sent 21/11/2026 08:00" in text
    assert (
        "D0 window · day 1, 08:00 → owner — sent 21/11/2026 08:00 — "
        "acknowledged by Bruno 21/11/2026 08:00" in text
    )
    assert (
        "escalation · day 1: 08:00 reminder unanswered at 10:00 → Chloé" not in text
    )  # no name known yet
    assert (
        f"escalation · day 1: 08:00 reminder unanswered at 10:00 → user {COORDINATOR} — "
        "cancelled: acknowledged by the team" in text
    )
    assert "day 2, 08:00 → owner — scheduled 22/11/2026 08:00" in text
    french = await reminder_log.reminders(
        env.ctx, Actor(COORDINATOR, COORDINATOR, True, User(COORDINATOR, frozenset({"coordinator"}), "fr")),
        ["hmn-001"],
    )  # fmt: skip
    assert "prévu 22/11/2026 08:00" in french[0].text
    assert "pas envoyé : sur le tableau du matin" in french[0].text
    assert "fenêtre J0 · jour 1, 8 h → équipe" in french[0].text
    for code in ("d0_window", "day_1", "unacknowledged_1", "user:", "last_actor", "<code>"):
        assert code not in text and code not in french[0].text, code
    unknown = await reminder_log.reminders(env.ctx, person(COORDINATOR), ["HMN-999"])
    assert unknown[0].text == "HMN-999: unknown number."


# --- quiet hours ----------------------------------------------------------------------------


async def test_non_urgent_reminders_are_silent_at_night_urgent_ones_ring(env: Env) -> None:
    from bot.reminders import delivery as reminder_delivery

    silent: list[tuple[int, str, bool]] = []
    inner = env.send

    async def recording(chat_id: int, text: str, buttons: list[list[Button]]) -> object:
        silent.append((chat_id, text, reminder_delivery.SILENT.get()))
        return await inner(chat_id, text, buttons)

    from bot.reminders import sweep

    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await sweep.sweep(env.ctx, env.clock.now, recording)
    assert silent and not any(quiet for _, _, quiet in silent)  # 10:00: normal
    silent.clear()
    # The bot was down all of the last day; it comes back at 23:00 (quiet hours).
    env.clock.set(local(2026, 11, 23, 23))
    await sweep.sweep(env.ctx, env.clock.now, recording)
    urgent = [quiet for _, text, quiet in silent if "URGENT" in text]
    evening = [quiet for _, text, quiet in silent
               if "last day" in text and "☀️" not in text and "URGENT" not in text]  # fmt: skip
    others = [quiet for _, text, quiet in silent
              if "URGENT" not in text and ("last day" not in text or "☀️" in text)]  # fmt: skip
    assert urgent == [False, False]  # coordinator and admin: with sound
    # Issue 26: the last day's 20:00 step (team and owner), late, rings too.
    assert evening == [False, False]
    assert others and all(others)  # the morning board, caught up: silent


# --- the morning board ----------------------------------------------------------------------


async def test_the_morning_board_is_edited_in_place_when_what_it_says_changes(env: Env) -> None:
    from bot.reminders.board import board_tick

    edited: list[tuple[int, int, str, list[list[Button]]]] = []

    async def edit(chat: int, message_id: int, text: str, buttons: list[list[Button]]) -> None:
        edited.append((chat, message_id, text, buttons))

    first = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    second = await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 19))  # sooner
    await env.sweep()
    assert await board_tick(env.ctx, local(2026, 11, 21, 7, 59), edit) == "no board"
    await env.sweep(local(2026, 11, 21, 8))
    board = board_message(env)
    assert board.plain.index(second.number) < board.plain.index(first.number)  # soonest first
    assert "D0 by 23/11/2026 23:59 (2 d 15 h left) · nobody" in board.plain
    _, board_id = button(env, TEAM, "✋ HMN-001")
    # Time passing alone does not edit it; a button pressed on it edits it at once.
    assert await board_tick(env.ctx, local(2026, 11, 21, 9), edit) == "unchanged"
    await press(env, OTHER_CLINICIAN, TEAM, "✋ HMN-001")
    assert await board_tick(env.ctx, local(2026, 11, 21, 9, 30), edit) == "unchanged"
    # A change made elsewhere (a new patient) is edited in by the keeper: the same message.
    third = await screen_patient(env.ctx, local(2026, 11, 21, 9, 40), dt.date(2026, 11, 21))
    assert await board_tick(env.ctx, local(2026, 11, 21, 9, 41), edit) == "edited"
    ((chat, message_id, text, buttons),) = edited
    assert (chat, message_id) == (TEAM, board_id) and third.number in text and "Bruno" in text
    assert len(buttons) == 3  # the buttons stay (an edit without them would remove them)
    assert len([m for m in env.send.to(TEAM) if m.plain.startswith("☀️")]) == 1
    # The next morning: a new board, sent by the sender (the keeper only edits).
    await env.sweep(local(2026, 11, 22, 8))
    assert len([m for m in env.send.to(TEAM) if m.plain.startswith("☀️")]) == 2
