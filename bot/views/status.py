"""/status: every open patient, soonest D0 deadline first, with what is pending."""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import Connection

from bot.common import Actor, Context, Out
from bot.criteria import awaited_names
from bot.present import local_time, time_left
from bot.texts import t
from bot.views.wording import bsa_of, heading, moment_text, short_label
from conversations import consort, versions
from conversations.eligibility import Outcome
from conversations.lifecycle import Stage
from conversations.protocol import (
    QUESTIONS,
)
from conversations.windows import d0_deadline, local_today
from storage import queries
from storage import screenings as store
from storage.screenings import Screening

# --- /status --------------------------------------------------------------------------------


def _deadline_of(screening: Screening, values: dict[str, str], ctx: Context) -> dt.datetime | None:
    if screening.d0_deadline is not None:
        return screening.d0_deadline
    raw = queries.json_value(values.get("admission_date"))
    if isinstance(raw, str):
        try:
            return d0_deadline(dt.date.fromisoformat(raw), ctx.zone)
        except ValueError:
            return None
    return None


async def status(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """Every open patient, soonest D0 deadline first; coordinators get the summary on top."""
    lang = ctx.language(actor)
    now = ctx.now()
    coordinator = actor.user is not None and actor.user.has("coordinator")

    def fetch(conn: Connection) -> list[Out]:
        rows = queries.open_screenings(conn)
        values = queries.latest_values(conn, ("admission_date", "max_bsa_percent"))
        everything = queries.all_screenings(conn) if coordinator else []
        lines: list[str] = []
        in_force = versions.in_force(local_today(now, ctx.zone))
        if coordinator:
            lines += [
                t(lang, "st.summary", **consort.summary_counts(everything)),
                t(lang, "pv.status", version=in_force.name,
                  since=in_force.effective.strftime("%d/%m/%Y")),
                "",
            ]  # fmt: skip
        listed = [(s, _deadline_of(s, values.get(s.id, {}), ctx)) for s in rows]
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        listed.sort(key=lambda item: (item[1] is None, item[1] or far, item[0].sequence))
        if not listed:
            lines.append(t(lang, "st.none"))
            return [Out("\n".join(lines))]
        lines.append(t(lang, "st.title", count=len(listed)))
        for screening, deadline in listed:
            entry = _status_entry(lang, ctx, screening, deadline, values, now)
            if coordinator and screening.protocol_version != in_force.name:
                entry[0] += (
                    f" · {html.escape(screening.protocol_version)}"  # judged under an older one
                )
            lines += ["", *entry]
        return [Out("\n".join(lines))]

    return await ctx.db.read(fetch)


def _status_entry(
    lang: str,
    ctx: Context,
    s: Screening,
    deadline: dt.datetime | None,
    values: dict[int, dict[str, str]],
    now: dt.datetime,
) -> list[str]:
    lines = [heading(lang, s, bsa_of(values.get(s.id, {})))]
    if deadline is None:
        lines.append(t(lang, "st.no_deadline"))
    elif deadline <= now:
        lines.append(t(lang, "st.deadline_past", deadline=local_time(deadline, ctx.zone)))
    else:
        lines.append(
            t(
                lang,
                "st.deadline",
                deadline=local_time(deadline, ctx.zone),
                left=time_left(lang, deadline, now),
            )
        )
    activity = moment_text(s.last_activity_at, ctx)
    if s.status == store.IN_SCREENING:
        if s.stage == Stage.SUMMARY:
            lines.append(t(lang, "st.at_summary", when=activity))
        elif s.stage == Stage.CONFIRM_EXCLUSION:
            lines.append(t(lang, "st.at_exclusion", when=activity))
        else:
            question = short_label(lang, s.cursor or QUESTIONS[0].id, tight=True)
            lines.append(t(lang, "st.at_question", question=question, when=activity))
    elif s.outcome == Outcome.PENDING.value and s.reasons:
        lines.append(t(lang, "st.pending", names=awaited_names(lang, s.reasons)))
    else:
        lines.append(t(lang, "st.awaiting_d0", number=s.number))
    return lines
