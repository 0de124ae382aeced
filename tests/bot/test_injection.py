"""/d0, /withdraw, /update and the follow-up answers (bot/flows/injection.py), with the
reminder sender run on an injected clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Connection

from bot.common import Actor, Out
from bot.flows import injection
from storage import screenings as store
from storage.sql import fetch_all
from tests.bot.test_reminders import (
    CLINICIAN,
    COORDINATOR,
    OTHER_CLINICIAN,
    PARIS,
    TEAM,
    Env,
    actor,
    audit_rows,
    get,
    local,
    make_env,
    reminder_rows,
    screen_patient,
)
from tests.conftest import day, no_such_day, sqlite_only

ADMISSION = dt.date(2026, 11, 20)
_updates = count(1000)


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, local(2026, 11, 20, 10))
    yield environment
    await environment.ctx.db.close()


def who(user_id: int = CLINICIAN, message_id: int | None = 77) -> Actor:
    """A fresh update id each time, as Telegram sends."""
    return actor(user_id, update_id=next(_updates), message_id=message_id)


def buttons(out: Out) -> list[str]:
    return [b.data for row in out.buttons for b in row]


def texts(outs: list[Out]) -> str:
    return "\n".join(o.text for o in outs)


async def inject(env: Env, number: str = "HMN-001", *args: str, user: int = CLINICIAN) -> list[Out]:
    """/d0 then the confirmation button."""
    asked = await injection.d0(env.ctx, who(user), [number, *args])
    data = next(d for o in asked for d in buttons(o) if d.endswith(":ok"))
    return await injection.d0_button(env.ctx, who(user), data)


# --- /d0 ------------------------------------------------------------------------------------


async def test_d0_asks_the_investigator_to_confirm_then_records_and_schedules(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    await env.sweep()
    env.send.clear()
    at = env.clock.set(local(2026, 11, 21, 15, 30))
    (prompt,) = await injection.d0(env.ctx, who(), ["hmn-001"])
    assert "investigator confirms" in prompt.text and "21/11/2026 15:30" in prompt.text
    assert "140" in prompt.text  # the dose, for the one who injects
    assert buttons(prompt) == [f"d:{s.id}:ok", f"d:{s.id}:no"]
    assert (await get(env.ctx, s.id)).status == store.SCREENED  # nothing recorded yet

    outs = await injection.d0_button(env.ctx, who(), f"d:{s.id}:ok")
    s = await get(env.ctx, s.id)
    assert s.status == store.INJECTED and s.injected_at == at and s.injected_by == CLINICIAN
    reply = texts(outs)
    # D0 = 21/11: D0+7, D0+10, D0+30 (vital status and discharge date).
    for date in (day(7), day(10), day(30)):
        assert date in reply
    rows = await reminder_rows(env.ctx, s.id)
    assert not [
        r for r in rows if r["kind"] in ("d0_window", "pending") and r["state"] == "scheduled"
    ]
    follow_ups = [r for r in rows if r["kind"] == "follow_up"]
    assert {(r["step"], r["recipient"]) for r in follow_ups} == {
        (step, recipient)
        for step in ("reepithelialisation_d7", "adverse_events_d10", "vital_status_d30",
                     "discharge_date")
        for recipient in (f"user:{CLINICIAN}", f"user:{COORDINATOR}")
    }  # fmt: skip
    due = {r["step"]: r["due_at"] for r in follow_ups}
    assert due["reepithelialisation_d7"].startswith("2026-11-28T07:00")  # 08:00 Paris
    assert due["adverse_events_d10"].startswith("2026-12-01T07:00")
    assert due["vital_status_d30"].startswith("2026-12-21T07:00")
    (injection_row,) = await audit_rows(env.ctx, "injection")
    assert dt.datetime.fromisoformat(injection_row["new_value"]) == at
    # A double tap on Confirm (issue 25): the injection is recorded, said so; nothing twice.
    (again,) = await injection.d0_button(env.ctx, who(), f"d:{s.id}:ok")
    assert (
        again.toast == "✅ HMN-001: the injection is recorded (21/11/2026 15:30). Nothing to redo."
    )
    assert "/d0" not in again.toast and len(await audit_rows(env.ctx, "injection")) == 1
    # The team is told; the window reminders stop.
    await env.sweep(local(2026, 11, 21, 15, 31))
    assert any("injection (D0) recorded" in m.plain for m in env.send.to(TEAM))
    env.send.clear()
    await env.sweep(local(2026, 11, 24, 9))
    assert env.send.sent == []


async def test_d0_with_a_time_in_the_trial_zone(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(local(2026, 11, 22, 12))
    await inject(env, "HMN-001", day(0), "09:15")
    s = await get(env.ctx, s.id)
    assert s.injected_at == local(2026, 11, 21, 9, 15)
    assert injection.parse_injection_time("14h30", local(2026, 11, 22, 16), PARIS) == local(
        2026, 11, 22, 14, 30
    )
    assert (
        injection.parse_injection_time(f"{no_such_day()} 10:00", local(2026, 11, 22), PARIS) is None
    )


@sqlite_only
@pytest.mark.parametrize(
    ("typed", "expected"),
    [([day(0), "09:15"], local(2026, 11, 21, 9, 15)),
     (["21/11", "9h15"], local(2026, 11, 21, 9, 15)),
     (["2026-11-21", "09:15"], local(2026, 11, 21, 9, 15)),
     (["11h30"], local(2026, 11, 22, 11, 30))],
)  # fmt: skip
async def test_d0_accepts_the_core_date_and_time_formats(
    env: Env, typed: list[str], expected: dt.datetime
) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(local(2026, 11, 22, 12))
    await inject(env, "HMN-001", *typed)
    assert (await get(env.ctx, s.id)).injected_at == expected


@sqlite_only
@pytest.mark.parametrize("typed", [[day(0), "৯:১৫"], [no_such_day(), "10:00"], ["25:00"]])
async def test_d0_refuses_what_the_core_parser_refuses(env: Env, typed: list[str]) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(local(2026, 11, 22, 12))
    outs = await injection.d0(env.ctx, who(), ["HMN-001", *typed])
    assert "not recognised" in texts(outs)
    assert await audit_rows(env.ctx, "injection") == []


def test_d0_and_the_planned_time_share_the_core_parser() -> None:
    from conversations import answers, escalation

    now = local(2026, 11, 21, 9)
    for typed in ("22/11 09:00", "2026-11-22 09:00", f"{day(1)} 9h00"):
        planned = escalation.parse_planned_time(typed, now, PARIS, None)
        assert planned == local(2026, 11, 22, 9), typed
        assert injection.parse_injection_time(typed, now, PARIS) == local(2026, 11, 22, 9)
    assert (
        escalation.parse_planned_time("22/11 ৯:০০", now, PARIS, None)
        is escalation.PlanError.NOT_A_TIME
    )
    assert answers.parse_wall_clock("22/11 ৯:০০", now.date()) is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"hiv_positive": "pending"}, "/update HMN-001 first"),
        ({"age": 80}, "not eligible"),
    ],
)
async def test_d0_is_refused_unless_eligible(env: Env, overrides: dict, expected: str) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION, **overrides)
    outs = await injection.d0(env.ctx, who(), ["HMN-001"])
    assert expected in texts(outs) and not outs[0].buttons
    assert (await get(env.ctx, s.id)).status == store.SCREENED


async def test_d0_refusals(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, ADMISSION)
    assert "Usage" in texts(await injection.d0(env.ctx, who(), []))
    assert "Unknown number" in texts(await injection.d0(env.ctx, who(), ["HMN-404"]))
    assert "not recognised" in texts(await injection.d0(env.ctx, who(), ["HMN-001", "tomorrow"]))
    future = await injection.d0(env.ctx, who(), ["HMN-001", day(-1), "18:00"])
    assert "future" in texts(future)
    before = await injection.d0(env.ctx, who(), ["HMN-001", day(-2), "09:00"])
    assert "before admission" in texts(before)
    await inject(env)
    again = await injection.d0(env.ctx, who(), ["HMN-001"])
    assert "already recorded" in texts(again)


async def test_an_injection_after_the_deadline_needs_an_override_reason(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(local(2026, 11, 24, 10))  # deadline was 23/11 23:59:59
    (asked,) = await injection.d0(env.ctx, who(), ["HMN-001"])
    assert "after the D0 deadline" in asked.text and "protocol deviation" in asked.text
    assert buttons(asked) == [f"d:{s.id}:no"]
    stale = await injection.d0_button(env.ctx, who(), f"d:{s.id}:ok")  # no reason yet
    assert stale[0].toast and (await get(env.ctx, s.id)).status == store.SCREENED
    assert "reason is needed" in texts(await injection.d0_reason_text(env.ctx, who(), "   "))
    (confirm,) = await injection.d0_reason_text(env.ctx, who(), "cell product delivered late")
    assert "Protocol deviation" in confirm.text and "cell product delivered late" in confirm.text
    await injection.d0_button(env.ctx, who(), f"d:{s.id}:ok")
    s = await get(env.ctx, s.id)
    assert s.status == store.INJECTED and s.d0_override_reason == "cell product delivered late"
    (deviation,) = await audit_rows(env.ctx, "protocol_deviation")
    assert deviation["reason"] == "cell product delivered late"
    assert dt.datetime.fromisoformat(deviation["old_value"]) == local(2026, 11, 23, 23, 59, 59)


async def test_d0_cancel_and_forged_callbacks(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    for data in ("d:x:ok", f"d:{s.id}:maybe", f"d:{s.id}:ok", "d:999:ok", f"d:{s.id}"):
        outs = await injection.d0_button(env.ctx, who(), data)
        assert outs[0].toast, data
    await injection.d0(env.ctx, who(), ["HMN-001"])
    # Another user cannot confirm someone else's pending confirmation.
    other = await injection.d0_button(env.ctx, who(OTHER_CLINICIAN), f"d:{s.id}:ok")
    assert other[0].toast
    cancelled = await injection.d0_button(env.ctx, who(), f"d:{s.id}:no")
    assert "not recorded" in texts(cancelled)
    assert (await get(env.ctx, s.id)).status == store.SCREENED


async def test_d0_keeps_an_open_screening_session_aside(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)

    def open_another(conn: Connection) -> store.Screening:
        other = store.create_screening(conn, site="HMN", clinician_id=CLINICIAN,
                                       chat_id=CLINICIAN, now=env.clock.now,
                                       first_question="age")  # fmt: skip
        store.set_session(conn, CLINICIAN, CLINICIAN, other.id, "screen", env.clock.now)
        return other

    other = await env.ctx.db.write(open_another)
    await inject(env)
    assert (await get(env.ctx, s.id)).status == store.INJECTED
    session = await env.ctx.db.read(store.get_session, CLINICIAN, CLINICIAN)
    assert session is not None and session.mode == "screen" and session.screening_id == other.id


# --- /withdraw -----------------------------------------------------------------------------


async def test_withdraw_stops_every_reminder(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending",
                             consent_by="support_person")  # fmt: skip
    await env.sweep()
    env.send.clear()
    assert "Usage" in texts(await injection.withdraw(env.ctx, who(), ["HMN-001"]))
    # Issue 13: /withdraw first shows the patient and asks; nothing changes before Confirm.
    (ask,) = await injection.withdraw(env.ctx, who(), ["HMN-001", "family", "declined"])
    assert "Withdraw <b>HMN-001</b>?" in ask.text and "Status: screened" in ask.text
    assert "D0 deadline: 23/11/2026 23:59" in ask.text and "family declined" in ask.text
    assert buttons(ask) == [f"w:{s.id}:ok", f"w:{s.id}:no"]
    assert (await get(env.ctx, s.id)).status == store.SCREENED
    assert await audit_rows(env.ctx, "withdrawal") == []
    cancelled = await injection.withdraw_button(env.ctx, who(), f"w:{s.id}:no")
    assert "Withdrawal cancelled" in texts(cancelled)
    assert (await get(env.ctx, s.id)).status == store.SCREENED
    stale = await injection.withdraw_button(env.ctx, who(), f"w:{s.id}:ok")  # asked no more
    assert (await get(env.ctx, s.id)).status == store.SCREENED and stale[0].toast
    await injection.withdraw(env.ctx, who(), ["HMN-001", "family", "declined"])
    other = await injection.withdraw_button(env.ctx, who(OTHER_CLINICIAN), f"w:{s.id}:ok")
    assert other[0].toast and (await get(env.ctx, s.id)).status == store.SCREENED
    outs = await injection.withdraw_button(env.ctx, who(), f"w:{s.id}:ok")
    assert "withdrawn" in texts(outs)
    s = await get(env.ctx, s.id)
    assert s.status == store.WITHDRAWN and s.withdrawn_reason == "family declined"
    (row,) = await audit_rows(env.ctx, "withdrawal")
    assert row["reason"] == "family declined" and row["new_value"] == "withdrawn"
    await env.sweep()
    (notice,) = env.send.to(TEAM)
    assert "withdrawn" in notice.text and "family" not in notice.text  # the reason stays private
    env.send.clear()
    for date in range(21, 30):
        await env.sweep(local(2026, 11, date, 8))
    assert env.send.sent == []
    again = await injection.withdraw(env.ctx, who(), ["HMN-001", "again"])
    assert "cannot be withdrawn" in texts(again)


# --- /update -------------------------------------------------------------------------------


async def test_update_re_asks_only_the_pending_criteria(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending",
                             consent="pending", consent_by=None)  # fmt: skip
    await env.sweep()
    env.send.clear()
    env.clock.set(local(2026, 11, 21, 11))
    intro, prompt = await injection.update(env.ctx, who(OTHER_CLINICIAN), ["HMN-001"])
    assert "HIV serology: result awaited" in intro.text and "Consent: pending" in intro.text
    assert "Positive HIV serology" in prompt.text
    assert f"u:{s.id}:hiv_positive:no" in buttons(prompt)
    # A tap on a question that is not the current one is refused.
    stale = await injection.update_button(
        env.ctx, who(OTHER_CLINICIAN), f"u:{s.id}:consent:obtained"
    )
    assert stale[0].toast
    outs = await injection.update_button(env.ctx, who(OTHER_CLINICIAN), f"u:{s.id}:hiv_positive:no")
    assert "Written consent" in outs[-1].text  # the next pending question
    outs = await injection.update_button(
        env.ctx, who(OTHER_CLINICIAN), f"u:{s.id}:consent:obtained"
    )
    assert "Who signed" in outs[-1].text  # asked once consent is obtained
    outs = await injection.update_button(
        env.ctx, who(OTHER_CLINICIAN), f"u:{s.id}:consent_by:patient"
    )
    assert "all criteria are met" in texts(outs)
    s = await get(env.ctx, s.id)
    assert s.outcome == "eligible" and s.last_actor_id == OTHER_CLINICIAN
    rows = await env.ctx.db.read(
        fetch_all, "SELECT * FROM answers WHERE source='update' ORDER BY id"
    )
    assert [r["question_id"] for r in rows] == ["hiv_positive", "consent", "consent_by"]
    assert len(await audit_rows(env.ctx, "update")) == 3
    await env.sweep()
    team = env.send.to(TEAM)
    assert any("HMN-001 is now eligible" in m.plain and "/d0 HMN-001" in m.text for m in team)
    # No more pending reminders; the window reminders continue.
    env.send.clear()
    await env.sweep(local(2026, 11, 22, 8))
    assert not any("still pending" in m.text for m in env.send.sent)
    assert any("day 2" in m.text for m in env.send.sent if m.chat_id != TEAM)
    (board,) = env.send.to(TEAM)  # the team's 08:00 message: the morning board
    assert "<b>HMN-001</b> · eligible" in board.text


async def test_update_bsa_keeps_the_highest_value_within_the_observation_period(env: Env) -> None:
    now = env.clock.set(local(2026, 11, 19, 10))
    s = await screen_patient(env.ctx, now, dt.date(2026, 11, 19), index=dt.date(2026, 11, 10),
                             max_bsa_percent=6.0)  # fmt: skip
    _, prompt = await injection.update(env.ctx, who(), ["HMN-001"])
    assert buttons(prompt) == [f"u:{s.id}:max_bsa_percent:skip"]  # typed
    outs = await injection.update_text(env.ctx, who(), "4,5")
    assert "highest value (6 %) is kept" in texts(outs)
    assert (await get(env.ctx, s.id)).outcome == "pending"
    _, prompt = await injection.update(env.ctx, who(), ["HMN-001"])
    outs = await injection.update_text(env.ctx, who(), "abc")
    assert "number" in texts(outs)
    outs = await injection.update_text(env.ctx, who(), "12")
    assert "all criteria are met" in texts(outs)
    assert (await get(env.ctx, s.id)).outcome == "eligible"


async def test_update_bsa_is_refused_after_the_observation_period(env: Env) -> None:
    now = env.clock.set(local(2026, 11, 19, 10))
    s = await screen_patient(env.ctx, now, dt.date(2026, 11, 19), index=dt.date(2026, 11, 10),
                             max_bsa_percent=6.0, hiv_positive="pending")  # fmt: skip
    env.clock.set(local(2026, 11, 21, 7))  # 21/11 > index + 10, before the 08:00 sweep
    await injection.update(env.ctx, who(), ["HMN-001"])
    outs = await injection.update_text(env.ctx, who(), "15")
    assert "observation period ended on 20/11/2026" in texts(outs)
    outs = await injection.update_button(env.ctx, who(), f"u:{s.id}:hiv_positive:no")
    assert "not eligible" in texts(outs)  # re-evaluated at now: the BSA now fails
    assert (await get(env.ctx, s.id)).outcome == "not_eligible"


async def test_an_excluding_update_is_confirmed_first(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION, hiv_positive="pending")
    await injection.update(env.ctx, who(), ["HMN-001"])
    (confirm,) = await injection.update_button(env.ctx, who(), f"u:{s.id}:hiv_positive:yes")
    assert "excludes the patient" in confirm.text
    assert (await get(env.ctx, s.id)).outcome == "pending"
    change = await injection.update_button(env.ctx, who(), f"u:{s.id}:hiv_positive:ask")
    assert "Positive HIV serology" in change[0].text
    outs = await injection.update_button(env.ctx, who(), f"u:{s.id}:hiv_positive:yes:c")
    assert "not eligible" in texts(outs)
    assert (await get(env.ctx, s.id)).outcome == "not_eligible"


async def test_update_refusals_and_forged_callbacks(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    assert "nothing pending" in texts(await injection.update(env.ctx, who(), ["HMN-001"]))
    assert "Usage" in texts(await injection.update(env.ctx, who(), []))
    for data in (f"u:{s.id}:age:40", f"u:{s.id}:hiv_positive:maybe", "u:x:hiv_positive:no",
                 f"u:{s.id}:hiv_positive:no"):  # fmt: skip
        assert (await injection.update_button(env.ctx, who(), data))[0].toast, data


# --- follow-ups ----------------------------------------------------------------------------


async def injected(env: Env) -> int:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    env.clock.set(local(2026, 11, 21, 10))
    await inject(env)
    await env.sweep()
    env.send.clear()
    return s.id


async def test_follow_ups_ask_with_buttons_and_repeat_daily_until_answered(env: Env) -> None:
    sid = await injected(env)
    await env.sweep(local(2026, 11, 28, 7, 59))
    assert env.send.sent == []
    await env.sweep(local(2026, 11, 28, 8))
    (to_clinician,) = env.send.to(CLINICIAN)
    (to_coordinator,) = env.send.to(COORDINATOR)
    assert "D0 + 7" in to_clinician.plain and "Re-epithelialisation" in to_clinician.text
    data = [b.data for row in to_coordinator.buttons for b in row]
    assert data == [f"f:{sid}:reepithelialisation_d7:yes", f"f:{sid}:reepithelialisation_d7:no"]
    env.send.clear()
    await env.sweep(local(2026, 11, 29, 8))  # not answered: asked again
    assert len(env.send.to(CLINICIAN)) == 1 and len(env.send.to(COORDINATOR)) == 1
    outs = await injection.follow_up_button(env.ctx, who(COORDINATOR), data[0])
    assert outs[0].edit == 77 and "Re-epithelialisation" in outs[0].text
    answers = await env.ctx.db.read(store.current_answers, sid)
    assert json.loads(answers["follow_up:reepithelialisation_d7"]) == "yes"
    (row,) = await audit_rows(env.ctx, "follow_up")
    assert row["field"] == "follow_up:reepithelialisation_d7" and row["actor"] == str(COORDINATOR)
    again = await injection.follow_up_button(env.ctx, who(CLINICIAN), data[1])
    assert "Already recorded" in (again[0].toast or "")
    env.send.clear()
    await env.sweep(local(2026, 11, 30, 8))
    assert env.send.sent == []  # answered: the daily repeat stopped


async def test_an_adverse_effect_shows_the_sae_rule_and_alerts_coordinators(env: Env) -> None:
    sid = await injected(env)
    await env.sweep(local(2026, 12, 1, 8))
    assert any("adverse effect" in m.text for m in env.send.to(CLINICIAN))
    env.send.clear()
    outs = await injection.follow_up_button(
        env.ctx, who(CLINICIAN), f"f:{sid}:adverse_events_d10:yes"
    )
    assert "AP-HP safety desk within 24 h" in texts(outs)
    await env.sweep(local(2026, 12, 1, 8, 5))
    (alert,) = env.send.to(COORDINATOR)
    assert "adverse effect reported" in alert.text and "within 24 h" in alert.text
    assert env.send.to(TEAM) == []


async def test_the_discharge_date_is_typed_or_still_in_hospital(env: Env) -> None:
    sid = await injected(env)
    await env.sweep(local(2026, 12, 21, 8))
    discharge = [m for m in env.send.to(CLINICIAN) if "discharge" in m.text]
    data = [b.data for row in discharge[0].buttons for b in row]
    assert data == [f"f:{sid}:discharge_date:still_hospitalised", f"f:{sid}:discharge_date:date"]
    outs = await injection.follow_up_button(env.ctx, who(), data[0])
    assert "7 days" in texts(outs)
    env.send.clear()
    await env.sweep(local(2026, 12, 22, 8))
    assert not [m for m in env.send.sent if "discharge" in m.text]
    await env.sweep(local(2026, 12, 28, 8))
    assert [m for m in env.send.to(CLINICIAN) if "discharge" in m.text]
    env.clock.set(local(2026, 12, 28, 9))
    (ask,) = await injection.follow_up_button(env.ctx, who(), data[1])
    assert "type the discharge date" in ask.text
    bad = await injection.fu_date_text(env.ctx, who(), day(-1))
    assert "before D0" in texts(bad)
    outs = await injection.fu_date_text(env.ctx, who(), day(36))
    assert "27/12/2026" in texts(outs)
    answers = await env.ctx.db.read(store.current_answers, sid)
    assert json.loads(answers["follow_up:discharge_date"]) == "2026-12-27"
    env.send.clear()
    for date in range(29, 32):
        await env.sweep(local(2026, 12, date, 8))
    assert not [m for m in env.send.sent if "discharge" in m.text]


async def test_follow_up_callbacks_are_checked_against_the_database(env: Env) -> None:
    s = await screen_patient(env.ctx, env.clock.now, ADMISSION)
    for data in (f"f:{s.id}:reepithelialisation_d7:yes", f"f:{s.id}:unknown:yes",
                 f"f:{s.id}:vital_status_d30:maybe", "f:999:vital_status_d30:alive", "f:x"):  # fmt: skip
        assert (await injection.follow_up_button(env.ctx, who(), data))[0].toast, data
