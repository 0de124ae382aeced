"""The site's delegation log, derived from the audit trail alone (DESIGN.md "Team membership"):
for each person and role, from when to when they held it, who granted it, who removed it (or
whether it lapsed), the planned end date, and the acts they did meanwhile, counted by kind.

Pure: it reads the trail's rows as `TrailAct`s (storage gives them), in the trail's order.

Membership rows (storage and flows write them; actor = who did it, field = the person's id):
`user_added` (old → new roles; the actor granted the new ones), `user_joined` (the person
opened an invitation: old → new roles, reason `invitation:<id>`; granted by whoever made the
invitation, from its `invitation_created` row), `user_removed` (old = the roles removed),
`access_lapsed` (the system ended them at the end date; new value: that instant, ISO),
`access_until` (old → new last day).

An act is any other row whose actor is a Telegram id. Each is counted in one period of its
actor that covers its time: the role the act needs when the person held it (`ACT_ROLE`),
else admin (an admin may do everything), else any. An act covered by no period is an
*orphan* — a trail where someone acted without access; the monitor must see it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

GRANTED: Final = "user_added"
JOINED: Final = "user_joined"
REMOVED: Final = "user_removed"
LAPSED: Final = "access_lapsed"
UNTIL: Final = "access_until"
INVITED: Final = "invitation_created"
#: Attempts by people who hold no access (a refused invitation): not acts of a member.
NOT_ACTS: Final = frozenset({"invitation_refused", "invitation_rate_limited"})
MEMBERSHIP: Final = frozenset({GRANTED, JOINED, REMOVED, LAPSED, UNTIL})

#: The role an act needs; acts not listed are a clinician's (screening, answers, injection…).
ACT_ROLE: Final = {
    "export": "coordinator",
    "correction": "coordinator",
    "stats": "coordinator",
    "user_added": "admin",
    "user_removed": "admin",
    "access_until": "admin",
    "invitation_created": "admin",
    "invitation_revoked": "admin",
    "reminders_resumed": "admin",
    "language": "",  # anyone listed
    "user_joined": "",
    "acknowledged": "",
}


@dataclass(frozen=True)
class TrailAct:
    """One audit row, as the delegation log needs it."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None


@dataclass
class Period:
    """One person holding one role, from `start` to `end` (None: still held)."""

    person: int
    role: str
    start: dt.datetime
    granted_by: str  # a Telegram id, or "system" (LYSYME_ADMIN_IDS)
    end: dt.datetime | None = None
    removed_by: str | None = None  # a Telegram id, or "system" when the access lapsed
    lapsed: bool = False
    until: dt.date | None = None  # the last day of access planned (None: no end date)
    invitation: int | None = None  # the invitation it came through
    acts: Counter[str] = field(default_factory=Counter)
    #: The trail rows that opened and closed it: the trail's order is the truth (two rows may
    #: share an instant), so an act belongs to a period by its row number.
    start_row: int = 0
    end_row: int | None = None

    def covers(self, act: TrailAct) -> bool:
        """The act was done while this period was open (after the grant, before the end)."""
        return self.start_row <= act.id and (self.end_row is None or act.id < self.end_row)


@dataclass
class DelegationLog:
    periods: list[Period]
    orphans: list[TrailAct]  # acts by an id with no period covering them


def _roles(text: str | None) -> frozenset[str]:
    return frozenset(r for r in (text or "").split(",") if r)


def _person(act: TrailAct) -> int | None:
    text = act.field or ""
    return int(text) if text.isascii() and text.isdigit() else None


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _instant(text: str | None) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _invitation_id(text: str | None) -> int | None:
    prefix = "invitation:"
    if text and text.startswith(prefix) and text[len(prefix) :].isdigit():
        return int(text[len(prefix) :])
    return None


def derive(trail: Iterable[TrailAct]) -> DelegationLog:
    """The delegation log of the trail (rows in trail order)."""
    periods: list[Period] = []
    open_periods: dict[tuple[int, str], Period] = {}
    until_of: dict[int, dt.date | None] = {}
    inviter: dict[int, str] = {}
    acts: list[TrailAct] = []

    def close(person: int, roles: Iterable[str], act: TrailAct, lapsed: bool) -> None:
        for role in roles:
            period = open_periods.pop((person, role), None)
            if period is not None:
                # A lapse ended the access at its end date (new value), a little before
                # the sender wrote the row.
                end = _instant(act.new_value) if lapsed else None
                period.end, period.removed_by, period.lapsed = end or act.at, act.actor, lapsed
                period.end_row = act.id

    for act in trail:
        person = _person(act)
        if act.action == INVITED:
            invitation = _invitation_id(act.field)
            if invitation is not None:
                inviter[invitation] = act.actor
        if act.action in (GRANTED, JOINED) and person is not None:
            invitation = _invitation_id(act.reason) if act.action == JOINED else None
            granted_by = act.actor
            if invitation is not None:
                granted_by = inviter.get(invitation, act.actor)
            for role in sorted(_roles(act.new_value) - _roles(act.old_value)):
                if (person, role) in open_periods:
                    continue
                period = Period(person, role, act.at, granted_by, until=until_of.get(person),
                                invitation=invitation, start_row=act.id)  # fmt: skip
                open_periods[(person, role)] = period
                periods.append(period)
        elif act.action in (REMOVED, LAPSED) and person is not None:
            held = {role for (who, role) in open_periods if who == person}
            close(person, held, act, lapsed=act.action == LAPSED)
            until_of.pop(person, None)
        elif act.action == UNTIL and person is not None:
            day = _day(act.new_value)
            until_of[person] = day
            for (who, _), period in open_periods.items():
                if who == person:
                    period.until = day
        if act.action not in NOT_ACTS and act.actor.isascii() and act.actor.isdigit():
            acts.append(act)

    orphans = [act for act in acts if not _count(act, periods)]
    return DelegationLog(periods, orphans)


def _count(act: TrailAct, periods: Sequence[Period]) -> bool:
    """Count `act` in the best period of its actor that covers it; False if none does."""
    actor = int(act.actor)
    covering = [p for p in periods if p.person == actor and p.covers(act)]
    if not covering:
        return False
    needed = ACT_ROLE.get(act.action, "clinician")
    chosen = (
        next((p for p in covering if p.role == needed), None)
        or next((p for p in covering if p.role == "admin"), None)
        or covering[0]
    )
    chosen.acts[act.action] += 1
    return True
