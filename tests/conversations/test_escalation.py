"""The D0 escalation plan (issue 14): local wall-clock times across both DST changes, the
last day, and acknowledgement or a plan cancelling escalation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.escalation import (
    Audience,
    EscalationStep,
    LoopState,
    future_window_plan,
    parse_step,
    planned_injection_plan,
    quiet_hours,
    still_relevant,
    unacknowledged_step,
    window_plan,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


OPEN = LoopState(acknowledged_at=None, planned_at=None, injected=False, closed=False)


def test_plan_in_winter_is_10_00_on_each_day_and_14_00_on_the_last() -> None:
    plan = window_plan(dt.date(2026, 11, 20), PARIS)
    assert [(e.step, e.due, e.audience, e.urgent) for e in plan] == [
        ("unacknowledged_1", utc(2026, 11, 21, 9), Audience.COORDINATORS, False),
        ("unacknowledged_2", utc(2026, 11, 22, 9), Audience.COORDINATORS, False),
        ("unacknowledged_3", utc(2026, 11, 23, 9), Audience.COORDINATORS, False),
        ("no_plan_last_day", utc(2026, 11, 23, 13), Audience.COORDINATORS_AND_ADMINS, True),
    ]


def test_autumn_dst_change_keeps_local_wall_clock_times() -> None:
    # Clocks go back on 25/10/2026 at 03:00: 10:00 is 08:00 UTC the day before, 09:00 after.
    plan = window_plan(dt.date(2026, 10, 23), PARIS)
    assert [e.due.astimezone(PARIS).time() for e in plan] == [
        dt.time(10),
        dt.time(10),
        dt.time(10),
        dt.time(14),
    ]
    assert plan[0].due == utc(2026, 10, 24, 8)
    assert plan[1].due == utc(2026, 10, 25, 9)


def test_spring_dst_change_keeps_local_wall_clock_times() -> None:
    # Clocks go forward on 29/03/2026 at 02:00.
    plan = window_plan(dt.date(2026, 3, 27), PARIS)
    assert plan[0].due == utc(2026, 3, 28, 9)
    assert plan[1].due == utc(2026, 3, 29, 8)
    assert plan[-1].due == utc(2026, 3, 30, 12)


def test_steps_already_past_are_dropped() -> None:
    now = local(2026, 11, 22, 11)
    steps = [e.step for e in future_window_plan(dt.date(2026, 11, 20), now, PARIS)]
    assert steps == ["unacknowledged_3", "no_plan_last_day"]


def test_an_unanswered_morning_escalates() -> None:
    assert still_relevant(
        "unacknowledged_2",
        utc(2026, 11, 22, 9),
        OPEN,
        admission_date=dt.date(2026, 11, 20),
        zone=PARIS,
    )


def test_an_acknowledgement_answers_that_morning_and_earlier_ones_not_later_ones() -> None:
    admission = dt.date(2026, 11, 20)
    acknowledged = LoopState(local(2026, 11, 22, 8, 30), None, False, False)
    relevant = [
        still_relevant(e.step, e.due, acknowledged, admission_date=admission, zone=PARIS)
        for e in window_plan(admission, PARIS)
    ]
    # Mornings up to day 2 are answered (a step held back by downtime is not sent late);
    # day 3 needs its own answer; the last day still needs a plan.
    assert relevant == [False, False, True, True]


def test_acknowledged_before_the_morning_does_not_answer_it() -> None:
    state = LoopState(local(2026, 11, 22, 7, 59), None, False, False)
    assert still_relevant(
        "unacknowledged_2",
        utc(2026, 11, 22, 9),
        state,
        admission_date=dt.date(2026, 11, 20),
        zone=PARIS,
    )


def test_a_plan_answers_the_mornings_before_it_and_the_last_day_check() -> None:
    admission = dt.date(2026, 11, 20)
    planned = LoopState(local(2026, 11, 21, 9), local(2026, 11, 23, 15), False, False)
    relevant = [
        still_relevant(e.step, e.due, planned, admission_date=admission, zone=PARIS)
        for e in window_plan(admission, PARIS)
    ]
    assert relevant == [False, False, False, False]


@pytest.mark.parametrize("state", [
    LoopState(None, None, injected=True, closed=False),
    LoopState(None, None, injected=False, closed=True),
])  # fmt: skip
def test_injection_or_closing_cancels_every_step(state: LoopState) -> None:
    admission = dt.date(2026, 11, 20)
    steps = window_plan(admission, PARIS) + planned_injection_plan(
        local(2026, 11, 23, 15), local(2026, 11, 21, 9)
    )
    assert not any(
        still_relevant(e.step, e.due, state, admission_date=admission, zone=PARIS) for e in steps
    )


def test_planned_time_reminds_an_hour_before_and_reports_after_the_grace() -> None:
    plan = planned_injection_plan(local(2026, 11, 23, 15), local(2026, 11, 21, 9))
    assert [(e.step, e.due.astimezone(PARIS).time(), e.audience) for e in plan] == [
        ("before_planned", dt.time(14), Audience.OWNER),
        ("planned_passed", dt.time(16), Audience.OWNER_AND_COORDINATORS),
    ]


def test_a_plan_made_less_than_an_hour_ahead_gets_no_early_reminder() -> None:
    plan = planned_injection_plan(local(2026, 11, 23, 15), local(2026, 11, 23, 14, 30))
    assert [e.step for e in plan] == ["planned_passed"]


def test_a_new_plan_makes_the_old_plans_steps_moot() -> None:
    admission = dt.date(2026, 11, 20)
    old = planned_injection_plan(local(2026, 11, 23, 15), local(2026, 11, 21, 9))
    replanned = LoopState(local(2026, 11, 22, 9), local(2026, 11, 23, 18), False, False)
    assert not any(
        still_relevant(e.step, e.due, replanned, admission_date=admission, zone=PARIS) for e in old
    )
    new = planned_injection_plan(local(2026, 11, 23, 18), local(2026, 11, 22, 9))
    assert all(
        still_relevant(e.step, e.due, replanned, admission_date=admission, zone=PARIS) for e in new
    )


def test_nothing_escalates_once_the_window_has_closed() -> None:
    admission = dt.date(2026, 11, 20)
    steps = window_plan(admission, PARIS)
    before = local(2026, 11, 23, 23, 59)
    after = local(2026, 11, 24, 0, 0, 1)  # the deadline is 23/11 23:59:59
    kwargs = {"admission_date": admission, "zone": PARIS}
    assert still_relevant(steps[-1].step, steps[-1].due, OPEN, now=before, **kwargs)
    assert not any(still_relevant(e.step, e.due, OPEN, now=after, **kwargs) for e in steps)


def test_step_names_round_trip_and_unknown_ones_are_refused() -> None:
    assert parse_step(unacknowledged_step(3)) == (EscalationStep.UNACKNOWLEDGED, 3)
    assert parse_step("no_plan_last_day") == (EscalationStep.NO_PLAN_LAST_DAY, None)
    for bad in ("unacknowledged_4", "unacknowledged_²", "unacknowledged_", "nonsense"):
        with pytest.raises(ValueError):
            parse_step(bad)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_quiet_hours_are_22_to_7_local(moment: dt.datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    hour = aware.astimezone(PARIS).hour
    assert quiet_hours(aware, PARIS) == (hour >= 22 or hour < 7)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_every_plan_is_in_time_order_within_the_window(admission: dt.date) -> None:
    plan = window_plan(admission, PARIS)
    dues = [e.due for e in plan]
    assert dues == sorted(dues)
    assert all(
        admission < e.due.astimezone(PARIS).date() <= admission + dt.timedelta(days=3) for e in plan
    )


# --- the typed planned time (issue 14) -------------------------------------------------------


def test_planned_time_parses_local_wall_clock_times_within_the_window() -> None:
    from conversations.escalation import PlanError, parse_planned_time

    paris = ZoneInfo("Europe/Paris")
    now = dt.datetime(2026, 11, 21, 9, 0, tzinfo=paris)
    deadline = dt.datetime(2026, 11, 23, 23, 59, 59, tzinfo=paris)
    utc = dt.UTC

    def parse(text: str) -> dt.datetime | PlanError:
        return parse_planned_time(text, now, paris, deadline)

    assert parse("14:30") == dt.datetime(2026, 11, 21, 13, 30, tzinfo=utc)
    assert parse(" 14h30 ") == dt.datetime(2026, 11, 21, 13, 30, tzinfo=utc)
    assert parse("08:00") == dt.datetime(2026, 11, 22, 7, 0, tzinfo=utc)  # passed today: tomorrow
    assert parse("23/11 09:00") == dt.datetime(2026, 11, 23, 8, 0, tzinfo=utc)
    assert parse("23/11/2026 23:59") == dt.datetime(2026, 11, 23, 22, 59, tzinfo=utc)
    assert parse("21/11 08:30") is PlanError.PAST
    assert parse("24/11 08:00") is PlanError.AFTER_DEADLINE
    for bad in ("", "tomorrow", "25:00", "31/02 10:00", "14:3", "14:30:00"):
        assert parse(bad) is PlanError.NOT_A_TIME, bad


def test_planned_time_across_the_spring_change_is_the_wall_clock_time() -> None:
    from conversations.escalation import parse_planned_time

    paris = ZoneInfo("Europe/Paris")
    now = dt.datetime(2026, 3, 28, 12, 0, tzinfo=paris)
    planned = parse_planned_time("29/03 09:00", now, paris, None)
    assert planned == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)  # CEST: UTC+2
