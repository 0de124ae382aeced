"""Calendar arithmetic in the trial time zone: the D0 deadline, the BSA observation period and
the wall-clock times at which reminders fall due.

Everything takes *now* (an aware datetime) and a zone; nothing reads the clock. Local wall-clock
times are built with `datetime.combine(..., tzinfo=zone)`, so daylight-saving changes are
handled by the zone database (08:00, 14:00, 20:00 and 23:59:59 never fall in a DST gap in
Europe/Paris).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from conversations.protocol import BSA_OBSERVATION_DAYS, D0_WINDOW_DAYS

END_OF_DAY = dt.time(23, 59, 59)
UTC = dt.UTC


def local_today(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The calendar date of *now* in the trial time zone."""
    return as_aware(now, zone).astimezone(zone).date()


def as_aware(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive datetime is local time in the trial zone (DESIGN.md, `check`)."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def at_local(day: dt.date, time_of_day: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time_of_day, tzinfo=zone)


def d0_deadline(admission_date: dt.date, zone: ZoneInfo) -> dt.datetime:
    """23:59:59 local time on admission date + 3 days."""
    return at_local(admission_date + dt.timedelta(days=D0_WINDOW_DAYS), END_OF_DAY, zone)


def bsa_observation_end(index_date: dt.date) -> dt.date:
    """Last day on which a BSA below 10 % is still 'pending' rather than failing."""
    return index_date + dt.timedelta(days=BSA_OBSERVATION_DAYS)


def format_deadline(deadline: dt.datetime) -> str:
    """ISO 8601 with its UTC offset, to the second: 2026-11-23T23:59:59+01:00."""
    return deadline.isoformat(timespec="seconds")


def time_left(deadline: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """Time until the deadline (negative once past)."""
    return deadline - now


def next_local_time(now: dt.datetime, time_of_day: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The first local `time_of_day` strictly after *now*."""
    today = local_today(now, zone)
    candidate = at_local(today, time_of_day, zone)
    if candidate <= now:
        candidate = at_local(today + dt.timedelta(days=1), time_of_day, zone)
    return candidate
