"""Typed state end to end (issue 21): rows read back hold the core's enum members on both
backends (a SQLite file, a PostgreSQL schema) while the database keeps the same plain text;
a stored text with no member is read as `Unrecognised`, never a crash; and mypy (strict)
rejects a misspelt state, field or member where a screening or a reminder is written."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, RowMapping

from conversations.eligibility import Outcome
from conversations.lifecycle import Stage, Status
from conversations.reminder_kinds import ReminderKind, ReminderState
from conversations.standing import standing
from conversations.stored import Unrecognised
from storage import ownership as own_store
from storage import reminders as outbox
from storage import screenings as store
from storage.db import Database
from storage.open import open_database
from storage.sql import execute, fetch_one
from tests.conftest import T0

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


async def test_rows_read_back_hold_the_core_members(db: Database) -> None:
    later = T0 + dt.timedelta(minutes=5)

    def write(conn: Connection) -> tuple[store.Screening, int, int]:
        s = store.create_screening(conn, site="HMN", clinician_id=7, chat_id=7, now=T0,
                                   first_question="index_date")  # fmt: skip
        assert s.status is Status.IN_SCREENING and s.stage is Stage.QUESTION and s.outcome is None
        store.update_screening(conn, s.id, later, status=Status.SCREENED,
                               outcome=Outcome.PENDING, reasons=("hiv", "hbv"),
                               stage=Stage.DONE, cursor=None, closed_at=later)  # fmt: skip
        held = outbox.hold(conn, s.id, ReminderKind.D0_WINDOW, "outcome", "user:7", T0)
        (queued,) = outbox.schedule(conn, s.id, ReminderKind.PENDING, "daily", T0, ["team"])
        outbox.mark_delivered(conn, held, later)
        return s, held, queued

    s, held, queued = await db.write(write)

    def read_back(
        conn: Connection,
    ) -> tuple[
        store.Screening | None,
        tuple[store.Screening, dict[str, str]] | None,
        list[store.Screening],
        list[outbox.Reminder],
        list[own_store.LogRow],
        RowMapping | None,
        RowMapping | None,
    ]:
        return (
            store.get_by_id(conn, s.id),
            store.get_with_answers(conn, s.id),
            store.list_screenings(conn, (Status.SCREENED,)),
            outbox.for_screening(conn, s.id),
            own_store.reminder_log(conn, [s.id]),
            fetch_one(
                conn, "SELECT status, outcome, stage FROM screenings WHERE id=:id", {"id": s.id}
            ),
            fetch_one(conn, "SELECT state FROM reminders WHERE id=:id", {"id": held}),
        )

    read, loaded, listed, rows, log, raw, raw_states = await db.read(read_back)
    assert read is not None and loaded is not None
    for screening in (read, loaded[0], *listed):
        assert type(screening.status) is Status and screening.status is Status.SCREENED
        assert type(screening.outcome) is Outcome and screening.outcome is Outcome.PENDING
        assert type(screening.stage) is Stage and screening.stage is Stage.DONE
        assert screening.reasons == ("hiv", "hbv")
    assert [(r.id, r.kind, r.state) for r in rows] == [
        (held, ReminderKind.D0_WINDOW, ReminderState.SENT),
        (queued, ReminderKind.PENDING, ReminderState.SCHEDULED),
    ]
    assert all(type(r.kind) is ReminderKind and type(r.state) is ReminderState for r in rows)
    assert [(r.kind, r.state) for r in log] == [(r.kind, r.state) for r in rows]
    assert all(type(r.kind) is ReminderKind and type(r.state) is ReminderState for r in log)
    # The database keeps the plain text, as every earlier version wrote it.
    assert raw is not None and raw_states is not None
    assert (raw["status"], raw["outcome"], raw["stage"]) == ("screened", "pending", "done")
    assert raw_states["state"] == "sent"
    assert all(type(value) is str for value in (*raw.values(), *raw_states.values()))
    # Text shown to people or exported is worded from the value, exactly as before.
    assert f"status.{read.status}" == "status.screened"
    assert f"{rows[1].kind}:{rows[1].state}" == "pending:scheduled"
    assert str(read.outcome) == "pending" and str(read.stage) == "done"


async def test_claimed_rows_come_back_typed_too(db: Database) -> None:
    def write(conn: Connection) -> tuple[outbox.Reminder, outbox.Reminder]:
        s = store.create_screening(conn, site="HMN", clinician_id=7, chat_id=7, now=T0,
                                   first_question="index_date")  # fmt: skip
        outbox.schedule(conn, s.id, ReminderKind.FOLLOW_UP, "d3", T0, ["user:7"])
        (claimed,) = outbox.claim_due(conn, T0, kinds=(ReminderKind.FOLLOW_UP,))
        outbox.mark_skipped(conn, claimed.id, "answered")
        (skipped,) = outbox.for_screening(conn, s.id)
        return claimed, skipped

    claimed, skipped = await db.write(write)
    assert claimed.kind is ReminderKind.FOLLOW_UP and claimed.step == "d3"
    assert skipped.state is ReminderState.SKIPPED and skipped.last_error == "answered"


async def test_a_stored_text_with_no_member_is_read_unrecognised_not_a_crash(
    db: Database,
) -> None:
    """Written by a newer program (a kind or a status added without a schema change), or by
    hand: read verbatim as `Unrecognised`, equal to no member, so no rule acts on it."""

    def write(conn: Connection) -> store.Screening:
        s = store.create_screening(conn, site="HMN", clinician_id=7, chat_id=7, now=T0,
                                   first_question="index_date")  # fmt: skip
        (row_id,) = outbox.schedule(conn, s.id, ReminderKind.IDLE, "first", T0, ["user:7"])
        execute(
            conn,
            "UPDATE screenings SET status='on_hold', outcome='maybe', stage='elsewhere' "
            "WHERE id=:id",
            {"id": s.id},
        )
        execute(
            conn,
            "UPDATE reminders SET kind='surprise', state='parked' WHERE id=:id",
            {"id": row_id},
        )
        return s

    s = await db.write(write)

    def read_back(
        conn: Connection,
    ) -> tuple[store.Screening | None, list[outbox.Reminder], list[own_store.LogRow]]:
        return (
            store.get_by_id(conn, s.id),
            outbox.for_screening(conn, s.id),
            own_store.reminder_log(conn, [s.id]),
        )

    read, (row,), (logged,) = await db.read(read_back)
    assert read is not None
    for value, text in ((read.status, "on_hold"), (read.outcome, "maybe"),
                        (read.stage, "elsewhere"), (row.kind, "surprise"),
                        (row.state, "parked"), (logged.kind, "surprise"),
                        (logged.state, "parked")):  # fmt: skip
        assert isinstance(value, Unrecognised) and value == text and f"{value}" == text
    assert read.status not in set(Status) and read.outcome not in set(Outcome)
    assert row.kind not in set(ReminderKind) and row.state not in set(ReminderState)
    where = standing(read)  # every view's reading: the stored words, no category invented
    assert where.status == "on_hold" and where.outcome == "maybe"
    assert where.failed == where.pending == where.missing == ()


MISSPELT = """
    import datetime as dt

    from sqlalchemy import Connection

    from conversations.eligibility import Outcome
    from conversations.lifecycle import PatientFacts, Stage, Status
    from conversations.reminder_kinds import ReminderKind, ReminderState
    from storage import reminders as outbox
    from storage.reminders import Reminder
    from storage.screenings import update_screening


    def close(conn: Connection, now: dt.datetime, row: Reminder) -> None:
        update_screening(conn, 1, now, status=Status.SCREENED)
        update_screening(conn, 1, now, outcome=Outcome.ELIGIBLE, cursor=None)
        update_screening(conn, 1, now, stage=Stage.DONE)
        update_screening(conn, 1, now, withdrawn_reason="moved away")
        outbox.schedule(conn, 1, ReminderKind.NOTICE, "injected", now, ["team"])
        PatientFacts(status=Status.SCREENED, outcome=None, reasons=(), injected=False)
        assert row.state is ReminderState.SENT
"""

#: Each misspelling (one per line of the snippet), and the words of mypy's error about it.
MISTAKES = {
    "status=Status.SCREENED)": ('status="screend")', '"status"'),
    "outcome=Outcome.ELIGIBLE,": ("outcome=Outcome.ELIGBLE,", "ELIGBLE"),
    "stage=Stage.DONE)": ('stage="finished")', '"stage"'),
    "withdrawn_reason=": ("withdrawn_reson=", "withdrawn_reson"),
    "ReminderKind.NOTICE,": ('"notice",', '"schedule"'),
    "PatientFacts(status=Status.SCREENED": ('PatientFacts(status="screend"', '"status"'),
    "ReminderState.SENT": ("ReminderState.SENDT", "SENDT"),
}


def _mypy(tmp_path: Path, sources: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One mypy run (strict) over several snippets: the project they import is analysed once."""
    for name, source in sources.items():
        (tmp_path / name).write_text(textwrap.dedent(source))
    return subprocess.run(  # mypy is part of the dev extra, as in .ci/run
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), *(str(tmp_path / name) for name in sources)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_mypy_catches_a_misspelt_state_field_or_member(tmp_path: Path) -> None:
    """The approach of tests/conversations/test_lifecycle.py: mypy run on a snippet. Spelt
    right it passes; each misspelling (a status or stage given as a wrong text, a member
    that does not exist, a field name of `update_screening`) is one error on its line."""
    wrong = MISSPELT
    for right, (misspelt, _) in MISTAKES.items():
        assert wrong.count(right) == 1, right
        wrong = wrong.replace(right, misspelt)
    checked = _mypy(tmp_path, {"spelt_right.py": MISSPELT, "misspelt.py": wrong})
    assert checked.returncode == 1, checked.stdout
    assert "spelt_right.py" not in checked.stdout, checked.stdout  # spelt right: no error
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert all(line.startswith(str(tmp_path / "misspelt.py")) for line in errors), errors
    lines = textwrap.dedent(wrong).splitlines()
    flagged = {int(line.split(":")[1]) for line in errors}
    assert flagged == {
        number for number, text in enumerate(lines, 1)
        if any(misspelt in text for misspelt, _ in MISTAKES.values())
    }, checked.stdout  # fmt: skip
    for _, words in MISTAKES.values():
        assert any(words in line for line in errors), (words, checked.stdout)
