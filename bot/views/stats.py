"""/stats and `lysyme-bot stats DIR`: the CONSORT flow diagram and the recruitment curve
(rendered in a worker thread), with observed vs SCORTEN-expected D30 deaths."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.common import Actor, Context, Out
from bot.present import local_time
from bot.settings import Settings
from bot.texts import Raw, t
from bot.views.export import (
    ExportData,
    consort_of,
    extraction_line,
    read_export,
    severity,
)
from bot.views.wording import reason_label
from conversations import consort
from conversations.consort import Mortality
from conversations.windows import local_today
from storage import queries
from storage.screenings import Screening

# --- /stats ---------------------------------------------------------------------------------


def mortality(screenings: list[Screening], values: dict[int, dict[str, str]]) -> Mortality | None:
    """Observed D30 deaths vs SCORTEN's prediction, per patient (their chosen screening): the
    stored values read here, the counting in the core (`consort.d30_mortality`)."""
    by_number = {s.number: s for s in screenings}  # the core groups without storage ids
    outcomes: list[tuple[str | None, float | None]] = []
    for patient in consort.group_patients(screenings):
        if patient.chosen is None:
            continue
        own = values.get(by_number[patient.chosen.number].id, {})
        vital = queries.json_value(own.get(queries.FOLLOW_UP_PREFIX + "vital_status_d30"))
        score = severity(own)
        predicted = score.predicted_mortality if score is not None else None
        outcomes.append((vital if isinstance(vital, str) else None, predicted))
    return consort.d30_mortality(outcomes)


def _exit_lines(lang: str, counts: consort.Consort, stage: str) -> list[str]:
    """The side box of a stage: where the patients who stopped there ended, with the criteria
    not met (each patient once per criterion)."""
    here = counts.stopped_at.get(stage, {})
    order = [*consort.FINAL_BOXES, *(f"in_progress:{k}" for k in consort.IN_PROGRESS_KINDS)]
    lines: list[str] = []
    for where in order:
        n = here.get(where, 0)
        if not n or where == "in_progress":
            continue
        if where.startswith("in_progress:"):
            kind = where.split(":", 1)[1]
            label = f"{t(lang, 'co.box.in_progress')} — {t(lang, f'co.progress.{kind}')}"
        else:
            label = t(lang, f"co.box.{where}")
        lines.append(t(lang, "co.count", label=Raw(label), n=n))  # a chart: no HTML escaping
        if where == "criteria_not_met":
            for criterion, k in sorted(counts.criteria.items(), key=lambda i: (-i[1], i[0])):
                lines.append(
                    "   · " + t(lang, "co.count", label=reason_label(lang, criterion), n=k)
                )
    return lines


def stats_charts(
    lang: str, data: ExportData, settings: Settings, now: dt.datetime
) -> tuple[bytes, bytes, bytes, bytes]:
    """The flow diagram and the recruitment curve: (flow PNG, flow SVG, curve PNG, curve SVG).
    CPU-bound: call it in a worker thread."""
    from bot.views.charts import FlowChart, RecruitmentChart, render_flow, render_recruitment

    counts = consort_of(data)
    subtitle = extraction_line(lang, data, settings, now)
    flow = FlowChart(
        title=t(lang, "co.flow_title"),
        subtitle=subtitle,
        stages=[(t(lang, f"co.stage.{s}"), counts.stages[s]) for s in consort.STAGES],
        exits=[_exit_lines(lang, counts, s) for s in consort.STAGES],
        footer=t(lang, "co.flow_footer"),
    )
    points = consort.recruitment(data.screenings, settings.zone, local_today(now, settings.zone))
    curve = RecruitmentChart(
        title=t(lang, "co.curve_title"),
        subtitle=subtitle,
        days=[p.day for p in points],
        series=[
            (t(lang, "co.stage.screened"), [p.screened for p in points]),
            (t(lang, "co.stage.eligible"), [p.eligible for p in points]),
            (t(lang, "co.stage.injected"), [p.injected for p in points]),
        ],
        target=settings.target_enrolment,
        target_label=t(lang, "exp.target"),
        empty_label=t(lang, "co.no_patient"),
        y_label=t(lang, "co.patients"),
    )
    flow_png, flow_svg = render_flow(flow)
    curve_png, curve_svg = render_recruitment(curve)
    return flow_png, flow_svg, curve_png, curve_svg


async def stats(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """The CONSORT flow diagram and the recruitment curve, as two photos with their counts."""
    lang = ctx.language(actor)
    now = ctx.now()
    data = await ctx.db.read(read_export)
    numbers = consort.funnel(data.screenings)
    counts = consort_of(data)
    deaths = mortality(data.screenings, data.values)
    caption = t(
        lang,
        "stats.caption",
        screened=numbers.screened,
        eligible=numbers.eligible,
        injected=numbers.injected,
        target=ctx.settings.target_enrolment,
    )
    if deaths is not None:
        caption += "\n" + t(
            lang,
            "stats.mortality",
            observed=deaths.observed,
            expected=f"{deaths.expected:.1f}",
            n=deaths.followed,
            complete=deaths.complete,
        )
    boxes = " · ".join(f"{t(lang, f'co.box.{b}')} {counts.boxes[b]}"
                       for b in consort.FINAL_BOXES)  # fmt: skip
    caption += "\n" + boxes
    flow_png, _, curve_png, _ = await asyncio.to_thread(stats_charts, lang, data, ctx.settings, now)
    curve_caption = t(lang, "co.curve_caption", target=ctx.settings.target_enrolment,
                      when=local_time(now, ctx.zone))  # fmt: skip
    stamp = now.astimezone(ctx.zone).strftime("%Y%m%d-%H%M%z")
    return [
        Out(caption[:1024], photo=flow_png, photo_name=f"lysyme-consort-{stamp}.png"),
        Out(curve_caption, photo=curve_png, photo_name=f"lysyme-recruitment-{stamp}.png"),
    ]
