"""A stored state this program has no member for (written by a newer program, or by hand)
never crashes the reminder sender (issue 21): a reminder of an unknown kind is skipped with
its reason, as before the rows were typed, and a screening whose status is unknown is left
alone — none of its reminders goes out, each is skipped with the status it found. On both
backends (`database_target`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Connection, RowMapping

from bot.flows.reminder_log import row_line
from conversations.reminder_kinds import ReminderKind
from conversations.stored import Unrecognised
from storage import ownership as own_store
from storage import reminders as outbox
from storage.sql import execute, fetch_one
from tests.bot.test_reminders import (
    CLINICIAN,
    TEAM,
    audit_rows,
    make_env,
    reminder_rows,
    screen_patient,
)
from tests.conversations.support import local

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_a_reminder_of_an_unknown_kind_is_skipped_with_its_reason(
    database_target: Path | str,
) -> None:
    env = await make_env(database_target, local(2026, 11, 20, 10))
    try:
        s = await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
        await env.sweep()  # the team's notice of the result
        env.send.clear()

        def write(conn: Connection) -> int:
            (row_id,) = outbox.schedule(
                conn, s.id, ReminderKind.NOTICE, "injected", env.clock.now, [outbox.TEAM]
            )
            execute(conn, "UPDATE reminders SET kind='surprise' WHERE id=:id", {"id": row_id})
            return row_id

        row_id = await env.ctx.db.write(write)
        result = await env.sweep()
        assert env.send.sent == [] and result.skipped == 1

        def read(conn: Connection) -> tuple[RowMapping | None, list[own_store.LogRow]]:
            row = fetch_one(conn, "SELECT * FROM reminders WHERE id=:id", {"id": row_id})
            return row, [r for r in own_store.reminder_log(conn, [s.id]) if r.id == row_id]

        row, (logged,) = await env.ctx.db.read(read)
        assert row is not None
        assert (row["kind"], row["state"], row["last_error"]) == (
            "surprise", "skipped", "unknown kind surprise"
        )  # fmt: skip
        audited = await audit_rows(env.ctx, "reminder_skipped")
        assert any(a["reason"] == "unknown kind surprise" for a in audited)
        # /reminders words it without the id: an unknown kind in neutral words.
        assert isinstance(logged.kind, Unrecognised)
        line = row_line("en", env.ctx, logged, s, {})
        assert "surprise" not in line and "skipped" in line
    finally:
        await env.ctx.db.close()


async def test_a_screening_whose_status_is_unknown_is_left_alone(
    database_target: Path | str,
) -> None:
    env = await make_env(database_target, local(2026, 11, 20, 10))
    try:
        s = await screen_patient(env.ctx, env.clock.now, dt.date(2026, 11, 20))
        await env.sweep()
        env.send.clear()
        await env.ctx.db.write(
            execute, "UPDATE screenings SET status='on_hold' WHERE id=:id", {"id": s.id}
        )
        await env.sweep(local(2026, 11, 21, 8, 5))  # day 1 of the D0 window
        assert env.send.to(CLINICIAN) == [] and env.send.to(TEAM) == []
        skipped = [
            r for r in await reminder_rows(env.ctx, s.id)
            if r["kind"] == "d0_window" and r["state"] == "skipped"
        ]  # fmt: skip
        assert skipped and all(r["last_error"] == "status on_hold" for r in skipped)
    finally:
        await env.ctx.db.close()
