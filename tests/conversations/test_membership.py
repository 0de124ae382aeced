"""The membership rules of the core (issue 24): the end of a local day across DST changes, the
words of /invite and /adduser, links, the 7-day reminder, the 6-month extension, and the
delegation log derived from a trail."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations import membership as m
from conversations.delegation import TrailAct, derive
from conversations.membership import Grant, GrantError, GrantRefused, Payload

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the end of a local day ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "lapses_utc", "hours_long"),
    [
        (dt.date(2027, 3, 27), at(2027, 3, 27, 23), 24),  # the day before spring forward
        (dt.date(2027, 3, 28), at(2027, 3, 28, 22), 23),  # the 23-hour day
        (dt.date(2027, 10, 31), at(2027, 10, 31, 23), 25),  # the 25-hour day
        (dt.date(2027, 7, 14), at(2027, 7, 14, 22), 24),  # summer time
    ],
)
def test_an_access_ends_at_the_first_instant_of_the_next_local_day(
    day: dt.date, lapses_utc: dt.datetime, hours_long: int
) -> None:
    ends = m.end_of_local_day(day, PARIS)
    assert ends == lapses_utc
    assert ends.astimezone(PARIS).time() == dt.time(0)
    assert ends.astimezone(PARIS).date() == day + dt.timedelta(days=1)
    previous = m.end_of_local_day(day - dt.timedelta(days=1), PARIS)
    assert ends - previous == dt.timedelta(hours=hours_long)
    # The last second of the day is still inside.
    assert (ends - dt.timedelta(seconds=1)).astimezone(PARIS).date() == day


def test_a_zone_that_changes_at_midnight_starts_the_next_day_when_the_gap_ends() -> None:
    santiago = ZoneInfo("America/Santiago")  # clocks go from 00:00 to 01:00 in September
    ends = m.end_of_local_day(dt.date(2026, 9, 5), santiago)
    assert ends.astimezone(santiago) == dt.datetime(2026, 9, 6, 1, 0, tzinfo=santiago)
    assert (ends - dt.timedelta(microseconds=1)).astimezone(santiago).date() == dt.date(2026, 9, 5)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_the_end_of_every_day_is_the_start_of_the_next(day: dt.date) -> None:
    ends = m.end_of_local_day(day, PARIS)
    assert ends.astimezone(PARIS).date() == day + dt.timedelta(days=1)
    assert (ends - dt.timedelta(microseconds=1)).astimezone(PARIS).date() == day


def test_admins_are_reminded_at_eight_seven_days_before_across_dst() -> None:
    due = m.reminder_due(dt.date(2027, 4, 2), PARIS)  # 26 March: winter time, 08:00 = 07:00 UTC
    assert due == at(2027, 3, 26, 7)
    due = m.reminder_due(dt.date(2027, 4, 4), PARIS)  # 28 March: summer time, 08:00 = 06:00 UTC
    assert due == at(2027, 3, 28, 6)
    assert not m.needs_reminder(dt.date(2027, 4, 2), PARIS, at(2027, 3, 26, 8))


def test_six_months_more_keeps_the_day_or_takes_the_month_end() -> None:
    assert m.extended(dt.date(2027, 5, 31)) == dt.date(2027, 11, 30)
    assert m.extended(dt.date(2027, 8, 31)) == dt.date(2028, 2, 29)
    assert m.extended(dt.date(2027, 11, 15)) == dt.date(2028, 5, 15)


# --- the words ------------------------------------------------------------------------------

TODAY = dt.date(2027, 1, 10)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("clinician", Grant(frozenset({"clinician"}), None)),
        ("Clinicien coordinateur", Grant(frozenset({"clinician", "coordinator"}), None)),
        ("admin until 10/01/2027", Grant(frozenset({"admin"}), dt.date(2027, 1, 10))),
        ("clinician jusqu'au 30/04/2027", Grant(frozenset({"clinician"}), dt.date(2027, 4, 30))),
        ("clinician until 2027-04-30", Grant(frozenset({"clinician"}), dt.date(2027, 4, 30))),
        ("nurse", GrantRefused(GrantError.UNKNOWN_ROLE, "nurse")),
        ("", GrantRefused(GrantError.NO_ROLE)),
        ("until 30/04/2027", GrantRefused(GrantError.NO_ROLE)),
        ("clinician until", GrantRefused(GrantError.NO_DATE)),
        ("clinician until 31/02/2027", GrantRefused(GrantError.BAD_DATE, "31/02/2027")),
        ("clinician until tomorrow", GrantRefused(GrantError.BAD_DATE, "tomorrow")),
        ("clinician until 09/01/2027", GrantRefused(GrantError.PAST_DATE, "09/01/2027")),
        ("clinician until 30/04/2027 please", GrantRefused(GrantError.EXTRA, "please")),
    ],
)
def test_roles_and_end_dates_are_read_or_refused_with_the_word_at_fault(
    words: str, expected: Grant | GrantRefused
) -> None:
    assert m.parse_grant(words.split(), TODAY) == expected


def test_links_are_told_apart_from_other_payloads() -> None:
    token = "A" * 43
    assert m.classify_payload(m.payload_of(token)) == (Payload.INVITATION, token)
    assert m.classify_payload(m.payload_of(token)[:-1]) == (Payload.BROKEN, None)
    assert m.classify_payload("inv_" + "A" * 42 + "=") == (Payload.BROKEN, None)
    assert m.classify_payload("HMN-001") == (Payload.OTHER, None)
    assert m.classify_payload("ref_12345") == (Payload.OTHER, None)
    assert len(m.hash_token(token)) == 64 and token not in m.hash_token(token)


def test_an_invitation_is_valid_seven_days_and_once() -> None:
    made = at(2027, 1, 1, 12)
    expires = made + m.INVITATION_VALIDITY
    state = m.invitation_state
    assert state(expires, None, None, expires - dt.timedelta(seconds=1)) is m.InvitationState.VALID
    assert state(expires, None, None, expires) is m.InvitationState.EXPIRED
    assert state(expires, made, None, made) is m.InvitationState.USED
    assert state(expires, None, made, made) is m.InvitationState.REVOKED
    assert not m.rate_limited(made, 9, made)
    assert m.rate_limited(made, 10, made + dt.timedelta(minutes=59))
    assert not m.rate_limited(made, 10, made + dt.timedelta(hours=1))


# --- the delegation log -----------------------------------------------------------------------


def act(n: int, hour: int, actor: str, action: str, **kw: str | None) -> TrailAct:
    return TrailAct(n, at(2027, 1, 1, hour), actor, action, kw.get("field"),
                    kw.get("old"), kw.get("new"), kw.get("reason"))  # fmt: skip


def test_the_delegation_log_follows_grants_joins_removals_and_lapses() -> None:
    trail = [
        act(1, 0, "system", "user_added", field="1001", new="admin"),
        act(2, 1, "1001", "invitation_created", field="invitation:1", new="clinician"),
        act(3, 2, "5005", "user_joined", field="5005", new="clinician", reason="invitation:1"),
        act(4, 2, "5005", "access_until", field="5005", new="2027-01-01"),
        act(5, 3, "5005", "screening_opened"),
        act(6, 4, "5005", "answer"),
        act(7, 5, "1001", "user_added", field="5005", old="clinician", new="clinician,coordinator"),
        act(8, 6, "5005", "export"),
        act(9, 7, "system", "access_lapsed", field="5005", old="clinician,coordinator"),
        act(10, 8, "5005", "invitation_refused"),  # an attempt by someone without access
        act(11, 9, "system", "user_removed", field="1001", old="admin"),
        act(12, 10, "1001", "export"),  # after their own removal: an orphan
    ]
    log = derive(trail)
    by = {(p.person, p.role): p for p in log.periods}
    clinician = by[(5005, "clinician")]
    assert clinician.granted_by == "1001" and clinician.invitation == 1
    assert (clinician.start, clinician.end) == (at(2027, 1, 1, 2), at(2027, 1, 1, 7))
    assert clinician.lapsed and clinician.removed_by == "system"
    assert clinician.until == dt.date(2027, 1, 1)
    assert dict(clinician.acts) == {"user_joined": 1, "access_until": 1,
                                    "screening_opened": 1, "answer": 1}  # fmt: skip
    coordinator = by[(5005, "coordinator")]
    assert coordinator.start == at(2027, 1, 1, 5) and dict(coordinator.acts) == {"export": 1}
    admin = by[(1001, "admin")]
    assert admin.granted_by == "system" and admin.removed_by == "system" and not admin.lapsed
    assert dict(admin.acts) == {"invitation_created": 1, "user_added": 1}
    assert [a.id for a in log.orphans] == [12]
