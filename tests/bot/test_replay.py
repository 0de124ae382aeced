"""The trail can rebuild the record (issue 22, point 6): the audit trail alone, replayed
(`conversations.replay`, read by `storage.queries.replayed_records`), gives each screening's
current answers, status, outcome and D0 facts — the same as stored, after the real flows
(screen, answer, correct, /d0, withdraw, a follow-up answer), on both backends."""

from __future__ import annotations

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.common import Context
from conversations.d0 import D0Facts
from conversations.replay import Record, differences, replay
from storage import queries
from storage.audit import verify_chain
from tests.bot.desk import Desk, screen_through, step
from tests.bot.test_coordinator import CLINICIAN, COORDINATOR, clock, ctx
from tests.conftest import FakeClock

__all__ = ["clock", "ctx"]


async def records(ctx: Context) -> tuple[dict[str, Record], dict[str, Record]]:
    def both(conn: Connection) -> tuple[dict[str, Record], dict[str, Record]]:
        return queries.replayed_records(conn), queries.stored_records(conn)

    return await ctx.db.read(both)


async def test_the_trail_alone_rebuilds_every_record(ctx: Context, clock: FakeClock) -> None:
    desk = Desk(ctx)
    # HMN-001 eligible, injected, its weight corrected (the dose given stays a fact).
    assert await screen_through(desk, CLINICIAN) == "HMN-001"
    # HMN-002 excluded (HIV positive), corrected, reopened, resumed and finished.
    assert await screen_through(desk, CLINICIAN, {"hiv_positive": ("tap", "yes")}) == "HMN-002"
    # HMN-003 eligible, then withdrawn.
    assert await screen_through(desk, CLINICIAN) == "HMN-003"
    replayed, stored = await records(ctx)
    assert replayed == stored and set(stored) == {"HMN-001", "HMN-002", "HMN-003"}
    assert stored["HMN-002"].outcome == "not_eligible"

    clock.advance(hours=1)
    await desk.command(COORDINATOR, "/correct HMN-002 hiv_positive non erreur de saisie")
    replayed, stored = await records(ctx)
    assert (stored["HMN-002"].status, stored["HMN-002"].outcome) == ("in_screening", "incomplete")
    assert replayed == stored
    await desk.command(CLINICIAN, "/resume HMN-002")
    await screen_through(desk, CLINICIAN, number="HMN-002")
    replayed, stored = await records(ctx)
    assert (stored["HMN-002"].status, stored["HMN-002"].outcome) == ("screened", "eligible")
    assert replayed == stored

    await desk.command(CLINICIAN, "/d0 HMN-001")
    await desk.tap_first(CLINICIAN, lambda b: isinstance(b, cd.D0Confirm) and b.action == "ok")
    clock.advance(minutes=30)
    await desk.command(COORDINATOR, "/correct HMN-001 poids 82 kg pesée refaite")
    await desk.command(COORDINATOR, "/correct HMN-001 scorten:glucose 2,6 g/L vérif")
    await desk.command(CLINICIAN, "/withdraw HMN-003 consentement retiré")
    await desk.tap_first(
        CLINICIAN, lambda b: isinstance(b, cd.WithdrawConfirm) and b.action == "ok"
    )
    replayed, stored = await records(ctx)
    assert replayed == stored, differences(replayed, stored)
    assert stored["HMN-001"].status == "injected" and stored["HMN-003"].status == "withdrawn"
    assert replayed["HMN-001"].d0 == D0Facts(72.5, 145_000_000, CLINICIAN, "LYSYME 1.0")
    assert replayed["HMN-001"].answers["weight_kg"] == "82.0"  # the planned dose follows it
    assert replayed["HMN-001"].answers["scorten:glucose"] == "14.43"

    # A week on: HMN-002's D0 window closed (window missed), the day-7 follow-up asked and
    # answered; then a withdrawal cancelled.
    clock.advance(days=7, hours=2)
    await desk.sweep(clock.now)
    follow_ups = desk.buttons(CLINICIAN, lambda b: isinstance(b, cd.FollowUpAnswer))
    assert follow_ups, "a follow-up question is on the clinician's screen"
    await desk.tap(CLINICIAN, *follow_ups[-1])
    await desk.command(COORDINATOR, "/correct HMN-003 withdrawal annuler erreur")
    replayed, stored = await records(ctx)
    assert replayed == stored, differences(replayed, stored)
    assert any(k.startswith("follow_up:") for k in replayed["HMN-001"].answers)
    assert stored["HMN-003"].status == "screened"
    assert stored["HMN-002"].status == "window_missed"
    assert (await ctx.db.read(verify_chain)).ok


async def test_a_screening_left_half_way_replays_as_it_stands(
    ctx: Context, clock: FakeClock
) -> None:
    desk = Desk(ctx)
    await desk.command(CLINICIAN, "/screen")
    for _ in range(5):
        assert await step(desk, CLINICIAN, "HMN-001", dict(ELIGIBLE_HALF))
    await desk.command(CLINICIAN, "/back")
    await desk.command(CLINICIAN, "/back")
    replayed, stored = await records(ctx)
    assert replayed == stored
    assert set(stored["HMN-001"].answers) == {
        "index_date", "admission_date", "diagnosis_confirmed", "age", "ward"
    }  # fmt: skip
    await desk.command(CLINICIAN, "/cancel")
    replayed, stored = await records(ctx)
    assert replayed == stored and stored["HMN-001"].status == "abandoned"


ELIGIBLE_HALF = {
    "index_date": ("type", "ago:2"),
    "admission_date": ("tap", "ago:1"),
    "diagnosis_confirmed": ("tap", "yes"),
    "age": ("type", "54"),
    "ward": ("tap", "icu"),
}


class Row:
    def __init__(self, number: str, action: str, field: str | None, new: str | None) -> None:
        self.screening, self.action, self.field, self.new_value = number, action, field, new


def test_replay_reads_rows_by_their_field_not_by_navigation() -> None:
    rows = [
        Row("HMN-001", "screening_opened", None, None),
        Row("HMN-001", "answer", "age", "54"),
        Row("HMN-001", "back", "age", None),  # navigation: the answer stays
        Row("HMN-001", "answer", "hiv_positive", '"yes"'),
        Row("HMN-001", "outcome", "outcome", "not_eligible"),
        Row("HMN-001", "status", "status", "screened"),
        Row("HMN-001", "correction", "hiv_positive", '"no"'),
        Row("HMN-001", "reopened", "status", "in_screening"),
        Row("HMN-001", "answer_withdrawn", "age", None),
        Row("HMN-001", "correction", "withdrawn_reason", None),  # a column, not an answer
        Row("HMN-002", "answer", "age", "60"),  # never opened: not a screening of the trail
    ]
    assert replay(rows) == {
        "HMN-001": Record("in_screening", "not_eligible", {"hiv_positive": '"no"'})
    }
