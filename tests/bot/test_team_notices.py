"""Issue 26, what the team sees after a tap: a D0 notice is drawn from the patient's current
facts each time (one owner line with the time of the take, the plan, one link, one row of
buttons), never its previous text plus new lines.

The renderer on its own (facts in, text out), then the buttons of the flow on the injected
clock: take, plan, re-plan, takeover by a third clinician, injection.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from bot.common import Actor, Button, Out
from bot.flows import ownership
from bot.reminders.d0_loop import OwnerFacts, d0_buttons, render_notice
from storage import ownership as own_store
from storage import screenings as store
from storage import users as user_store
from storage.users import User
from tests.bot.test_ownership import IdSend
from tests.bot.test_reminders import (
    CLINICIAN,
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

THIRD_CLINICIAN = 103
NAMES = {CLINICIAN: "Alice", OTHER_CLINICIAN: "Bruno", THIRD_CLINICIAN: "Zoé"}
BOT = "lysyme_test_bot"
_DAY = T0.astimezone(PARIS).date()  # the suite's clock; no date typed here
START = local(_DAY.year, _DAY.month, _DAY.day, 8, 0)
ADMISSION = _DAY  # window: the next three days


def at(hours: int, minutes: int = 0, days: int = 0) -> dt.datetime:
    """A local time on the admission day (or `days` later), in UTC."""
    day = START.astimezone(PARIS).date() + dt.timedelta(days=days)
    return local(day.year, day.month, day.day, hours, minutes)


def shown(moment: dt.datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


# --- the renderer: facts in, one notice out -------------------------------------------------


BODY = "⏳ <b>HMN-001</b>: eligible."


def draw(facts: OwnerFacts) -> tuple[str, list[list[Button]]]:
    return render_notice("en", PARIS, BODY, facts, d0_buttons("en", 1, 7))


def count(text: str, what: str) -> int:
    return text.count(what)


def test_a_notice_nobody_took_says_so_with_one_row_of_buttons() -> None:
    text, rows = draw(OwnerFacts(None, None, None, link=f"https://t.me/{BOT}?start=HMN-001"))
    assert text.startswith(BODY)
    assert "Nobody has taken this patient yet." in text
    assert count(text, "Open in the private chat") == 1
    assert [[b.label for b in row] for row in rows] == [
        ["✋ I'm on it", "🗓 Injection planned…", "🚫 Not injecting"]
    ]


def test_take_plan_replan_and_takeover_each_draw_one_owner_line() -> None:
    taken = at(8, 14)
    link = f"https://t.me/{BOT}?start=HMN-001"
    stages = [
        ("take", OwnerFacts("Bruno", taken, None, link=link), "Bruno", taken, None),
        ("plan", OwnerFacts("Bruno", taken, at(14, 30), link=link), "Bruno", taken, at(14, 30)),
        ("re-plan", OwnerFacts("Bruno", taken, at(16), link=link), "Bruno", taken, at(16)),
        ("takeover", OwnerFacts("Zoé", at(9), at(16), link=link), "Zoé", at(9), at(16)),
    ]
    for stage, facts, name, since, planned in stages:
        text, rows = draw(facts)
        assert count(text, "Taken by") == 1, stage
        assert f"✋ Taken by <b>{name}</b> ({shown(since)})" in text, stage
        assert count(text, "Open in the private chat") == 1, stage
        assert count(text, BODY) == 1, stage
        assert len(rows) == 1 and len(rows[0]) == 3, stage
        if planned is None:
            assert "Injection planned:" not in text, stage
        else:
            assert count(text, "Injection planned:") == 1, stage
            assert f"🗓 Injection planned: <b>{shown(planned)}</b>" in text, stage
        # The same facts draw the same notice: drawing it again adds nothing.
        assert draw(facts) == (text, rows), stage


def test_an_injected_patient_is_drawn_without_buttons_or_plan() -> None:
    facts = OwnerFacts("Bruno", at(8, 14), at(14, 30), injected_at=at(14, 40))
    text, rows = draw(facts)
    assert rows == []
    assert f"💉 Injected: <b>{shown(at(14, 40))}</b>" in text
    assert "Injection planned:" not in text and count(text, "Taken by") == 1


def test_a_notice_in_french_draws_the_same_facts() -> None:
    facts = OwnerFacts("Bruno", at(8, 14), at(14, 30))
    text, rows = render_notice("fr", PARIS, BODY, facts, d0_buttons("fr", 1, 7))
    assert f"✋ Pris en charge par <b>Bruno</b> ({shown(at(8, 14))})" in text
    assert f"🗓 Injection prévue : <b>{shown(at(14, 30))}</b>" in text
    assert [b.label for b in rows[0]] == ["✋ Je m'en occupe", "🗓 Injection prévue…",
                                          "🚫 Pas d'injection"]  # fmt: skip


# --- the buttons, on the injected clock -----------------------------------------------------


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, START)
    environment.send = IdSend()

    def prepare(conn: Connection) -> None:
        user_store.grant_roles(conn, THIRD_CLINICIAN, {"clinician"}, "test", START)
        store.set_meta(conn, "bot_username", BOT)

    await environment.ctx.db.write(prepare)
    yield environment
    await environment.ctx.db.close()


_updates = itertools.count(1)


def clinician(user_id: int, chat_id: int, message_id: int) -> Actor:
    return Actor(user_id=user_id, chat_id=chat_id, private=chat_id == user_id,
                 user=User(user_id, frozenset({"clinician"}), "en"), telegram_language="en",
                 update_id=next(_updates), message_id=message_id, first_name=NAMES[user_id])  # fmt: skip


def team_notice(env: Env) -> tuple[int, list[Button]]:
    """The message id and buttons of the team's D0 notice (the outcome's)."""
    send: Any = env.send
    (message_id,) = [m for m, (chat, _) in send.message_ids.items() if chat == TEAM]
    (notice,) = env.send.to(TEAM)
    return message_id, [b for row in notice.buttons for b in row]


async def tap(env: Env, user_id: int, label: str, now: dt.datetime) -> list[Out]:
    env.clock.set(now)
    message_id, buttons = team_notice(env)
    data = next(b.data for b in buttons if label in b.label)
    return await ownership.ownership_button(env.ctx, clinician(user_id, TEAM, message_id), data)


async def plan(env: Env, user_id: int, typed: str, now: dt.datetime) -> list[Out]:
    await tap(env, user_id, "Injection planned", now)
    return await ownership.plan_text(env.ctx, clinician(user_id, user_id, 0), typed)


def team_edit(env: Env, outs: list[Out]) -> Out:
    message_id, _ = team_notice(env)
    (edit,) = [o for o in outs if o.chat_id == TEAM and o.edit == message_id]
    return edit


def assert_one_of_each(edit: Out) -> None:
    assert count(edit.text, "Taken by") == 1, edit.text
    assert count(edit.text, "Open in the private chat") == 1, edit.text
    assert count(edit.text, "screening result") == 1, edit.text  # the body, once
    assert count(edit.text, "/d0 HMN-001") == 1, edit.text
    assert [[b.label for b in row] for row in edit.buttons] == [
        ["✋ I'm on it", "🗓 Injection planned…", "🚫 Not injecting"]
    ]


async def test_the_team_notice_reads_once_after_take_plan_replan_and_takeover(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()  # the team's notice of the outcome: the first D0 reminder
    message_id, buttons = team_notice(env)
    assert [b.label for b in buttons] == ["✋ I'm on it", "🗓 Injection planned…",
                                          "🚫 Not injecting"]  # fmt: skip

    edit = team_edit(env, await tap(env, OTHER_CLINICIAN, "I'm on it", at(8, 14)))
    assert_one_of_each(edit)
    assert f"Taken by <b>Bruno</b> ({shown(at(8, 14))})" in edit.text

    edit = team_edit(env, await plan(env, OTHER_CLINICIAN, "14:30", at(8, 20)))
    assert_one_of_each(edit)
    # The time of the take is kept when the plan is added (not the plan's 08:20).
    assert f"Taken by <b>Bruno</b> ({shown(at(8, 14))})" in edit.text
    assert count(edit.text, "Injection planned:") == 1
    assert f"Injection planned: <b>{shown(at(14, 30))}</b>" in edit.text

    edit = team_edit(env, await plan(env, OTHER_CLINICIAN, "16:00", at(9, 5)))
    assert_one_of_each(edit)
    assert f"Taken by <b>Bruno</b> ({shown(at(8, 14))})" in edit.text
    assert f"Injection planned: <b>{shown(at(16))}</b>" in edit.text
    assert shown(at(14, 30)) not in edit.text

    edit = team_edit(env, await tap(env, THIRD_CLINICIAN, "I'm on it", at(9, 40)))
    assert_one_of_each(edit)
    assert f"Taken by <b>Zoé</b> ({shown(at(9, 40))})" in edit.text and "Bruno" not in edit.text
    assert f"Injection planned: <b>{shown(at(16))}</b>" in edit.text

    # The same clinician pressing again keeps the time of her take.
    edit = team_edit(env, await tap(env, THIRD_CLINICIAN, "I'm on it", at(10, 30)))
    assert f"Taken by <b>Zoé</b> ({shown(at(9, 40))})" in edit.text
    loop = await env.ctx.db.read(own_store.get_loop, s.id)
    assert (loop.owner_id, loop.taken_at, loop.acknowledged_at) == (
        THIRD_CLINICIAN, at(9, 40), at(10, 30))  # fmt: skip
    assert message_id == team_notice(env)[0]  # always the same message, edited in place


async def test_a_plan_by_someone_else_takes_the_patient_at_the_plan(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    await tap(env, CLINICIAN, "I'm on it", at(8, 5))
    edit = team_edit(env, await plan(env, OTHER_CLINICIAN, "15:00", at(8, 50)))
    assert_one_of_each(edit)
    assert f"Taken by <b>Bruno</b> ({shown(at(8, 50))})" in edit.text
