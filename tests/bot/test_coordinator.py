"""The coordinators' views, flows called directly on a real database (a SQLite file, a
PostgreSQL schema) with a fixed clock: /status, /patient, /correct, /export (read back with
csv and openpyxl), /stats, the command line's `export DIR` (SQLite), and the role gate."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Connection

from bot.common import Actor, Context, allowed, refuse
from bot.flows import correct as correct_flow
from bot.markup import split_message
from bot.reminders import closing as outcomes
from bot.settings import load_settings
from bot.views import export as export_view
from bot.views import patient as patient_view
from bot.views import stats as stats_view
from bot.views import status as status_view
from conversations.answers import to_json
from conversations.eligibility import evaluate
from conversations.flow import without_inapplicable
from conversations.protocol import QUESTION_IDS
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.open import open_database
from storage.screenings import Screening
from storage.sql import fetch_all
from storage.sql import value as scalar
from tests.conftest import FakeClock, day, sqlite_only
from tests.conversations.support import NOW, eligible_answers

#: What a person must never read (issue 25): a snake_case id or a "user:N" recipient.
CODE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|user:\d+")


def assert_no_code(text: str) -> None:
    found = CODE.findall(re.sub(r"<[^>]+>", "", text))
    assert not found, found


CLINICIAN = 101
OTHER_CLINICIAN = 102
COORDINATOR = 202
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def ctx(database_target: Path | str, clock: FakeClock) -> AsyncIterator[Context]:
    settings = load_settings(
        LYSYME_DATABASE=str(database_target),
        LYSYME_LANGUAGE="en",
        LYSYME_TEAM_CHAT_ID="-100",
        LYSYME_TARGET_ENROLMENT="15",
        LYSYME_TIMEZONE="Europe/Paris",
        LYSYME_SITE_CODE="HMN",
    )
    context = Context(settings=settings, db=await open_database(settings.database), clock=clock)

    def grant(conn: Connection) -> None:
        user_store.grant_roles(conn, CLINICIAN, {"clinician"}, "test", NOW)
        user_store.grant_roles(conn, OTHER_CLINICIAN, {"clinician"}, "test", NOW)
        user_store.grant_roles(conn, COORDINATOR, {"coordinator"}, "test", NOW)

    await context.db.write(grant)
    yield context
    await context.db.close()


_updates = iter(range(1, 1_000_000))


async def actor(ctx: Context, user_id: int, *, update: bool = True) -> Actor:
    user = await ctx.db.read(user_store.get_user, user_id)
    return Actor(user_id=user_id, chat_id=user_id, private=True, user=user,
                 update_id=next(_updates) if update else None)  # fmt: skip


async def screen(
    ctx: Context,
    answers: dict[str, Any],
    *,
    by: int = CLINICIAN,
    at: dt.datetime = NOW,
    scorten: dict[str, float | None] | None = None,
    rescreen_of: str | None = None,
) -> Screening:
    """A screening closed the way the flow closes it (answers, outcome, reminders)."""
    clinician = await actor(ctx, by)

    def close(conn: Connection) -> Screening | None:
        s = store.create_screening(conn, site="HMN", clinician_id=by, chat_id=by, now=at,
                                   first_question="index_date", rescreen_of=rescreen_of)  # fmt: skip
        for question_id, value in answers.items():
            store.add_answer(conn, s.id, question_id, to_json(value), by=by, now=at,
                             source="screening")  # fmt: skip
        evaluation = evaluate(without_inapplicable(answers), at, ctx.zone)
        outs = outcomes.close_screening(conn, ctx, clinician, s, answers, evaluation, at)
        for out in outs:  # the result reply was delivered (the normal case)
            if out.delivers is not None:
                outbox.mark_delivered(conn, out.delivers, at)
        for measure, value in (scorten or {}).items():
            stored = "null" if value is None else json.dumps(value)
            store.add_answer(conn, s.id, f"scorten:{measure}", stored, by=by, now=at,
                             source="scorten")  # fmt: skip
        return store.get_by_id(conn, s.id)

    closed = await ctx.db.write(close)
    assert closed is not None
    return closed


async def open_screening(ctx: Context, answers: dict[str, Any]) -> Screening:
    def open_(conn: Connection) -> Screening:
        s = store.create_screening(conn, site="HMN", clinician_id=CLINICIAN,
                                   chat_id=CLINICIAN, now=NOW, first_question="age")  # fmt: skip
        for question_id, value in answers.items():
            store.add_answer(conn, s.id, question_id, to_json(value), by=CLINICIAN,
                             now=NOW, source="screening")  # fmt: skip
        return s

    return await ctx.db.write(open_)


async def update(ctx: Context, number: str, **fields: Any) -> Screening:
    def change(conn: Connection) -> Screening | None:
        s = store.get_by_number(conn, number)
        assert s is not None
        store.update_screening(conn, s.id, NOW, **fields)
        return store.get_by_number(conn, number)

    fresh = await ctx.db.write(change)
    assert fresh is not None
    return fresh


async def get(ctx: Context, number: str) -> Screening:
    s = await ctx.db.read(store.get_by_number, number)
    assert s is not None
    return s


async def text_of(outs: list[Any]) -> str:
    return "\n".join(o.text for o in outs)


async def count(ctx: Context, table: str) -> int:
    return int(await ctx.db.read(scalar, f"SELECT COUNT(*) FROM {table}"))


ELIGIBLE = eligible_answers()
SCORTEN = {"heart_rate": 125.0, "urea": 12.0, "bicarbonate": 22.0, "glucose": 8.0}


# --- /status --------------------------------------------------------------------------------


async def test_status_lists_open_patients_soonest_deadline_first(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE)  # HMN-001: deadline 23/11
    await screen(
        ctx,
        eligible_answers(consent="pending", consent_by=None, admission_date=dt.date(2026, 11, 19)),
    )  # HMN-002: 22/11
    await screen(ctx, eligible_answers(age=80))  # HMN-003 not eligible: not listed
    await open_screening(
        ctx, {"index_date": dt.date(2026, 11, 20), "admission_date": dt.date(2026, 11, 21)}
    )  # HMN-004: 24/11
    await screen(ctx, ELIGIBLE)  # HMN-005, injected below: not listed
    await update(ctx, "HMN-005", status="injected", injected_at=NOW, injected_by=CLINICIAN)
    await open_screening(ctx, {})  # HMN-006: no admission date yet, last
    outs = await status_view.status(ctx, await actor(ctx, COORDINATOR), [])
    text = await text_of(outs)
    assert text.splitlines()[0] == (
        "Screened 4 · in screening 2 · pending 1 · eligible awaiting D0 1 · injected 1 · "
        "not eligible 1 · withdrawn 0 (+ D0 window missed 0, abandoned 0)"
    )
    positions = [text.index(n) for n in ("HMN-002", "HMN-001", "HMN-004", "HMN-006")]
    assert positions == sorted(positions)
    assert "HMN-003" not in text and "HMN-005" not in text
    assert "<b>HMN-002</b> · screened · pending · TEN" in text
    assert "D0 by 22/11/2026 23:59 (1 d 13 h left)" in text
    assert "Pending: Consent" in text  # short names: never an answer value
    assert "To do: the injection (/d0 HMN-001)" in text
    assert "Current question: Age (activity" in text
    assert "D0: admission date not entered yet" in text
    # A clinician sees the same list without the summary line.
    clinician_text = await text_of(await status_view.status(ctx, await actor(ctx, CLINICIAN), []))
    assert not clinician_text.startswith("Screened")
    assert clinician_text.index("HMN-002") < clinician_text.index("HMN-001")


async def test_status_with_nobody_open(ctx: Context) -> None:
    text = await text_of(await status_view.status(ctx, await actor(ctx, CLINICIAN), []))
    assert text == "No open patient."


async def test_status_says_when_a_deadline_has_passed(ctx: Context, clock: FakeClock) -> None:
    await screen(ctx, ELIGIBLE)
    clock.now = NOW + dt.timedelta(days=3)
    text = await text_of(await status_view.status(ctx, await actor(ctx, CLINICIAN), []))
    assert "D0: deadline 23/11/2026 23:59 passed" in text


# --- /patient -------------------------------------------------------------------------------


async def test_patient_shows_the_whole_completed_record(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE, scorten=SCORTEN)
    outs = await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["hmn-001"])
    (out,) = outs
    text = out.text
    assert text.startswith("<b>HMN-001</b> · screened · eligible · TEN")
    assert "Opened 21/11/2026 10:00 by <code>101</code>" in text
    assert "Outcome: <b>eligible</b>" in text
    assert "140 × 10⁶ cells" in text and "70 kg" in text
    assert "Admission: 20/11/2026" in text
    assert "D0 deadline: <b>23/11/2026 23:59</b> (2 d 13 h left)" in text
    assert "SCORTEN: <b>4</b>/7 — predicted mortality" in text  # age, BSA, heart rate, urea
    assert "• Age: <b>58 years</b> — <code>101</code>, 21/11/2026 10:00" in text
    assert "• Admission date: <b>20/11/2026</b>" in text
    assert "• SCORTEN · Serum urea (mmol/L): <b>12 mmol/L</b>" in text
    assert "<b>Reminders</b>" in text
    assert "• D0 window · screening result → user 101: sent 21/11/2026 10:00" in text
    assert "• D0 window · day 2, 08:00 → team, owner: scheduled 22/11/2026 08:00" in text
    assert all(len(line) < 200 for line in text.splitlines())
    assert all(len(chunk) <= 4096 for chunk in split_message(text))
    assert_no_code(text)


async def test_patient_on_a_pending_screening(ctx: Context) -> None:
    await screen(ctx, eligible_answers(hiv_positive="pending", weight_kg=68.0))
    text = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-001"]))[0].text
    assert "<b>HMN-001</b> · screened · pending · TEN" in text
    assert "Pending: HIV serology: result awaited" in text  # value and rule, in words
    assert "136 × 10⁶ cells" in text
    assert "D0 deadline: <b>23/11/2026 23:59</b>" in text
    assert "Partial SCORTEN" in text  # values not given yet are missing, not zero
    assert "pending criteria · every morning → last actor: scheduled 22/11/2026 08:00" in text


async def test_patient_shows_injection_follow_ups_and_withdrawal(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE)
    injected = dt.datetime(2026, 11, 22, 9, 30, tzinfo=ctx.zone)
    await update(ctx, "HMN-001", status="injected", injected_at=injected, injected_by=CLINICIAN)

    def follow_up(conn: Connection) -> None:
        s = store.get_by_number(conn, "HMN-001")
        assert s is not None
        store.add_answer(conn, s.id, "follow_up:reepithelialisation_d7", '"yes"', by=CLINICIAN,
                         now=NOW, source="follow_up")  # fmt: skip

    await ctx.db.write(follow_up)
    text = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-001"]))[0].text
    assert "Injection (D0): <b>22/11/2026 09:30</b> by <code>101</code>" in text
    assert "• D7 complete or almost complete re-epithelialisation — on 29/11/2026: Yes" in text
    assert "• D30 vital status — on 22/12/2026: answer awaited" in text
    await screen(ctx, ELIGIBLE)
    await update(ctx, "HMN-002", status="withdrawn", withdrawn_reason="family declined")
    text = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-002"]))[0].text
    assert "Withdrawn — reason: family declined" in text


@sqlite_only
async def test_patient_usage_and_unknown_number(ctx: Context) -> None:
    coordinator_actor = await actor(ctx, COORDINATOR)
    assert (await patient_view.patient(ctx, coordinator_actor, []))[0].text.startswith("Usage")
    unknown = await patient_view.patient(ctx, coordinator_actor, ["HMN-404"])
    assert unknown[0].text == "Unknown number: HMN-404."


@sqlite_only
async def test_a_long_record_is_split_under_telegram_limit(ctx: Context) -> None:
    s = await screen(ctx, ELIGIBLE)

    def schedule(conn: Connection) -> None:
        for days in range(150):
            due = NOW + dt.timedelta(days=days)
            outbox.schedule(conn, s.id, "pending", "daily", due, ["last_actor"])

    await ctx.db.write(schedule)
    text = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-001"]))[0].text
    chunks = split_message(text)
    assert len(text) > 4096 and len(chunks) > 1
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert "\n".join(chunks) == text  # split at line breaks, nothing lost


# --- /correct -------------------------------------------------------------------------------


async def test_correct_eligible_to_not_eligible_and_back(ctx: Context, clock: FakeClock) -> None:
    await screen(ctx, ELIGIBLE, by=OTHER_CLINICIAN)
    await update(ctx, "HMN-001", last_actor_id=CLINICIAN)  # a shift change since
    coordinator_actor = await actor(ctx, COORDINATOR)
    clock.now = NOW + dt.timedelta(hours=2)
    outs = await correct_flow.correct(
        ctx, coordinator_actor, ["HMN-001", "age", "80", "transcription", "error"]
    )
    text = await text_of(outs)
    assert "✏️ <b>HMN-001</b> — Age: 58 years → <b>80 years</b>" in text
    assert "Outcome: eligible → <b>not eligible</b>" in text
    assert "Criteria not met: Age 80 years — the protocol includes 18 to 75 years" in text
    s = await get(ctx, "HMN-001")
    assert (s.outcome, s.reasons, s.dose_cells) == ("not_eligible", ("age",), None)
    reminders = await ctx.db.read(outbox.for_screening, s.id)
    audit = await ctx.db.read(
        fetch_all, "SELECT * FROM audit WHERE screening='HMN-001' ORDER BY id"
    )
    assert not [r for r in reminders if r.kind == "d0_window" and r.state == "scheduled"]
    changes = {(r.recipient, r.step) for r in reminders if r.kind == "outcome_change"}
    assert ("team", "not_eligible") in changes
    assert (f"user:{CLINICIAN}", "not_eligible") in changes  # who last acted on the patient
    assert (f"user:{OTHER_CLINICIAN}", "not_eligible") in changes  # the clinician who screened
    assert (f"user:{COORDINATOR}", "not_eligible") not in changes  # already has the reply
    correction = [r for r in audit if r["action"] == "correction"][-1]
    assert (correction["field"], correction["old_value"], correction["new_value"]) == (
        "age", "58", "80"
    )  # fmt: skip
    assert correction["reason"] == "transcription error"
    assert correction["actor"] == str(COORDINATOR)
    outcome_row = [r for r in audit if r["action"] == "outcome"][-1]
    assert (outcome_row["old_value"], outcome_row["new_value"]) == ("eligible", "not_eligible")

    # The same update delivered twice changes nothing the second time.
    again = await actor(ctx, COORDINATOR)
    outs = await correct_flow.correct(ctx, again, ["HMN-001", "age", "58", "wrong", "patient"])
    before = await count(ctx, "answers"), await count(ctx, "audit")
    repeat = await correct_flow.correct(ctx, again, ["HMN-001", "age", "58", "wrong", "patient"])
    assert "nothing changed" in await text_of(repeat)
    assert (await count(ctx, "answers"), await count(ctx, "audit")) == before
    text = await text_of(outs)
    assert "Outcome: not eligible → <b>eligible</b>" in text
    assert "140 × 10⁶ cells" in text
    s = await get(ctx, "HMN-001")
    assert (s.outcome, s.dose_cells) == ("eligible", 140_000_000)
    reminders = await ctx.db.read(outbox.for_screening, s.id)
    history = [(r.question_id, r.value, r.source, r.reason)
               for r in await ctx.db.read(store.answer_history, s.id)
               if r.question_id == "age"]  # fmt: skip
    scheduled = [r.step for r in reminders if r.kind == "d0_window" and r.state == "scheduled"]
    assert scheduled[:1] == ["day_2"]
    assert history == [
        ("age", "58", "screening", None),
        ("age", "80", "correction", "transcription error"),
        ("age", "58", "correction", "wrong patient"),
    ]
    record = (await patient_view.patient(ctx, again, ["HMN-001"]))[0].text
    assert "↳ 58 years → <b>80 years</b> (correction, <code>202</code>, 21/11/2026 12:00)" in record
    assert "reason: transcription error" in record
    assert (
        "• Not detailed: cancelled × 14" in record
    )  # the first outcome's window reminders and escalations
    assert_no_code(record)


async def test_a_correction_that_changes_nothing_in_the_outcome(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE)
    outs = await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                     ["HMN-001", "weight_kg", "72,5", "scale", "error"])  # fmt: skip
    text = await text_of(outs)
    assert "Weight: 70 kg → <b>72.5 kg</b>" in text
    assert "Outcome unchanged: eligible" in text
    assert "<b>145 × 10⁶ cells</b> (2 × 10⁶/kg × 72.5 kg)" in text
    assert (await get(ctx, "HMN-001")).dose_cells == 145_000_000


async def test_correcting_sex_withdraws_the_pregnancy_answer(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE)
    await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "sex", "male", "typo"]
    )
    s = await ctx.db.read(store.get_by_number, "HMN-001")
    assert s is not None
    current = await ctx.db.read(store.current_answers, s.id)
    assert current["sex"] == '"male"' and "pregnant_or_breastfeeding" not in current
    # Back to female: the pregnancy question is required again, so the outcome is incomplete.
    outs = await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                     ["HMN-001", "sex", "female", "typo"])  # fmt: skip
    text = await text_of(outs)
    assert "Outcome: eligible → <b>incomplete</b>" in text
    assert "Missing answers: Pregnant or breastfeeding" in text


@sqlite_only
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "Usage: /correct"),
        (["HMN-001", "age"], "Usage: /correct"),
        (["HMN-001", "age", "80"], "The reason for the correction is required"),
        (["HMN-001", "height", "180", "typo"], "Unknown name: height."),
        (["HMN-001", "d0_window", "yes", "typo"], "Unknown name: d0_window."),
        (["HMN-001", "scorten:age", "50", "typo"], "Unknown name: scorten:age."),
        (["HMN-001", "age", "eighty", "typo"], "I expect a number"),
        (["HMN-001", "age", "130", "typo"], "between 0 and 120"),
        (["HMN-001", "admission_date", day(10), "typo"], "cannot be in the future"),
        (["HMN-001", "admission_date", day(-20), "typo"], "cannot be before the index date"),
        (["HMN-001", "age", "58", "typo"], "is already 58 years: nothing changed"),
        (["HMN-001", "scorten:urea", "999", "typo"], "between 0.1 and 150"),
        (["HMN-001", "scorten:urea", "abc", "typo"], "I expect a number"),
        (["HMN-001", "injected_at", day(1), "10:00", "typo"], "no injection recorded"),
        (["HMN-001", "withdrawal", "cancel", "typo"], "is not withdrawn"),
        (["HMN-001", "withdrawal", "yes", "typo"], "the only value is “cancel”"),
        (["HMN-404", "age", "80", "typo"], "Unknown number: HMN-404."),
        (["HMN-002", "age", "80", "typo"], "still in screening"),
        (["HMN-001", "age", "80", "x" * 201], "Reason too long"),
    ],
)
async def test_bad_corrections_write_nothing(ctx: Context, args: list[str], expected: str) -> None:
    await screen(ctx, ELIGIBLE)
    await open_screening(ctx, {})
    before = [await count(ctx, t) for t in ("answers", "audit", "reminders", "processed_updates")]
    text = await text_of(await correct_flow.correct(ctx, await actor(ctx, COORDINATOR), args))
    assert expected in text
    after = [await count(ctx, t) for t in ("answers", "audit", "reminders", "processed_updates")]
    assert after == before


async def test_an_abandoned_screening_is_not_corrected(ctx: Context) -> None:
    await open_screening(ctx, {})
    await update(ctx, "HMN-001", status="abandoned")
    text = await text_of(await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                                   ["HMN-001", "age", "50", "typo"]))  # fmt: skip
    assert "was abandoned" in text


async def test_correct_a_scorten_value(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE, scorten={**SCORTEN, "glucose": None})
    outs = await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                     ["HMN-001", "scorten:glucose", "15,5", "lab", "report"])  # fmt: skip
    text = await text_of(outs)
    assert "SCORTEN · Serum glucose (mmol/L): Not available → <b>15.5 mmol/L</b>" in text
    assert "SCORTEN: <b>5</b>/7 — predicted mortality 85.0 %" in text
    outs = await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                     ["HMN-001", "glucose", "na", "wrong", "sample"])  # fmt: skip
    assert "Partial SCORTEN" in await text_of(outs)
    audit = await ctx.db.read(fetch_all, "SELECT * FROM audit WHERE field='scorten:glucose'")
    assert [(r["old_value"], r["new_value"], r["reason"]) for r in audit] == [
        ("null", "15.5", "lab report"),
        ("15.5", "null", "wrong sample"),
    ]


async def test_correct_the_injection_time_moves_follow_ups_and_flags_a_deviation(
    ctx: Context, clock: FakeClock
) -> None:
    s = await screen(ctx, ELIGIBLE)
    injected = dt.datetime(2026, 11, 22, 9, 0, tzinfo=ctx.zone)
    await update(ctx, "HMN-001", status="injected", injected_at=injected, injected_by=CLINICIAN)

    def follow_up_only(conn: Connection) -> None:
        outbox.cancel(conn, s.id, ("d0_window",))
        outbox.schedule(conn, s.id, "follow_up", "vital_status_d30",
                        dt.datetime(2026, 12, 22, 7, tzinfo=dt.UTC), ["team"])  # fmt: skip

    await ctx.db.write(follow_up_only)
    clock.now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ctx.zone)
    outs = await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR),
        ["HMN-001", "injected_at", day(3), "08:15", "time", "misread"],
    )  # fmt: skip
    text = await text_of(outs)
    assert "Injection (D0): 22/11/2026 09:00 → <b>24/11/2026 08:15</b>" in text
    assert "protocol deviation" in text
    assert "Follow-ups moved to the new D0 date: 1." in text
    fresh = await get(ctx, "HMN-001")
    assert fresh.injected_at == dt.datetime(2026, 11, 24, 8, 15, tzinfo=ctx.zone)
    assert fresh.d0_override_reason == "time misread"
    assert fresh.outcome == "eligible"  # once injected, the D0 window cannot fail
    (follow_up,) = [
        r for r in await ctx.db.read(outbox.for_screening, s.id) if r.kind == "follow_up"
    ]
    deviation = await ctx.db.read(fetch_all, "SELECT * FROM audit WHERE action='d0_deviation'")
    assert follow_up.due_at == dt.datetime(2026, 12, 24, 8, 0, tzinfo=ctx.zone)
    assert len(deviation) == 1
    record = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-001"]))[0].text
    assert "Injected after the deadline (deviation) — reason: time misread" in record
    assert "• Injection (D0):" in record  # listed under the other corrections
    assert_no_code(record)
    for bad, problem in (
        ([day(4), "13:00"], "cannot be in the future"),
        ([day(-2), "13:00"], "cannot be before admission"),
        ([day(3), "25:00"], "I expect a date and a time"),
    ):
        text = await text_of(await correct_flow.correct(
            ctx, await actor(ctx, COORDINATOR), ["HMN-001", "injected_at", *bad, "x"]))  # fmt: skip
        assert problem in text


async def test_cancel_a_withdrawal(ctx: Context) -> None:
    s = await screen(ctx, ELIGIBLE)
    await ctx.db.write(outbox.cancel, s.id)
    await update(ctx, "HMN-001", status="withdrawn", withdrawn_reason="wrong patient")
    outs = await correct_flow.correct(ctx, await actor(ctx, COORDINATOR),
                                     ["HMN-001", "withdrawal", "cancel", "recorded", "by", "mistake"])  # fmt: skip
    text = await text_of(outs)
    assert "withdrawal cancelled, status screened" in text
    fresh = await get(ctx, "HMN-001")
    assert (fresh.status, fresh.withdrawn_reason, fresh.outcome) == ("screened", None, "eligible")
    steps = [r.step for r in await ctx.db.read(outbox.for_screening, s.id)
             if r.kind == "d0_window" and r.state == "scheduled"]  # fmt: skip
    audit = await ctx.db.read(fetch_all, "SELECT * FROM audit WHERE action='correction'")
    assert "day_2" in steps  # the window reminders are back
    assert {(r["field"], r["old_value"], r["new_value"]) for r in audit} == {
        ("status", "withdrawn", "screened"),
        ("withdrawn_reason", "wrong patient", None),
    }
    # /patient lists them in words: "Status: withdrawn → screened", never the stored codes.
    record = (await patient_view.patient(ctx, await actor(ctx, COORDINATOR), ["HMN-001"]))[0].text
    assert "• Status: withdrawn → screened" in record
    assert_no_code(record)
    assert_no_code(text)


# --- /export --------------------------------------------------------------------------------


async def trial(ctx: Context) -> None:
    """Five screenings, four patients: eligible, not eligible then re-screened pending,
    injected with D30 follow-up, abandoned."""
    await screen(ctx, ELIGIBLE, scorten=SCORTEN)  # HMN-001
    await screen(ctx, eligible_answers(age=80, ward="other"))  # HMN-002
    await screen(ctx, eligible_answers(consent="pending", consent_by=None), rescreen_of="HMN-002")
    s = await screen(ctx, ELIGIBLE, scorten={**SCORTEN, "urea": 5.0})  # HMN-004, score 3
    await update(ctx, "HMN-004", status="injected", injected_at=NOW, injected_by=CLINICIAN)
    await ctx.db.write(store.add_answer, s.id, "follow_up:vital_status_d30", '"dead"',
                       by=CLINICIAN, now=NOW, source="follow_up")  # fmt: skip
    await open_screening(ctx, {"age": 50})  # HMN-005
    await update(ctx, "HMN-005", status="abandoned")


async def test_export_sends_a_csv_and_an_xlsx_that_read_back(ctx: Context) -> None:
    await trial(ctx)
    await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "weight_kg", "71", "scale"]
    )
    outs = await export_view.export(ctx, await actor(ctx, COORDINATOR), ["csv,xlsx"])
    outs.sort(key=lambda o: o.document[0] if o.document else "")  # CSV first
    assert [o.document[0] for o in outs if o.document] == [
        "lysyme-screening-log-20261121-1000+0100.csv",
        "lysyme-screening-log-20261121-1000+0100.xlsx",
    ]
    assert "5 screening(s)" in outs[0].text
    assert outs[0].document is not None and outs[1].document is not None

    rows = list(csv.DictReader(io.StringIO(outs[0].document[1].decode("utf-8"))))
    assert [r["number"] for r in rows] == [f"HMN-00{i}" for i in range(1, 6)]
    header = list(rows[0])
    assert len(header) == len(set(header))  # every column name once
    assert header[:3] == ["number", "site", "rescreen_of"]
    assert set(QUESTION_IDS) <= set(header)
    first, second, third, fourth, fifth = rows
    assert first["age"] == "58" and first["sex"] == "female" and first["social_security"] == "true"
    assert first["admission_date"] == "2026-11-20"
    assert first["d0_deadline"] == "2026-11-23T23:59:59+01:00"
    assert first["created_at"] == "2026-11-21T10:00:00+01:00"
    assert first["dose_cells"] == "142000000" and first["weight_kg"] == "71.0"
    assert first["classification"] == "ten" and first["outcome"] == "eligible"
    assert first["scorten_score"] == "4" and first["scorten_urea"] == "12.0"
    assert float(first["scorten_predicted_mortality"]) == pytest.approx(0.6225, abs=1e-4)
    assert second["failed"] == "age;ward" and second["dose_cells"] == ""
    assert third["rescreen_of"] == "HMN-002" and third["pending"] == "consent"
    assert fourth["status"] == "injected" and fourth["follow_up_vital_status_d30"] == "dead"
    assert fourth["injected_at"] == "2026-11-21T10:00:00+01:00"
    assert fifth["status"] == "abandoned" and fifth["outcome"] == ""

    book = openpyxl.load_workbook(io.BytesIO(outs[1].document[1]))
    assert book.sheetnames == ["Screenings", "Answers", "Counts", "CONSORT", "Delegation", "about"]
    for name in book.sheetnames:  # protocol version, site and extraction time on every sheet
        assert book[name]["A1"].value == "LYSYME 1.0 · site HMN · extracted 21/11/2026 10:00"
    sheet = book["Screenings"]
    titles = [c.value for c in sheet[2]]
    assert titles[:3] == ["Screening number", "Site", "Re-screen of"]
    assert "Date of admission" in titles and "Age (years)" in titles
    data = {title: cell.value for title, cell in zip(titles, sheet[3], strict=True)}
    assert data["Screening number"] == "HMN-001"
    assert data["Status"] == "screened" and data["Outcome"] == "eligible"
    assert data["Classification"] == "TEN"
    assert isinstance(data["Date of admission"], dt.datetime)  # a real date cell
    assert data["Date of admission"] == dt.datetime(2026, 11, 20)
    assert data["D0 deadline"] == dt.datetime(2026, 11, 23, 23, 59, 59)  # local time
    assert data["Dose (cells)"] == 142_000_000
    assert data["Age (years)"] == 58
    assert data["Sex"] == "Female" and data["Affiliated to a social security scheme"] == "Yes"
    assert data["SCORTEN score"] == 4
    assert data["SCORTEN predicted mortality (%)"] == 62.2
    second_row = {title: cell.value for title, cell in zip(titles, sheet[4], strict=True)}
    assert second_row["Criteria not met"] == "Age; Ward"
    assert sheet.max_row == 7

    answers = book["Answers"]
    answer_titles = [c.value for c in answers[2]]
    assert answer_titles == ["Screening number", "Question (id)", "Question", "Value",
                             "By (Telegram id)", "At", "Source", "Reason"]  # fmt: skip
    correction = [[c.value for c in row] for row in answers.iter_rows(min_row=3)
                  if row[6].value == "correction"]  # fmt: skip
    assert correction == [["HMN-001", "weight_kg", "Weight", 71.0, COORDINATOR,
                           dt.datetime(2026, 11, 21, 10, 0), "correction", "scale"]]  # fmt: skip

    counts = {
        (row[0].value, row[1].value): row[3].value for row in book["Counts"].iter_rows(min_row=3)
    }
    assert counts[("situation", "screened")] == 4
    assert counts[("funnel", "eligible")] == 3
    assert counts[("reason for non-inclusion", "abandoned")] == 1
    assert counts[("target", "target_enrolment")] == 15

    audit = await ctx.db.read(fetch_all, "SELECT * FROM audit WHERE action='export'")
    assert len(audit) == 1 and audit[0]["actor"] == str(COORDINATOR)
    assert "lysyme-screening-log-20261121-1000+0100.csv" in audit[0]["new_value"]


async def test_export_of_an_empty_trial(ctx: Context) -> None:
    outs = await export_view.export(ctx, await actor(ctx, COORDINATOR), ["csv"])
    assert outs[0].document is not None
    rows = list(csv.reader(io.StringIO(outs[0].document[1].decode("utf-8"))))
    assert rows == [list(export_view.SCREENING_COLUMNS)]


def test_cli_export_writes_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.cli.command_line import main

    database = tmp_path / "cli.sqlite3"

    async def prepare() -> None:
        settings = load_settings(LYSYME_DATABASE=str(database), LYSYME_LANGUAGE="fr")
        context = Context(settings=settings, db=await open_database(database), clock=lambda: NOW)
        await screen(context, ELIGIBLE)
        await context.db.close()

    asyncio.run(prepare())
    monkeypatch.setenv("LYSYME_DATABASE", str(database))
    monkeypatch.setenv("LYSYME_LANGUAGE", "fr")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["export", str(out_dir)]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert len(printed.out.strip().splitlines()) == 1 and str(out_dir) in printed.out
    files = sorted(p.name for p in out_dir.iterdir())
    assert len(files) == 2 and files[0].endswith(".csv") and files[1].endswith(".xlsx")
    assert all((out_dir / f).stat().st_mode & 0o077 == 0 for f in files)
    book = openpyxl.load_workbook(out_dir / files[1])
    assert book.sheetnames == [
        "Dépistages",
        "Réponses",
        "Effectifs",
        "CONSORT",
        "Délégation",
        "À propos",
    ]
    assert main(["export", str(tmp_path / "missing")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and len(printed.err.strip().splitlines()) == 1
    assert "is not a directory" in printed.err


# --- /stats ---------------------------------------------------------------------------------


@sqlite_only
async def test_stats_sends_a_png_with_the_counts(ctx: Context) -> None:
    await trial(ctx)
    outs = await stats_view.stats(ctx, await actor(ctx, COORDINATOR), [])
    out, curve = outs  # the CONSORT flow diagram, then the recruitment curve
    assert out.photo is not None and out.photo.startswith(PNG)
    assert curve.photo is not None and curve.photo.startswith(PNG) and curve.photo != out.photo
    assert "Cumulative recruitment and target (15) — extracted 21/11/2026 10:00" in curve.text
    assert "Injected 1 · Criteria not met 0 · Consent refused 0" in out.text
    assert "Screened 4 · eligible or pending 3 · injected 1 · target 15" in out.text
    # HMN-004: SCORTEN 3 → 32.4 % predicted; one observed death.
    assert "D30: 1 death(s) observed vs 0.3 expected from SCORTEN" in out.text
    assert "complete SCORTEN for 1" in out.text


@sqlite_only
async def test_stats_without_patients_is_still_a_picture(ctx: Context) -> None:
    out, curve = await stats_view.stats(ctx, await actor(ctx, COORDINATOR), [])
    assert out.photo is not None and out.photo.startswith(PNG)
    assert curve.photo is not None and curve.photo.startswith(PNG)
    assert "Screened 0" in out.text and "D30" not in out.text


def test_mortality_counts_only_patients_followed_at_d30() -> None:
    assert stats_view.mortality([], {}) is None


# --- roles and registration -----------------------------------------------------------------


@sqlite_only
async def test_roles_of_the_coordinator_commands(ctx: Context) -> None:
    clinician = (await actor(ctx, CLINICIAN)).user
    coordinator_user = (await actor(ctx, COORDINATOR)).user
    assert clinician is not None and coordinator_user is not None
    for command in ("export", "correct", "patient", "stats"):
        assert not allowed(clinician, command)
        assert allowed(coordinator_user, command)
        assert not allowed(None, command)
    assert allowed(clinician, "status") and allowed(coordinator_user, "status")
    refusal = refuse(ctx, await actor(ctx, CLINICIAN), "export")[0].text
    assert refusal == "Your role does not allow /export."
    unknown = Actor(user_id=999, chat_id=999, private=True, user=None)
    assert "HMN" not in refuse(ctx, unknown, "export")[0].text
