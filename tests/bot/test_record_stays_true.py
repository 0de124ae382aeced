"""After day one the record stays true (issue 22, DESIGN.md): a correction never leaves a dead
end, D0 facts are facts, /correct reads values like the question does, and every view agrees.
Flows called directly on a real database (SQLite file, PostgreSQL schema), fixed clock."""

from __future__ import annotations

import datetime as dt

from bot.common import Context
from bot.exports import fields
from bot.flows import correct as correct_flow
from bot.flows import screening as screening_flow
from bot.views import export as export_view
from bot.views import patient as patient_view
from bot.views import status as status_view
from storage import reminders as outbox
from storage import users as user_store
from storage.sql import fetch_all
from tests.bot.test_coordinator import (
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE,
    actor,
    clock,
    count,
    ctx,
    get,
    screen,
    text_of,
)
from tests.conftest import FakeClock
from tests.conversations.support import NOW

__all__ = ["clock", "ctx"]  # the fixtures, shared with the coordinators' tests

#: What the flow had when it stopped at a positive HIV serology (the exclusion confirmed).
UP_TO_HIV = {k: v for k, v in ELIGIBLE.items() if k not in (
    "active_hepatitis_b_or_c", "sars_cov2_positive", "decompensated_heart_failure",
    "uncontrolled_epilepsy", "prior_allogeneic_bmt", "other_interventional_trial",
    "deprived_of_liberty", "compliance_concern", "tutorship_or_curatorship",
    "psychiatric_care_l1121_6", "social_security", "consent", "consent_by", "weight_kg",
)} | {"hiv_positive": "yes"}  # fmt: skip


async def test_a_corrected_exclusion_reopens_the_screening(ctx: Context, clock: FakeClock) -> None:
    await screen(ctx, UP_TO_HIV)
    s = await get(ctx, "HMN-001")
    assert (s.status, s.outcome) == ("screened", "not_eligible")
    clock.now = NOW + dt.timedelta(hours=1)
    coordinator = await actor(ctx, COORDINATOR)
    text = await text_of(
        await correct_flow.correct(ctx, coordinator, ["HMN-001", "hiv_positive", "no", "typo"])
    )
    assert "Outcome: not eligible → <b>incomplete</b>" in text
    assert "open again" in text and "/resume HMN-001" in text
    s = await get(ctx, "HMN-001")
    assert (s.status, s.outcome, s.stage, s.cursor) == (
        "in_screening", "incomplete", "question", "active_hepatitis_b_or_c"
    )  # fmt: skip
    assert s.closed_at is None
    reminders = await ctx.db.read(outbox.for_screening, s.id)
    audit = await ctx.db.read(fetch_all, "SELECT * FROM audit WHERE action='reopened'")
    told = {r.recipient for r in reminders if (r.kind, r.step) == ("notice", "reopened")}
    assert told == {f"user:{CLINICIAN}", f"user:{COORDINATOR}"}  # privately, never the team
    assert [(r["old_value"], r["new_value"], r["reason"]) for r in audit] == [
        ("screened", "in_screening", "typo")
    ]
    # /status lists it among the open patients, at its first unanswered question.
    listed = await text_of(await status_view.status(ctx, coordinator, []))
    assert "HMN-001" in listed and "Current question: Active hepatitis B or C" in listed
    assert "in screening 1" in listed
    # /resume asks the remaining questions, in order.
    clinician = await actor(ctx, CLINICIAN)
    outs = await screening_flow.resume(ctx, clinician, ["HMN-001"])
    assert "question 11/24\nActive hepatitis B or C" in await text_of(outs)


# --- D0 facts --------------------------------------------------------------------------------


async def inject(ctx: Context, number: str = "HMN-001") -> None:
    from bot.flows import injection

    clinician = await actor(ctx, CLINICIAN)
    await injection.d0(ctx, clinician, [number])
    s = await get(ctx, number)
    await injection.d0_button(ctx, await actor(ctx, CLINICIAN), f"d:{s.id}:ok")
    assert (await get(ctx, number)).status == "injected"


async def test_the_dose_given_at_d0_is_a_fact_a_weight_correction_never_rewrites(
    ctx: Context, clock: FakeClock
) -> None:
    await screen(ctx, {**ELIGIBLE, "weight_kg": 72.5})
    clock.now = NOW + dt.timedelta(hours=1)
    await inject(ctx)
    audit = await ctx.db.read(
        fetch_all, "SELECT field, new_value FROM audit WHERE action='d0_fact'"
    )
    assert {r["field"]: r["new_value"] for r in audit} == {
        "d0:weight_kg": "72.5",
        "d0:dose_cells": "145000000",
        "d0:confirmed_by": str(CLINICIAN),
        "d0:protocol_version": '"LYSYME 1.0"',
    }
    coordinator = await actor(ctx, COORDINATOR)
    text = await text_of(await correct_flow.correct(
        ctx, coordinator, ["HMN-001", "weight_kg", "75,5", "scale"]
    ))  # fmt: skip
    assert "Planned dose at the current weight: 151 × 10⁶ cells" in text
    assert "deviation" not in text  # 145 vs 151: 4 %, within 10 %
    record = await text_of(await patient_view.patient(ctx, coordinator, ["HMN-001"]))
    assert "Dose given at D0: <b>145 × 10⁶ cells</b> (weight used 72.5 kg)" in record
    assert f"eligibility confirmed by <code>{CLINICIAN}</code>, protocol LYSYME 1.0" in record
    assert "Dose deviation" not in record

    # a second coordinator, to be told
    await ctx.db.write(user_store.grant_roles, 203, {"coordinator"}, "test", NOW)
    # 82 kg: 164 × 10⁶ expected, 145 given — 11.6 % below: a dose deviation, everywhere.
    text = await text_of(await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "weight_kg", "82", "rechecked"]
    ))  # fmt: skip
    assert "⚠️ Dose deviation: 145 × 10⁶ cells given, 164 × 10⁶ expected" in text
    assert "-11.6 %" in text
    record = await text_of(await patient_view.patient(ctx, coordinator, ["HMN-001"]))
    assert "Dose given at D0: <b>145 × 10⁶ cells</b>" in record
    assert "⚠️ Dose deviation" in record
    s = await get(ctx, "HMN-001")
    data = await ctx.db.read(export_view.read_export)
    reminders = await ctx.db.read(outbox.for_screening, s.id)
    row = dict(zip(export_view.SCREENING_COLUMNS,
                   export_view._screening_row(s, data.values[s.id], ctx.zone, None), strict=True))  # fmt: skip
    assert (row["d0_weight_kg"], row["dose_given_cells"], row["d0_confirmed_by"]) == (
        72.5, 145_000_000, CLINICIAN
    )  # fmt: skip
    assert (row["dose_deviation_pct"], row["dose_deviation"]) == (-11.6, True)
    redcap = fields.record(s, data.values[s.id])
    assert (redcap["dose_given_cells"], redcap["dose_deviation"]) == (145_000_000, True)
    # The coordinators' notice (the coordinator who corrected has the reply).
    notices = [r for r in reminders if (r.kind, r.step) == ("notice", "dose_deviation")]
    assert [r.recipient for r in notices] == ["user:203"]


# --- /correct reads like the question -------------------------------------------------------


async def test_correct_reads_a_unit_and_asks_when_the_unit_is_implausible(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE, scorten={"heart_rate": 125.0, "urea": 12.0,
                                         "bicarbonate": 18.0, "glucose": 16.0})  # fmt: skip
    before = await count(ctx, "audit")
    text = await text_of(await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "glucose", "2,6", "check"]
    ))  # fmt: skip
    assert "2.6 mmol/L is not plausible for glucose, 2.6 g/L is: nothing changed" in text
    assert await count(ctx, "audit") == before
    text = await text_of(await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "scorten:glucose", "2,6", "g/L", "vérif"]
    ))  # fmt: skip
    assert "16 mmol/L → <b>14.43 mmol/L</b>" in text
    row = await ctx.db.read(
        fetch_all, "SELECT new_value, reason FROM audit WHERE action='correction'"
    )
    assert [(r["new_value"], r["reason"]) for r in row] == [("14.43", "vérif")]


async def test_correct_names_a_criterion_by_its_label_in_either_language(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE)
    for words in (["poids", "75", "erreur"], ["Poids", "76", "kg", "erreur"],
                  ["weight_kg", "77,5", "scale"], ["Weight", "78", "scale"]):  # fmt: skip
        text = await text_of(await correct_flow.correct(
            ctx, await actor(ctx, COORDINATOR), ["HMN-001", *words]
        ))  # fmt: skip
        assert "— Weight:" in text, words
    s = await get(ctx, "HMN-001")
    assert s.dose_cells == 156_000_000  # 78 kg
    text = await text_of(await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "Sérologie", "VIH", "non", "vérifié"]
    ))  # fmt: skip
    # a two-word name: the test the criterion awaits ("Sérologie VIH")
    assert "Positive HIV serology" in text and "nothing changed" in text
    text = await text_of(await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "taille", "170", "erreur"]
    ))  # fmt: skip
    assert "Unknown name: taille. Valid names (label or id):" in text
    assert "Weight (weight_kg)" in text and "SCORTEN Glucose (scorten:glucose)" in text


async def test_adduser_accepts_roles_in_french(ctx: Context) -> None:
    from bot.flows import basic

    await ctx.db.write(user_store.grant_roles, 900, {"admin"}, "test", NOW)
    admin = await actor(ctx, 900)
    for word, role in (("coordinateur", "coordinator"), ("Clinicien", "clinician"),
                       ("administrateur", "admin"), ("coordinatrice", "coordinator")):  # fmt: skip
        text = await text_of(await basic.adduser(ctx, await actor(ctx, 900), ["12345", word]))
        assert role in text, word
    refused = await text_of(await basic.adduser(ctx, admin, ["12345", "chef"]))
    assert "clinician, coordinator, admin" in refused


# --- /screen asks first ----------------------------------------------------------------------


async def test_screen_with_a_screening_open_asks_first_and_opens_nothing(ctx: Context) -> None:
    from bot import callback_data as cd

    opened = await screening_flow.screen(ctx, await actor(ctx, CLINICIAN), [])
    assert "HMN-001" in await text_of(opened)
    asked = await screening_flow.screen(ctx, await actor(ctx, CLINICIAN), [])
    assert "You have a screening open: <b>HMN-001</b>" in asked[0].text
    buttons = [b.data for row in asked[0].buttons for b in row]
    assert await count(ctx, "screenings") == 1  # nothing opened yet
    go = next(d for d in buttons if cd.decode(d) == cd.ScreenChoice(1, "go"))
    outs = await screening_flow.screen_choice(ctx, await actor(ctx, CLINICIAN), go)
    assert "Resuming screening <b>HMN-001</b>" in await text_of(outs)
    assert await count(ctx, "screenings") == 1
    new = next(d for d in buttons if cd.decode(d) == cd.ScreenChoice(1, "new"))
    outs = await screening_flow.screen_choice(ctx, await actor(ctx, CLINICIAN), new)
    assert "HMN-002" in await text_of(outs)
    assert await count(ctx, "screenings") == 2
    assert (await get(ctx, "HMN-001")).status == "in_screening"  # kept, still resumable


async def test_every_view_reads_a_reopened_screening_the_same_way(ctx: Context) -> None:
    from conversations import consort

    await screen(ctx, UP_TO_HIV)
    await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "hiv_positive", "no", "typo"]
    )
    s = await get(ctx, "HMN-001")
    data = await ctx.db.read(export_view.read_export)
    row = dict(zip(export_view.SCREENING_COLUMNS,
                   export_view._screening_row(s, data.values[s.id], ctx.zone, None), strict=True))  # fmt: skip
    assert (row["status"], row["outcome"], row["failed"], row["pending"]) == (
        "in_screening", "incomplete", [], []
    )  # fmt: skip
    assert fields.record(s, data.values[s.id])["failed"] == set()
    counts = consort.funnel(data.screenings)
    assert counts.reasons == {}  # no reason for non-inclusion: the screening is open again
    assert consort.summary_counts(data.screenings)["not_eligible"] == 0
    assert consort_of_boxes(data) == "in_progress"


def consort_of_boxes(data: export_view.ExportData) -> str:
    counts = export_view.consort_of(data)
    return next(box for box, n in counts.boxes.items() if n)
