"""A screening keeps the protocol version it was opened under: /correct (and /update, through
the same re-evaluation) judge it by that version's rules after an amendment takes effect;
/patient and the coordinators' /status show the version."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.common import Context
from bot.flows import correct as correct_flow
from bot.views import patient as patient_view
from bot.views import status as status_view
from conversations import versions
from conversations.versions import LYSYME_1_0
from tests.bot import test_coordinator as base
from tests.bot.test_coordinator import COORDINATOR, ELIGIBLE, actor, get, screen, text_of
from tests.conftest import FakeClock
from tests.conversations.support import NOW, eligible_answers

#: Test-only amendment, in force from 22/11/2026: the upper age limit moves from 75 to 80.
LYSYME_1_1 = LYSYME_1_0.amended("LYSYME 1.1", dt.date(2026, 11, 22), age_max=80)


ctx = base.ctx  # the coordinators' suite's fixtures: a real database, a fixed clock
clock = base.clock


@pytest.fixture
def amended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(versions.REGISTRY, LYSYME_1_1.name, LYSYME_1_1)


async def test_a_1_0_screening_is_re_evaluated_under_1_0_after_1_1(
    ctx: Context, clock: FakeClock, amended: None
) -> None:
    opened = await screen(ctx, ELIGIBLE)  # 21/11/2026: LYSYME 1.0 in force
    assert opened.protocol_version == "LYSYME 1.0"
    clock.now = NOW + dt.timedelta(days=1)  # 22/11: LYSYME 1.1 in force, age limit 80
    boss = await actor(ctx, COORDINATOR)
    text = await text_of(await correct_flow.correct(ctx, boss, ["HMN-001", "age", "78", "typo"]))
    boss = await actor(ctx, COORDINATOR)  # each command is a new update
    assert "not eligible" in text  # 78 > 75: the screening's own rules
    s = await get(ctx, "HMN-001")
    assert (s.outcome, s.reasons, s.protocol_version) == ("not_eligible", ("age",), "LYSYME 1.0")

    # A screening opened under 1.1 is judged by 1.1: 78 is accepted.
    later = await screen(
        ctx, eligible_answers(age=78, admission_date=dt.date(2026, 11, 21)), at=clock.now
    )
    assert later.protocol_version == "LYSYME 1.1" and later.outcome == "eligible"
    await correct_flow.correct(ctx, boss, ["HMN-002", "age", "79", "typo"])
    assert (await get(ctx, "HMN-002")).outcome == "eligible"

    shown = await text_of(await patient_view.patient(ctx, boss, ["HMN-001"]))
    assert "Protocol: LYSYME 1.0" in shown
    status = await text_of(await status_view.status(ctx, boss, []))
    assert "Rules in force: LYSYME 1.1 (since 22/11/2026)" in status
    assert "<b>HMN-002</b>" in status  # open: eligible awaiting D0


async def test_status_tags_a_screening_judged_under_an_older_version(
    ctx: Context, clock: FakeClock, amended: None
) -> None:
    await screen(ctx, ELIGIBLE)
    clock.now = NOW + dt.timedelta(days=1)
    status = await text_of(await status_view.status(ctx, await actor(ctx, COORDINATOR), []))
    heading = next(line for line in status.splitlines() if "<b>HMN-001</b>" in line)
    assert heading.endswith(" · LYSYME 1.0")
