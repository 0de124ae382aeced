"""After day one the record stays true (issue 22, DESIGN.md): a correction never leaves a dead
end, D0 facts are facts, /correct reads values like the question does, and every view agrees.
Flows called directly on a real database (SQLite file, PostgreSQL schema), fixed clock."""

from __future__ import annotations

import datetime as dt

from bot.common import Context
from bot.flows import correct as correct_flow
from bot.flows import screening as screening_flow
from bot.views import status as status_view
from storage import reminders as outbox
from storage.db import fetch_all
from tests.bot.test_coordinator import (
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE,
    actor,
    clock,
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
    async with ctx.db.transaction() as conn:
        reminders = await outbox.for_screening(conn, s.id)
        audit = await fetch_all(conn, "SELECT * FROM audit WHERE action='reopened'")
    told = {r.recipient for r in reminders if (r.kind, r.step) == ("notice", "reopened")}
    assert told == {f"user:{CLINICIAN}", f"user:{COORDINATOR}"}  # privately, never the team
    assert [(r["old_value"], r["new_value"], r["reason"]) for r in audit] == [
        ("screened", "in_screening", "typo")
    ]
    # /status lists it among the open patients, at its first unanswered question.
    listed = await text_of(await status_view.status(ctx, coordinator, []))
    assert "HMN-001" in listed and "Current question: Hepatitis B and C serology" in listed
    assert "in screening 1" in listed
    # /resume asks the remaining questions, in order.
    clinician = await actor(ctx, CLINICIAN)
    outs = await screening_flow.resume(ctx, clinician, ["HMN-001"])
    assert "question 11/24\nActive hepatitis B or C" in await text_of(outs)
