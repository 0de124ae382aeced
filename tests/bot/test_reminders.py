"""The reminder sender (bot/reminders/sender.py): wall-clock times across DST, catch-up after downtime,
restarts, Telegram errors, BSA expiry and idle screenings.

A real database on each backend (a temp-file SQLite database, a private PostgreSQL schema:
`database_target`), an injected clock (no sleeping) and a fake `send` that records what would
have gone to Telegram. The helpers here are shared with test_injection.py
and the e2e test.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Connection
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.app import open_context
from bot.common import Actor, Button, Context
from bot.reminders import state, sweep
from bot.reminders.closing import close_screening
from bot.reminders.sender import ReminderSender
from bot.settings import Settings
from conversations.answers import to_json
from conversations.eligibility import evaluate
from conversations.schedule import MORNING_STEPS, d0_window_steps
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.open import open_database
from storage.screenings import Screening
from storage.sql import fetch_all
from storage.sql import value as scalar
from tests.conftest import FakeClock, make_settings
from tests.conversations.support import eligible_answers, local

# PTB 22 warns when a test builds RetryAfter(int); the sender itself reads it quietly.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
TEAM = -1001234
CLINICIAN = 101
OTHER_CLINICIAN = 102
COORDINATOR = 201
ADMIN = 301


Clock = FakeClock  # the name other suites import from here


@dataclass
class Sent:
    chat_id: int
    text: str
    buttons: list[list[Button]]

    @property
    def plain(self) -> str:
        """The text as the user reads it (HTML tags removed)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.text))


@dataclass
class FakeSend:
    """Records messages; `fail[chat]` is a list of exceptions raised by the next sends."""

    sent: list[Sent] = field(default_factory=list)
    fail: dict[int, list[Exception]] = field(default_factory=dict)
    always_fail: dict[int, Exception] = field(default_factory=dict)
    calls: int = 0

    async def __call__(self, chat_id: int, text: str, buttons: list[list[Button]]) -> None:
        self.calls += 1
        if chat_id in self.always_fail:
            raise self.always_fail[chat_id]
        pending = self.fail.get(chat_id)
        if pending:
            raise pending.pop(0)
        self.sent.append(Sent(chat_id, text, buttons))

    def to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def clear(self) -> None:
        self.sent.clear()


def settings_for(path: Path | str, **extra: Any) -> Settings:
    """The shared test settings, with this suite's team chat and admin."""
    values = {
        "LYSYME_TEAM_CHAT_ID": TEAM,
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_SITE_CODE": "HMN",
    }
    return make_settings(path, **{**values, **extra})


@dataclass
class Env:
    ctx: Context
    clock: Clock
    send: FakeSend
    path: Path | str  # the SQLite file, or the PostgreSQL URL

    async def sweep(self, now: dt.datetime | None = None) -> state.SweepResult:
        if now is not None:
            self.clock.set(now)
        return await sweep.sweep(self.ctx, self.clock.now, self.send)


async def make_env(path: Path | str, start: dt.datetime) -> Env:
    """A context on the database `path` (a SQLite file or a PostgreSQL URL: `database_target`)."""
    clock = Clock(start)
    db = await open_database(path)
    ctx = Context(settings=settings_for(path), db=db, clock=clock)

    def grant(conn: Connection) -> None:
        user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", start)
        user_store.grant_roles(conn, OTHER_CLINICIAN, {"clinician"}, "test", start)
        user_store.grant_roles(conn, COORDINATOR, {"coordinator"}, "test", start)
        user_store.grant_roles(conn, ADMIN, {"admin"}, "test", start)

    await db.write(grant)
    return Env(ctx, clock, FakeSend(), path)


@pytest.fixture
async def env(database_target: Path | str) -> AsyncIterator[Env]:
    environment = await make_env(database_target, local(2026, 11, 20, 10))
    yield environment
    await environment.ctx.db.close()


def actor(user_id: int, update_id: int | None = None, message_id: int | None = None) -> Actor:
    from storage.users import User

    roles = {
        CLINICIAN: {"clinician"},
        OTHER_CLINICIAN: {"clinician"},
        COORDINATOR: {"coordinator"},
        ADMIN: {"admin"},
    }.get(user_id, {"clinician"})
    return Actor(user_id, user_id, True, User(user_id, frozenset(roles), None), None,
                 update_id, message_id)  # fmt: skip


def answers_for(
    admission: dt.date, index: dt.date | None = None, **overrides: Any
) -> dict[str, Any]:
    """A complete eligible answer set (female patient) admitted on `admission`."""
    return eligible_answers(
        index_date=index or admission - dt.timedelta(days=2), admission_date=admission, **overrides
    )


async def screen_patient(
    ctx: Context, now: dt.datetime, admission: dt.date, clinician: int = CLINICIAN, **overrides: Any
) -> Screening:
    """Open a screening, store every answer and close it (outcome, reminders) at *now*."""
    answers = answers_for(admission, **overrides)

    def close(conn: Connection) -> Screening | None:
        s = store.create_screening(conn, site="HMN", clinician_id=clinician,
                                   chat_id=clinician, now=now, first_question="index_date")  # fmt: skip
        for qid, value in answers.items():
            store.add_answer(conn, s.id, qid, to_json(value), by=clinician, now=now,
                             source="screening")  # fmt: skip
        evaluation = evaluate(answers, now, ctx.zone)
        outs = close_screening(conn, ctx, actor(clinician), s, answers, evaluation, now)
        for out in outs:  # the result reply was delivered (the normal case)
            if out.delivers is not None:
                outbox.mark_delivered(conn, out.delivers, now)
        return store.get_by_id(conn, s.id)

    closed = await ctx.db.write(close)
    assert closed is not None
    return closed


async def reminder_rows(ctx: Context, screening_id: int | None = None) -> list[Any]:
    if screening_id is None:
        return await ctx.db.read(fetch_all, "SELECT * FROM reminders ORDER BY id")
    return await ctx.db.read(
        fetch_all, "SELECT * FROM reminders WHERE screening_id=:screening_id ORDER BY id",
        {"screening_id": screening_id},
    )  # fmt: skip


async def audit_rows(ctx: Context, action: str) -> list[Any]:
    return await ctx.db.read(
        fetch_all, "SELECT * FROM audit WHERE action=:action ORDER BY id", {"action": action}
    )


async def get(ctx: Context, screening_id: int) -> Screening:
    s = await ctx.db.read(store.get_by_id, screening_id)
    assert s is not None
    return s


# --- wall-clock times ----------------------------------------------------------------------


def window_messages(env: Env) -> list[Sent]:
    return [m for m in env.send.sent if m.chat_id in (TEAM, CLINICIAN)]


STEP_WORDS = {
    "day_1": "day 1",
    "day_2": "day 2",
    "last_day_morning": "last day",
    "last_day_afternoon": "(afternoon)",
    "last_day_evening": "closes at midnight",
    "window_closed": "window closed",
}


@pytest.mark.parametrize(
    ("admission", "expected_utc"),
    [
        pytest.param(
            dt.date(2026, 11, 20),
            ["2026-11-21 07:00", "2026-11-22 07:00", "2026-11-23 07:00", "2026-11-23 13:00",
             "2026-11-23 19:00", "2026-11-24 07:00"],
            id="winter",
        ),
        # Clocks go forward on Sunday 29 March 2026 at 02:00: 08:00 is 07:00 UTC, then 06:00.
        pytest.param(
            dt.date(2026, 3, 27),
            ["2026-03-28 07:00", "2026-03-29 06:00", "2026-03-30 06:00", "2026-03-30 12:00",
             "2026-03-30 18:00", "2026-03-31 06:00"],
            id="spring-forward",
        ),
        # Clocks go back on Sunday 25 October 2026 at 03:00: 08:00 is 06:00 UTC, then 07:00.
        pytest.param(
            dt.date(2026, 10, 23),
            ["2026-10-24 06:00", "2026-10-25 07:00", "2026-10-26 07:00", "2026-10-26 13:00",
             "2026-10-26 19:00", "2026-10-27 07:00"],
            id="fall-back",
        ),
    ],
)  # fmt: skip
async def test_each_step_fires_at_its_wall_clock_time_and_not_before(
    database_target: Path | str, admission: dt.date, expected_utc: list[str]
) -> None:
    start = dt.datetime.combine(admission, dt.time(10), tzinfo=PARIS)
    env = await make_env(database_target, start)
    try:
        s = await screen_patient(env.ctx, start, admission)
        # The screening's end: the team is told at once; the clinician already saw the result.
        result = await env.sweep(start)
        assert [m.chat_id for m in env.send.sent] == [TEAM]
        assert "HMN-001" in env.send.sent[0].text and "eligible" in env.send.sent[0].text
        assert "/d0 HMN-001" in env.send.sent[0].text
        assert result.sent == 1 and result.late == 0
        env.send.clear()

        steps = d0_window_steps(admission, PARIS)
        assert [f"{d.due:%Y-%m-%d %H:%M}" for d in steps] == expected_utc
        for step in steps:
            # (The escalations of issue 14 go to the coordinators and admins: not counted here.)
            await env.sweep(step.due - dt.timedelta(seconds=1))
            assert window_messages(env) == [], f"{step.step} sent before its time"
            await env.sweep(step.due)
            assert step.due.astimezone(PARIS).hour in (8, 14, 20)
            assert sorted(m.chat_id for m in window_messages(env)) == sorted([TEAM, CLINICIAN])
            for message in window_messages(env):
                # At 08:00 the team's message is the morning board (issue 14).
                if message.chat_id == TEAM and step.step in MORNING_STEPS:
                    assert message.text.startswith("☀️") and "HMN-001" in message.text
                else:
                    assert STEP_WORDS[step.step] in message.text
                assert "sent late" not in message.text
            env.send.clear()
        # 08:00 the morning after the deadline: the window is closed, the status says so.
        s = await get(env.ctx, s.id)
        assert s.status == store.WINDOW_MISSED
        changes = await audit_rows(env.ctx, "status")
        assert changes[-1]["new_value"] == store.WINDOW_MISSED
        assert "no injection" in changes[-1]["reason"]
        # Nothing is left to send, ever.
        await env.sweep(steps[-1].due + dt.timedelta(days=5))
        assert env.send.sent == []
    finally:
        await env.ctx.db.close()


async def test_each_message_has_number_status_pending_deadline_and_command(env: Env) -> None:
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20), hiv_positive="pending")
    await env.sweep(now)
    (team,) = env.send.to(TEAM)
    assert "HMN-001" in team.text
    # Short names only: "HIV serology", never "Positive HIV serology" (reads as a result).
    assert "pending" in team.text and "HIV serology" in team.text
    assert "positive" not in team.text.lower()
    assert "23/11/2026 23:59" in team.text and "3 d 13 h left" in team.text
    assert "/update HMN-001" in team.text
    # Never an answer value in the team chat: no weight, dose, age or BSA.
    for value in ("70", "58", "35", "140"):
        assert value not in team.text


async def test_a_screening_completed_late_gets_only_the_immediate_message(env: Env) -> None:
    admission = dt.date(2026, 11, 20)
    late = env.clock.set(local(2026, 11, 23, 15))  # the last day, after 14:00
    s = await screen_patient(env.ctx, late, admission)
    rows = await reminder_rows(env.ctx, s.id)
    window = {r["step"] for r in rows if r["kind"] == "d0_window"}
    assert window == {"outcome", "last_day_evening", "window_closed"}
    await env.sweep(late)
    assert [m.chat_id for m in env.send.sent] == [TEAM]
    env.send.clear()
    await env.sweep(local(2026, 11, 23, 19, 59))
    assert env.send.sent == []
    await env.sweep(local(2026, 11, 23, 20))
    assert sorted(m.chat_id for m in env.send.sent) == sorted([TEAM, CLINICIAN])


async def test_catch_up_after_a_two_day_outage_sends_one_late_message_per_kind(env: Env) -> None:
    start = env.clock.now
    s = await screen_patient(env.ctx, start, dt.date(2026, 11, 20), hiv_positive="pending")
    await env.sweep(start)
    env.send.clear()
    # Down from the 20th at 10:00 to the 23rd at 21:00: day 1, day 2, the last day's morning,
    # afternoon and evening are all overdue, and so is the morning's pending reminder.
    result = await env.sweep(local(2026, 11, 23, 21))
    boards = [m for m in env.send.to(TEAM) if m.text.startswith("☀️")]
    team = [m for m in env.send.to(TEAM) if m not in boards]
    clinician = env.send.to(CLINICIAN)
    assert len(team) == 1 and "closes at midnight" in team[0].text
    assert "sent late" in team[0].text
    # The morning board of the last day, late, once (those of the 21st and 22nd superseded).
    assert len(boards) == 1 and "23/11/2026" in boards[0].text and "sent late" in boards[0].text
    assert len(clinician) == 2  # the window (evening step) and the pending criteria
    assert any("closes at midnight" in m.text for m in clinician)
    assert any("still pending" in m.text and "/update HMN-001" in m.text for m in clinician)
    # … and the last day's urgent escalation (no plan by 14:00) to the coordinator and admin.
    assert result.sent == 6 and result.late == 6
    rows = await reminder_rows(env.ctx, s.id)
    skipped = [r for r in rows if r["state"] == "skipped" and r["kind"] == "d0_window"]
    assert {r["step"] for r in skipped} == {"day_1", "day_2", "last_day_morning",
                                            "last_day_afternoon"}  # fmt: skip
    assert len(skipped) == 8  # 4 steps × (team, clinician)
    # + the coordinator's three "unacknowledged by 10:00" steps, superseded by the urgent one,
    # + the boards of the 21st and the 22nd.
    assert len(await audit_rows(env.ctx, "reminder_skipped")) == 13
    evening = [r for r in rows if r["step"] == "last_day_evening"]
    assert all(r["state"] == "sent" and r["late"] == 1 for r in evening)
    # The daily pending reminder plans the next morning once sent.
    pending = [r for r in rows if r["kind"] == "pending" and r["state"] == "scheduled"]
    assert len(pending) == 1 and pending[0]["due_at"].startswith("2026-11-24T07:00")


async def test_a_restart_never_resends_and_never_loses(database_target: Path | str) -> None:
    env = await make_env(database_target, local(2026, 11, 20, 10))
    s = await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
    await env.sweep()
    assert len(env.send.to(TEAM)) == 1
    # At 08:00 the next day a sweep claims day 1's rows, then the process dies (kill -9)
    # before sending them.
    day_1 = env.clock.set(local(2026, 11, 21, 8))
    claimed = await env.ctx.db.write(outbox.claim_due, day_1)
    assert {r.step for r in claimed} == {"day_1", "2026-11-21"}  # (the morning board's row)
    await env.ctx.db.close()

    # Restart: a new context on the same database (start-up releases claimed rows).
    ctx = await open_context(settings_for(env.path), env.clock)
    try:
        send = FakeSend()
        await sweep.sweep(ctx, day_1, send)
        assert sorted(m.chat_id for m in send.sent) == sorted([TEAM, CLINICIAN])
        assert "day 1" in send.to(CLINICIAN)[0].text
        assert send.to(TEAM)[0].text.startswith("☀️")  # the team's 08:00 message: the board
        # A second sweep, and a second "restart", send nothing twice.
        await sweep.sweep(ctx, day_1 + dt.timedelta(minutes=1), send)
        assert len(send.sent) == 2
        await ctx.db.close()
        ctx = await open_context(settings_for(env.path), env.clock)
        await sweep.sweep(ctx, day_1 + dt.timedelta(minutes=2), send)
        assert len(send.sent) == 2
        rows = await reminder_rows(ctx, s.id)
        sent_steps = [r["step"] for r in rows if r["state"] == "sent" and r["recipient"] == "team"]
        assert sent_steps == ["outcome"]  # day 1's team row: "on the board"
        boards = [r for r in await reminder_rows(ctx) if r["kind"] == "board"]
        assert [(r["step"], r["state"]) for r in boards][:1] == [("2026-11-21", "sent")]
    finally:
        await ctx.db.close()


async def test_retry_after_429_then_success_without_blocking_other_rows(env: Env) -> None:
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20))
    env.send.fail[TEAM] = [RetryAfter(30)]
    day_1 = local(2026, 11, 21, 8)
    result = await env.sweep(now)  # the outcome notice meets a 429
    assert result.retried == 1 and env.send.sent == []
    await env.sweep(now + dt.timedelta(seconds=29))
    assert env.send.sent == []
    await env.sweep(now + dt.timedelta(seconds=30))
    assert len(env.send.to(TEAM)) == 1
    await env.sweep(now + dt.timedelta(seconds=31))
    assert len(env.send.to(TEAM)) == 1  # once
    # A 429 on the team chat does not hold the clinician's reminder back.
    env.send.clear()
    env.send.fail[TEAM] = [RetryAfter(dt.timedelta(seconds=60))]
    await env.sweep(day_1)
    assert [m.chat_id for m in env.send.sent] == [CLINICIAN]
    await env.sweep(day_1 + dt.timedelta(seconds=60))
    assert sorted(m.chat_id for m in env.send.sent) == sorted([CLINICIAN, TEAM])


async def test_network_errors_are_retried_with_exponential_backoff(env: Env) -> None:
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20))
    # A connect timeout never reached Telegram: retried (a read timeout is "unknown": see
    # test_ownership.py).
    connect_timeout = TimedOut()
    connect_timeout.__cause__ = httpx.ConnectTimeout("connect")
    env.send.fail[TEAM] = [NetworkError("connection reset"), connect_timeout, NetworkError("down")]
    await env.sweep(now)  # attempt 1 fails: next in 5 s
    await env.sweep(now + dt.timedelta(seconds=4))
    assert env.send.calls == 1
    await env.sweep(now + dt.timedelta(seconds=5))  # attempt 2 fails: next in 10 s
    await env.sweep(now + dt.timedelta(seconds=14))
    assert env.send.calls == 2
    await env.sweep(now + dt.timedelta(seconds=15))  # attempt 3 fails: next in 20 s
    await env.sweep(now + dt.timedelta(seconds=34))
    assert env.send.calls == 3 and env.send.sent == []
    await env.sweep(now + dt.timedelta(seconds=35))
    assert len(env.send.to(TEAM)) == 1
    assert state.backoff(30) == dt.timedelta(minutes=10)  # capped


async def test_chat_not_found_is_recorded_and_the_admins_are_told_once(env: Env) -> None:
    now = env.clock.now
    s = await screen_patient(env.ctx, now, dt.date(2026, 11, 20))
    env.send.always_fail[TEAM] = BadRequest("Chat not found")
    await env.sweep(now)
    rows = await reminder_rows(env.ctx, s.id)
    (team_row,) = [r for r in rows if r["recipient"] == "team" and r["step"] == "outcome"]
    assert team_row["state"] == "failed" and "Chat not found" in team_row["last_error"]
    failed = await audit_rows(env.ctx, "reminder_failed")
    assert len(failed) == 1 and failed[0]["screening"] == "HMN-001"
    (notice,) = env.send.to(ADMIN)
    assert str(TEAM) in notice.text and "chat not found" in notice.text
    # The next step fails too: recorded, but the admins are not told again.
    await env.sweep(local(2026, 11, 21, 8))
    assert len(env.send.to(ADMIN)) == 1
    assert len(await audit_rows(env.ctx, "reminder_failed")) == 2
    assert len(env.send.to(CLINICIAN)) == 1  # the clinician still gets theirs


async def test_a_blocked_bot_is_a_permanent_failure(env: Env) -> None:
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20))
    env.send.always_fail[CLINICIAN] = Forbidden("Forbidden: bot was blocked by the user")
    await env.sweep(local(2026, 11, 21, 8))
    # The board (the outcome notice was superseded), and the clinician's day 1 rerouted to
    # the team group since she cannot be reached (issue 14).
    board, rerouted = env.send.to(TEAM)
    assert board.text.startswith("☀️") and "cannot be reached privately" in rerouted.text
    notice = env.send.to(ADMIN)
    assert len(notice) == 1 and "blocked" in notice[0].text


async def test_a_migrated_team_chat_is_followed(env: Env) -> None:
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20))
    new_id = -1009999
    env.send.fail[TEAM] = [ChatMigrated(new_id)]
    await env.sweep(now)
    assert len(env.send.to(new_id)) == 1  # retried at once, in the same sweep
    assert env.send.to(TEAM) == []
    (admin,) = env.send.to(ADMIN)
    assert str(new_id) in admin.text
    assert await env.ctx.db.read(store.get_meta, "team_chat_id") == str(new_id)
    moved = await audit_rows(env.ctx, "team_chat_migrated")
    assert moved[0]["old_value"] == str(TEAM) and moved[0]["new_value"] == str(new_id)
    await env.sweep(local(2026, 11, 21, 8))
    assert len(env.send.to(new_id)) == 2 and env.send.to(TEAM) == []


async def test_no_team_chat_configured_skips_team_rows(database_target: Path | str) -> None:
    env = await make_env(database_target, local(2026, 11, 20, 10))
    env.ctx.settings = settings_for(env.path, LYSYME_TEAM_CHAT_ID="")
    try:
        await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
        result = await env.sweep()
        assert env.send.sent == [] and result.skipped == 1
    finally:
        await env.ctx.db.close()


async def test_a_removed_user_gets_no_patient_data(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
    await env.ctx.db.write(user_store.remove_user, CLINICIAN)
    await env.sweep(local(2026, 11, 21, 8))
    assert env.send.to(CLINICIAN) == []
    skipped = await audit_rows(env.ctx, "reminder_skipped")
    assert any(r["reason"] == "recipient no longer listed" for r in skipped)


# --- pending criteria and the BSA observation period ---------------------------------------


async def test_pending_reminder_every_morning_to_whoever_last_acted(env: Env) -> None:
    now = env.clock.now
    s = await screen_patient(env.ctx, now, dt.date(2026, 11, 20), consent="pending",
                             consent_by=None)  # fmt: skip
    await env.sweep(now)
    env.send.clear()
    await env.sweep(local(2026, 11, 21, 7, 59))
    assert env.send.to(CLINICIAN) == []
    await env.sweep(local(2026, 11, 21, 8))
    pending = [m for m in env.send.to(CLINICIAN) if "still pending" in m.text]
    assert len(pending) == 1 and "Consent: pending" in pending[0].text
    # A shift change: the next morning's reminder goes to whoever last acted.
    await env.ctx.db.write(store.update_screening, s.id, now, last_actor_id=OTHER_CLINICIAN)
    env.send.clear()
    await env.sweep(local(2026, 11, 22, 8))
    assert [m for m in env.send.to(OTHER_CLINICIAN) if "still pending" in m.text]
    assert not [m for m in env.send.to(CLINICIAN) if "still pending" in m.text]


async def test_a_pending_bsa_that_expires_turns_the_patient_not_eligible(env: Env) -> None:
    # Index 10/11, admitted 19/11 (9 days later), BSA 5 %: pending until 20/11 (index + 10).
    now = env.clock.set(local(2026, 11, 19, 10))
    s = await screen_patient(env.ctx, now, dt.date(2026, 11, 19), index=dt.date(2026, 11, 10),
                             max_bsa_percent=5.0)  # fmt: skip
    assert s.outcome == "pending" and s.reasons == ("max_bsa_percent",)
    await env.sweep(now)
    env.send.clear()
    expiry = local(2026, 11, 21, 8)  # 08:00 on the first day after the observation period
    await env.sweep(expiry - dt.timedelta(seconds=1))
    assert (await get(env.ctx, s.id)).outcome == "pending"
    env.send.clear()  # day 1's reminders
    await env.sweep(expiry)
    s = await get(env.ctx, s.id)
    assert s.outcome == "not_eligible" and "max_bsa_percent" in s.reasons
    team = env.send.to(TEAM)
    assert len(team) == 1 and "HMN-001 is now not eligible" in team[0].plain
    assert "surface" not in team[0].text.lower()  # which criterion failed stays private
    clinician = env.send.to(CLINICIAN)
    assert any(
        "not eligible" in m.text
        and "Highest detached BSA 5 % (&lt; 10 %) after the observation period" in m.text
        for m in clinician
    )  # the value and the rule, privately
    assert not any("day 2" in m.text for m in env.send.sent)  # no more window reminders
    outcome_audit = await audit_rows(env.ctx, "outcome")
    assert outcome_audit[-1]["actor"] == "system"
    assert outcome_audit[-1]["new_value"] == "not_eligible"
    await env.sweep(local(2026, 11, 25, 8))
    assert len(env.send.sent) == 2  # nothing after


async def test_a_support_person_consent_reminder_goes_privately_never_to_the_team(
    env: Env,
) -> None:
    """Who signed is an answer: the clinician and the coordinators are reminded privately."""
    now = env.clock.now
    await screen_patient(env.ctx, now, dt.date(2026, 11, 20), consent_by="support_person")
    await env.sweep(local(2026, 11, 21, 8))
    assert not any("consent" in m.text.lower() for m in env.send.to(TEAM))
    assert any("patient's own consent" in m.text for m in env.send.to(CLINICIAN))
    assert any("patient's own consent" in m.text for m in env.send.to(COORDINATOR))
    assert not any("patient's own consent" in m.text for m in env.send.to(OTHER_CLINICIAN))


# --- idle screenings -----------------------------------------------------------------------


async def test_idle_screening_reminded_once_after_2_h_and_abandoned_after_24_h(env: Env) -> None:
    start = env.clock.now

    def open_(conn: Connection) -> Screening:
        s = store.create_screening(conn, site="HMN", clinician_id=CLINICIAN,
                                   chat_id=CLINICIAN, now=start, first_question="index_date")  # fmt: skip
        store.set_session(conn, CLINICIAN, CLINICIAN, s.id, "screen", start)
        return s

    s = await env.ctx.db.write(open_)
    await env.sweep(start + dt.timedelta(hours=2) - dt.timedelta(seconds=1))
    assert env.send.sent == []
    await env.sweep(start + dt.timedelta(hours=2))
    (reminder,) = env.send.to(CLINICIAN)
    assert "waiting for an answer for 2 h" in reminder.text and "/resume HMN-001" in reminder.text
    assert (await get(env.ctx, s.id)).idle_reminded
    await env.sweep(start + dt.timedelta(hours=3))
    await env.sweep(start + dt.timedelta(hours=23, minutes=59))
    assert len(env.send.sent) == 1  # once
    await env.sweep(start + dt.timedelta(hours=24))
    s = await get(env.ctx, s.id)
    assert s.status == store.ABANDONED
    assert "abandoned after 24 h" in env.send.sent[-1].text
    (change,) = [r for r in await audit_rows(env.ctx, "status") if r["screening"] == "HMN-001"]
    assert change["new_value"] == "abandoned" and change["reason"] == "24 h without an answer"
    assert await env.ctx.db.read(store.get_session, CLINICIAN, CLINICIAN) is None
    await env.sweep(start + dt.timedelta(days=3))
    assert len(env.send.sent) == 2


async def test_an_answer_after_the_idle_reminder_restarts_the_clock(env: Env) -> None:
    start = env.clock.now
    s = await env.ctx.db.write(store.create_screening, site="HMN", clinician_id=CLINICIAN,
                               chat_id=CLINICIAN, now=start, first_question="index_date")  # fmt: skip
    await env.sweep(start + dt.timedelta(hours=2))
    answered = start + dt.timedelta(hours=5)
    await env.ctx.db.write(store.update_screening, s.id, answered, last_activity_at=answered,
                           idle_reminded=False)  # fmt: skip
    await env.sweep(start + dt.timedelta(hours=24))
    assert (await get(env.ctx, s.id)).status == store.IN_SCREENING
    await env.sweep(answered + dt.timedelta(hours=2))
    assert len(env.send.to(CLINICIAN)) == 2  # reminded again, once


# --- the task --------------------------------------------------------------------------------


async def test_the_sender_task_wakes_on_demand_and_stops_cleanly(env: Env) -> None:
    sender = ReminderSender(env.ctx, env.send, interval=3600)
    sender.start()
    try:
        await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
        env.ctx.wake_sender()  # what the flows do after a commit
        await sender.next_sweep()
        assert len(env.send.to(TEAM)) == 1
    finally:
        await sender.stop()
    env.ctx.wake_sender()  # a no-op once stopped
    claimed = await env.ctx.db.read(scalar, "SELECT COUNT(*) FROM reminders WHERE state='claimed'")
    assert claimed == 0


async def test_a_bug_in_one_row_does_not_stop_the_others(env: Env) -> None:
    await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))

    async def broken(chat_id: int, text: str, buttons: list[list[Button]]) -> None:
        if chat_id == TEAM:
            raise RuntimeError("bug")
        env.send.sent.append(Sent(chat_id, text, buttons))

    await sweep.sweep(env.ctx, local(2026, 11, 21, 8), broken)
    assert [m.chat_id for m in env.send.sent] == [CLINICIAN]
    rows = await reminder_rows(env.ctx)
    assert not [r for r in rows if r["state"] == "claimed"]
