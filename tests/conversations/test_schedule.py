"""Reminder times (DESIGN.md "Reminders"): wall-clock times in Europe/Paris, DST-safe."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations.eligibility import Outcome, evaluate
from conversations.schedule import (
    FOLLOW_UPS,
    bsa_expiry,
    d0_window_steps,
    follow_up_due,
    follow_up_plan,
    future_window_steps,
    next_morning,
)
from tests.conversations.support import PARIS, UTC, eligible_answers, local, utc

NOVEMBER = dt.date(2026, 11, 20)


def dues(steps) -> list[dt.datetime]:
    return [step.due for step in steps]


def test_d0_window_steps_in_winter() -> None:
    steps = d0_window_steps(NOVEMBER, PARIS)
    assert sorted(dues(steps)) == [
        utc(2026, 11, 21, 7),  # 08:00 on admission + 1
        utc(2026, 11, 22, 7),  # 08:00 on admission + 2
        utc(2026, 11, 23, 7),  # 08:00 on admission + 3 (last day)
        utc(2026, 11, 23, 13),  # 14:00 on the last day
        utc(2026, 11, 23, 19),  # 20:00 on the last day
        utc(2026, 11, 24, 7),  # window closed, 08:00 the next morning
    ]


def test_d0_window_steps_are_in_utc_and_in_order() -> None:
    steps = d0_window_steps(NOVEMBER, PARIS)
    assert dues(steps) == sorted(dues(steps))
    for due in dues(steps):
        assert due.utcoffset() == dt.timedelta(0)
    assert len({step.step for step in steps}) == len(steps)  # distinct step names


def test_the_last_d0_window_step_is_window_closed_after_the_deadline() -> None:
    steps = d0_window_steps(NOVEMBER, PARIS)
    last = max(steps, key=lambda step: step.due)
    assert "closed" in last.step
    deadline = evaluate(eligible_answers(), local(2026, 11, 21, 10), PARIS).d0_deadline
    assert last.due > deadline
    assert all(step.due <= deadline for step in steps if step is not last)


def test_d0_window_steps_across_spring_forward() -> None:
    # Clocks go forward on Sunday 2026-03-29 at 02:00.
    steps = d0_window_steps(dt.date(2026, 3, 27), PARIS)
    assert sorted(dues(steps)) == [
        utc(2026, 3, 28, 7),  # 08:00 UTC+1
        utc(2026, 3, 29, 6),  # 08:00 UTC+2, the day of the change
        utc(2026, 3, 30, 6),
        utc(2026, 3, 30, 12),
        utc(2026, 3, 30, 18),
        utc(2026, 3, 31, 6),
    ]
    for due in dues(steps):
        assert due.astimezone(PARIS).time() in (dt.time(8), dt.time(14), dt.time(20))


def test_d0_window_steps_across_fall_back() -> None:
    # Clocks go back on Sunday 2026-10-25 at 03:00.
    steps = d0_window_steps(dt.date(2026, 10, 23), PARIS)
    assert sorted(dues(steps)) == [
        utc(2026, 10, 24, 6),  # 08:00 UTC+2
        utc(2026, 10, 25, 7),  # 08:00 UTC+1, the day of the change
        utc(2026, 10, 26, 7),
        utc(2026, 10, 26, 13),
        utc(2026, 10, 26, 19),
        utc(2026, 10, 27, 7),
    ]


@pytest.mark.parametrize(
    ("now", "remaining"),
    [
        # Screened on admission day: every step is ahead.
        (local(2026, 11, 20, 22), 6),
        # Screened at 09:00 on admission + 1: the 08:00 step is past.
        (local(2026, 11, 21, 9), 5),
        # Screened at 15:00 on the last day: only 20:00 and "window closed" remain.
        (local(2026, 11, 23, 15), 2),
        (utc(2026, 11, 23, 14), 2),
        # After the window closed: nothing.
        (local(2026, 11, 24, 9), 0),
    ],
)
def test_future_window_steps_skip_past_steps(now: dt.datetime, remaining: int) -> None:
    steps = future_window_steps(NOVEMBER, now, PARIS)
    assert len(steps) == remaining
    assert all(step.due > now for step in steps)
    everything = d0_window_steps(NOVEMBER, PARIS)
    assert dues(steps) == [due for due in dues(everything) if due > now]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 21, 7, 59), local(2026, 11, 21, 8)),
        (local(2026, 11, 21, 8, 1), local(2026, 11, 22, 8)),
        (local(2026, 11, 21, 23, 30), local(2026, 11, 22, 8)),
        (local(2026, 11, 21, 0, 0), local(2026, 11, 21, 8)),
        # 23:30 UTC is already 00:30 the next day in Paris.
        (utc(2026, 11, 21, 23, 30), local(2026, 11, 22, 8)),
        # Across spring forward: 08:00 on the day of the change is 06:00 UTC.
        (local(2026, 3, 28, 20), local(2026, 3, 29, 8)),
        # Across fall back.
        (local(2026, 10, 24, 20), local(2026, 10, 25, 8)),
        # New year.
        (local(2026, 12, 31, 12), local(2027, 1, 1, 8)),
    ],
)
def test_next_morning(now: dt.datetime, expected: dt.datetime) -> None:
    morning = next_morning(now, PARIS)
    assert morning == expected
    assert morning > now
    assert morning.astimezone(PARIS).time() == dt.time(8)


def test_next_morning_in_utc() -> None:
    assert next_morning(local(2026, 3, 28, 20), PARIS) == utc(2026, 3, 29, 6)
    assert next_morning(local(2026, 11, 21, 7), PARIS) == utc(2026, 11, 21, 7)


def _by_days(injected_at: dt.datetime) -> dict[int, set[dt.datetime]]:
    plan: dict[int, set[dt.datetime]] = {}
    for follow_up in FOLLOW_UPS:
        plan.setdefault(follow_up.days_after_d0, set()).add(
            follow_up_due(injected_at, follow_up, PARIS)
        )
    return plan


def test_follow_up_time_points_are_d0_plus_7_10_and_30() -> None:
    assert {f.days_after_d0 for f in FOLLOW_UPS} == {7, 10, 30}


def test_follow_ups_are_due_at_08_00_local_on_their_day() -> None:
    plan = _by_days(local(2026, 11, 22, 15, 30))
    assert plan[7] == {utc(2026, 11, 29, 7)}
    assert plan[10] == {utc(2026, 12, 2, 7)}
    assert plan[30] == {utc(2026, 12, 22, 7)}


def test_follow_ups_count_from_the_local_day_of_the_injection() -> None:
    # 23:30 UTC on the 22nd is 00:30 on the 23rd in Paris: D0 is the 23rd.
    plan = _by_days(utc(2026, 11, 22, 23, 30))
    assert plan[7] == {local(2026, 11, 30, 8)}
    assert plan[10] == {local(2026, 12, 3, 8)}
    assert plan[30] == {local(2026, 12, 23, 8)}


def test_follow_ups_across_daylight_saving_changes() -> None:
    plan = _by_days(local(2026, 3, 25, 11))  # D0 in winter time
    assert plan[7] == {utc(2026, 4, 1, 6)}  # 08:00 summer time
    assert plan[10] == {utc(2026, 4, 4, 6)}
    assert plan[30] == {utc(2026, 4, 24, 6)}
    plan = _by_days(local(2026, 10, 20, 11))  # D0 in summer time
    assert plan[7] == {utc(2026, 10, 27, 7)}  # 08:00 winter time
    assert plan[10] == {utc(2026, 10, 30, 7)}
    assert plan[30] == {utc(2026, 11, 19, 7)}


def test_follow_up_plan_covers_every_time_point() -> None:
    injected_at = local(2026, 11, 22, 15, 30)
    plan = follow_up_plan(injected_at, PARIS)
    assert len(plan) == len(FOLLOW_UPS)
    for due in plan:
        local_due = due.due.astimezone(PARIS)
        assert local_due.time() == dt.time(8)
        assert (local_due.date() - dt.date(2026, 11, 22)).days in (7, 10, 30)
        assert due.due.utcoffset() == dt.timedelta(0)


def test_bsa_expiry_is_the_morning_after_the_observation_period() -> None:
    index = dt.date(2026, 11, 18)
    expiry = bsa_expiry(index, PARIS)
    assert expiry == local(2026, 11, 29, 8)  # index + 11 days, 08:00
    assert expiry.utcoffset() == dt.timedelta(0)


def test_at_bsa_expiry_a_bsa_below_10_has_failed() -> None:
    index = dt.date(2026, 11, 18)
    answers = eligible_answers(
        index_date=index, admission_date=dt.date(2026, 11, 26), max_bsa_percent=9.9
    )
    expiry = bsa_expiry(index, PARIS)
    at_expiry = evaluate(answers, expiry, PARIS)
    assert at_expiry.outcome is Outcome.NOT_ELIGIBLE
    assert at_expiry.failed == ("max_bsa_percent",)
    day_before = evaluate(answers, expiry - dt.timedelta(days=1), PARIS)
    assert day_before.outcome is Outcome.PENDING


def test_bsa_expiry_across_spring_forward() -> None:
    assert bsa_expiry(dt.date(2026, 3, 20), PARIS) == dt.datetime(2026, 3, 31, 6, tzinfo=UTC)
