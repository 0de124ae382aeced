"""storage.queries: the read models behind /status, /patient, /export and /stats, on both
backends (a SQLite file, a PostgreSQL schema), and the pure patient / funnel arithmetic (a
re-screen is the same patient)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from conversations import consort
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage.audit import AuditEntry, append_audit
from storage.db import Database
from storage.open import open_database
from storage.screenings import Screening

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(database_target)
    yield database
    await database.close()


async def new_screening(db: Database, rescreen_of: str | None = None, **fields: object) -> int:
    def create(conn: Connection) -> int:
        s = store.create_screening(
            conn, site="HMN", clinician_id=7, chat_id=7, now=T0, first_question="index_date",
            rescreen_of=rescreen_of,
        )  # fmt: skip
        if fields:
            store.update_screening(conn, s.id, T0, **fields)
        return s.id

    return await db.write(create)


async def test_open_screenings_are_in_screening_or_awaiting_d0(db: Database) -> None:
    await new_screening(db)  # HMN-001 in screening
    await new_screening(db, status="screened", outcome="eligible")  # 002
    await new_screening(db, status="screened", outcome="pending")  # 003
    await new_screening(db, status="screened", outcome="not_eligible")  # 004
    await new_screening(db, status="screened", outcome="eligible", injected_at=T0)  # 005
    await new_screening(db, status="withdrawn", outcome="eligible")  # 006
    await new_screening(db, status="abandoned")  # 007
    rows = await db.read(queries.open_screenings)
    assert [s.number for s in rows] == ["HMN-001", "HMN-002", "HMN-003"]


async def test_latest_values_history_and_filter(db: Database) -> None:
    first = await new_screening(db)
    second = await new_screening(db)

    def answer(conn: Connection) -> None:
        store.add_answer(conn, first, "age", "58", by=7, now=T0, source="screening")
        later = T0 + dt.timedelta(hours=1)
        store.add_answer(
            conn, first, "age", "80", by=9, now=later, source="correction", reason="typo"
        )
        store.add_answer(conn, first, "sex", '"female"', by=7, now=T0, source="screening")
        store.add_answer(conn, first, "pregnant_or_breastfeeding", '"no"', by=7, now=T0,
                         source="screening")  # fmt: skip
        store.add_answer(conn, first, "pregnant_or_breastfeeding", None, by=7, now=T0,
                         source="not_applicable")  # fmt: skip
        store.add_answer(conn, second, "age", "40", by=7, now=T0, source="screening")

    await db.write(answer)
    values = await db.read(queries.latest_values)
    ages = await db.read(queries.latest_values, ("age",))
    nothing = await db.read(queries.latest_values, ())
    history = await db.read(queries.answer_history, first)
    everything = await db.read(queries.answer_history)
    assert values[first] == {"age": "80", "sex": '"female"'}  # withdrawn answer absent
    assert ages == {first: {"age": "80"}, second: {"age": "40"}}
    assert nothing == {}
    assert [(h.question_id, h.value, h.source) for h in history[:2]] == [
        ("age", "58", "screening"),
        ("age", "80", "correction"),
    ]
    assert history[1].reason == "typo" and history[1].answered_by == 9
    assert history[1].answered_at == T0 + dt.timedelta(hours=1)
    assert all(h.number == "HMN-001" for h in history)
    assert [h.number for h in everything][-1] == "HMN-002"


def test_json_value_is_tolerant() -> None:
    assert queries.json_value('"dead"') == "dead"
    assert queries.json_value("12.5") == 12.5
    assert queries.json_value("null") is None
    assert queries.json_value(None) is None
    assert queries.json_value("dead") == "dead"  # not JSON: returned as it is


async def test_screening_audit_filters_by_number_and_action(db: Database) -> None:
    await new_screening(db)

    def record(conn: Connection) -> None:
        append_audit(conn, AuditEntry(T0, "9", "correction", "HMN-001", "age", "58", "80",
                                      "typo"))  # fmt: skip
        append_audit(conn, AuditEntry(T0, "9", "export", None))
        append_audit(conn, AuditEntry(T0, "9", "correction", "HMN-002", "age"))

    await db.write(record)
    rows = await db.read(queries.screening_audit, "HMN-001", ("correction",))
    none = await db.read(queries.screening_audit, "HMN-001", ())
    assert [(r.field, r.old_value, r.new_value, r.reason, r.actor) for r in rows] == [
        ("age", "58", "80", "typo", "9")
    ]
    assert rows[0].at == T0
    assert none == []


async def test_move_reminder_only_moves_what_is_still_scheduled(db: Database) -> None:
    sid = await new_screening(db)
    later = T0 + dt.timedelta(days=7)

    def move(conn: Connection) -> tuple[int, int, dict[int, outbox.Reminder]]:
        (scheduled,) = outbox.schedule(conn, sid, "follow_up", "vital_status_d30", T0,
                                       ["team"])  # fmt: skip
        sent = outbox.hold(conn, sid, "follow_up", "discharge_date", "team", T0)
        outbox.mark_delivered(conn, sent, T0)
        assert queries.move_reminder(conn, scheduled, later)
        assert not queries.move_reminder(conn, sent, later)
        return scheduled, sent, {r.id: r for r in outbox.for_screening(conn, sid)}

    scheduled, sent, rows = await db.write(move)
    assert rows[scheduled].due_at == later
    assert rows[sent].due_at == T0


# --- pure: patients, summary, funnel ------------------------------------------------------

BASE = Screening(
    id=0, number="", site="HMN", sequence=0, rescreen_of=None, clinician_id=7,
    last_actor_id=7, chat_id=7, status="screened", outcome="eligible", reasons=(),
    stage="done", cursor=None, proposed=None, prompt_message_id=None, admission_date=None,
    d0_deadline=None, dose_cells=None, injected_at=None, injected_by=None,
    d0_override_reason=None, withdrawn_reason=None, created_at=T0, updated_at=T0,
    closed_at=T0, last_activity_at=T0, idle_reminded=False,
)  # fmt: skip


def s(sequence: int, **fields: object) -> Screening:
    number = f"HMN-{sequence:03d}"
    return dataclasses.replace(BASE, id=sequence, number=number, sequence=sequence, **fields)  # type: ignore[arg-type]


def test_rescreens_are_one_patient_and_the_best_screening_speaks_for_it() -> None:
    rows = [
        s(1, outcome="not_eligible", reasons=("age",)),
        s(2, rescreen_of="HMN-001", outcome="eligible"),
        s(3, rescreen_of="HMN-002", status="abandoned", outcome=None),  # chain: still patient 1
        s(4, status="injected", injected_at=T0),
        s(5, rescreen_of="HMN-004", outcome="not_eligible", reasons=("consent",)),
        s(6, status="in_screening", outcome=None),
        s(7, rescreen_of="HMN-999", outcome="pending"),  # dangling link: its own patient
    ]
    patients = consort.group_patients(reversed(rows))
    assert [(p.root, [x.number for x in p.screenings]) for p in patients] == [
        ("HMN-001", ["HMN-001", "HMN-002", "HMN-003"]),
        ("HMN-004", ["HMN-004", "HMN-005"]),
        ("HMN-006", ["HMN-006"]),
        ("HMN-007", ["HMN-007"]),
    ]
    chosen = [p.chosen.number if p.chosen else None for p in patients]
    # latest not abandoned; injected wins; nothing closed yet; itself
    assert chosen == ["HMN-002", "HMN-004", None, "HMN-007"]


def test_a_loop_of_rescreens_does_not_hang() -> None:
    rows = [s(1, rescreen_of="HMN-002"), s(2, rescreen_of="HMN-001")]
    assert len(consort.group_patients(rows)) == 1


def test_only_abandoned_screenings_speak_as_abandoned() -> None:
    rows = [s(1, status="abandoned", outcome=None), s(2, rescreen_of="HMN-001",
                                                        status="abandoned", outcome=None)]  # fmt: skip
    (patient,) = consort.group_patients(rows)
    assert patient.chosen is not None and patient.chosen.number == "HMN-002"


def test_summary_counts_patients_and_screenings_in_progress() -> None:
    rows = [
        s(1, outcome="not_eligible", reasons=("age",)),
        s(2, rescreen_of="HMN-001", outcome="pending", reasons=("consent",)),
        s(3, outcome="eligible"),
        s(4, status="injected", injected_at=T0),
        s(5, status="withdrawn"),
        s(6, status="window_missed"),
        s(7, status="abandoned", outcome=None),
        s(8, status="in_screening", outcome=None),
        s(9, rescreen_of="HMN-003", status="in_screening", outcome=None),
        s(10, outcome="not_eligible", reasons=("ward", "age")),
    ]
    assert consort.summary_counts(rows) == {
        "screened": 7,
        "in_screening": 2,
        "pending": 1,
        "eligible": 1,
        "injected": 1,
        "not_eligible": 1,
        "withdrawn": 1,
        "window_missed": 1,
        "abandoned": 1,
    }


def test_funnel_counts_each_patient_once_with_reasons() -> None:
    rows = [
        s(1, outcome="not_eligible", reasons=("age",)),
        s(2, rescreen_of="HMN-001", outcome="eligible"),  # re-screen: counted once, eligible
        s(3, outcome="not_eligible", reasons=("ward", "age")),
        s(4, status="injected", outcome="eligible", injected_at=T0),
        s(5, status="withdrawn", outcome="pending"),
        s(6, status="window_missed", outcome="eligible"),
        s(7, status="abandoned", outcome=None),
        s(8, status="in_screening", outcome=None),  # not screened yet
        s(9, outcome="incomplete", reasons=()),
    ]
    numbers = consort.funnel(rows)
    assert (numbers.screened, numbers.eligible, numbers.injected) == (7, 4, 1)
    assert numbers.reasons == {
        "age": 1,
        "ward": 1,
        "withdrawn": 1,
        "window_missed": 1,
        "abandoned": 1,
        "unknown": 1,
    }


def test_an_empty_trial_has_empty_counts() -> None:
    assert consort.funnel([]) == consort.Funnel(0, 0, 0, {})
    assert set(consort.summary_counts([]).values()) == {0}
