"""A database of varied screenings for the export tests: every status, every outcome, every
criterion that can be pending, a correction, a re-screen, complete and partial SCORTEN, and
every follow-up answer. Built the way the flows build it (tests/bot/test_coordinator.py)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection

from bot.common import Context
from bot.flows import correct as correct_flow
from storage import screenings as store
from storage.audit import AuditEntry, append_audit
from tests.bot.test_coordinator import (
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE,
    SCORTEN,
    actor,
    open_screening,
    screen,
    update,
)
from tests.conversations.support import NOW, eligible_answers

#: What each screening is, by number (for the hand-counted CONSORT test).
VARIED = {
    "HMN-001": "eligible, awaiting D0, weight corrected",
    "HMN-002": "not eligible: age and ward",
    "HMN-003": "re-screen of HMN-002: pending consent",
    "HMN-004": "pending HIV serology (male)",
    "HMN-005": "pending BSA, pregnancy test, hepatitis and SARS-CoV-2",
    "HMN-006": "injected, partial SCORTEN, every follow-up answered, died at D30",
    "HMN-007": "injected, still in hospital at the discharge question",
    "HMN-008": "withdrawn while eligible",
    "HMN-009": "D0 window missed",
    "HMN-010": "abandoned",
    "HMN-011": "in screening",
    "HMN-012": "consent refused",
    "HMN-013": "incomplete after a correction",
    "HMN-014": "not eligible: D0 window past",
}


async def _follow_up(ctx: Context, number: str, key: str, value: object) -> None:
    def write(conn: Connection) -> None:
        s = store.get_by_number(conn, number)
        assert s is not None
        stored = json.dumps(value)
        store.add_answer(conn, s.id, f"follow_up:{key}", stored, by=CLINICIAN, now=NOW,
                         source="follow_up")  # fmt: skip
        append_audit(conn, AuditEntry(NOW, str(CLINICIAN), "follow_up", number,
                                      f"follow_up:{key}", None, stored))  # fmt: skip

    await ctx.db.write(write)


async def varied_trial(ctx: Context) -> None:
    await screen(ctx, ELIGIBLE, scorten=SCORTEN)  # HMN-001
    await screen(ctx, eligible_answers(age=80, ward="other"))  # HMN-002
    await screen(ctx, eligible_answers(consent="pending", consent_by=None),
                 rescreen_of="HMN-002")  # HMN-003  # fmt: skip
    await screen(ctx, eligible_answers(sex="male", hiv_positive="pending"))  # HMN-004
    await screen(ctx, eligible_answers(max_bsa_percent=5.0, pregnant_or_breastfeeding="pending",
                                       active_hepatitis_b_or_c="pending",
                                       sars_cov2_positive="pending"))  # HMN-005  # fmt: skip
    await screen(ctx, ELIGIBLE, scorten={**SCORTEN, "urea": None})  # HMN-006: partial
    await update(ctx, "HMN-006", status="injected", injected_at=NOW, injected_by=CLINICIAN)
    for key, value in (("reepithelialisation_d7", "yes"), ("adverse_events_d10", "no"),
                       ("vital_status_d30", "dead"), ("discharge_date", "2026-12-20")):  # fmt: skip
        await _follow_up(ctx, "HMN-006", key, value)
    await screen(ctx, ELIGIBLE, scorten=SCORTEN)  # HMN-007
    await update(ctx, "HMN-007", status="injected", injected_at=NOW, injected_by=CLINICIAN)
    await _follow_up(ctx, "HMN-007", "vital_status_d30", "alive")
    await _follow_up(ctx, "HMN-007", "discharge_date", "still_hospitalised")
    await screen(ctx, ELIGIBLE)  # HMN-008
    await update(ctx, "HMN-008", status="withdrawn",
                 withdrawn_reason='=cmd "quoted", comma\nand a new line')  # fmt: skip
    await screen(ctx, ELIGIBLE)  # HMN-009
    await update(ctx, "HMN-009", status="window_missed")
    await open_screening(ctx, {"age": 50})  # HMN-010
    await update(ctx, "HMN-010", status="abandoned")
    await open_screening(ctx, {"index_date": dt.date(2026, 11, 20)})  # HMN-011
    await screen(ctx, eligible_answers(consent="refused", consent_by=None))  # HMN-012
    await screen(ctx, ELIGIBLE)  # HMN-013
    await update(ctx, "HMN-013", outcome="incomplete", reasons=("weight_kg",))
    await screen(ctx, ELIGIBLE, at=NOW + dt.timedelta(days=3))  # HMN-014: past the deadline
    await correct_flow.correct(
        ctx, await actor(ctx, COORDINATOR), ["HMN-001", "weight_kg", "71,5", "scale", "error"]
    )
