"""The trial's follow-up time points after D0 (D0+7, D0+10, D0+30 and the discharge date) as
the sender asks them and the injection flow records them: the answer's key, whether it is
final, when to ask again, and the question with its buttons (`f:` callback data)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from bot import callback_data as cd
from bot.common import Button
from bot.present import local_time
from bot.texts import t
from conversations import schedule
from conversations.schedule import FollowUp
from storage.screenings import Screening

#: The discharge question's answer while the patient is still in hospital (asked again later).
STILL_HOSPITALISED = "still_hospitalised"


def follow_up_key(follow_up_id: str) -> str:
    """The answer row's question id (not a screening question: `load` ignores it)."""
    return f"follow_up:{follow_up_id}"


def follow_up_final(follow_up: FollowUp, stored: str | None) -> bool:
    """Answered for good ("still in hospital" is an answer that will change)."""
    if stored is None:
        return False
    return not (follow_up.kind == "date" and json.loads(stored) == STILL_HOSPITALISED)


def follow_up_next_due(
    follow_up: FollowUp, stored: str | None, now: dt.datetime, zone: ZoneInfo
) -> dt.datetime | None:
    """When to ask again: tomorrow 08:00 while unanswered, a week later while the patient
    is still in hospital, never once answered."""
    if follow_up_final(follow_up, stored):
        return None
    if stored is not None:
        return schedule.discharge_recheck(now, zone)
    return schedule.next_morning(now, zone)


def answered_message(
    lang: str, s: Screening, follow_up: FollowUp, zone: ZoneInfo, answer: str, who: str,
    at: dt.datetime,
) -> str:  # fmt: skip
    """A copy of the question once answered: the question, the answer, who gave it and when
    (sent without buttons: nothing left to answer)."""
    d0 = s.injected_at.astimezone(zone).strftime("%d/%m/%Y") if s.injected_at else "—"
    return "\n".join([
        t(lang, "fu.header", number=s.number, days=follow_up.days_after_d0, d0=d0),
        t(lang, f"fu.q.{follow_up.id}"),
        t(lang, "fu.answered", answer=answer, who=who, at=local_time(at, zone)),
    ])  # fmt: skip


def follow_up_message(
    lang: str, s: Screening, follow_up: FollowUp, zone: ZoneInfo
) -> tuple[str, list[list[Button]]]:
    d0 = s.injected_at.astimezone(zone).strftime("%d/%m/%Y") if s.injected_at else "—"
    text = "\n".join([
        t(lang, "fu.header", number=s.number, days=follow_up.days_after_d0, d0=d0),
        t(lang, f"fu.q.{follow_up.id}"),
        t(lang, "fu.repeat"),
    ])  # fmt: skip

    def answer(value: str) -> str:
        return cd.encode(cd.FollowUpAnswer(s.id, follow_up.id, value))

    rows = [[Button(t(lang, f"c.{c}"), answer(c)) for c in follow_up.choices]]
    if follow_up.kind == "date":
        rows.append([Button(t(lang, "fu.type_date"), answer("date"))])
    return text, rows
