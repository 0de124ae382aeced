"""/export and `lysyme-bot export DIR`: the screening log as files — CSV for machines, XLSX
for people (CONSORT sheet, values in words), REDCap and CDISC ODM for the sponsor's EDC.

Read in one snapshot, rendered in a worker thread (openpyxl and lxml are CPU-bound; the bot
keeps answering meanwhile)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.common import Actor, Button, Context, Out
from bot.exports.delegation import delegation_table
from bot.exports.fields import criterion_name, noise_free
from bot.exports.spreadsheets import Table, render_csv, render_xlsx
from bot.present import local_time
from bot.records import begin
from bot.settings import Settings
from bot.texts import t
from bot.views.wording import bsa_of, choice_text, reason_label, short_label
from conversations import consort, d0, versions
from conversations.answers import from_json
from conversations.delegation import TrailAct
from conversations.protocol import (
    BY_ID,
    QUESTION_IDS,
    in_question_order,
)
from conversations.schedule import FOLLOW_UPS
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Scorten,
    as_measured,
    classify,
    scorten,
)
from conversations.standing import standing
from conversations.windows import local_today
from storage import membership as m_store
from storage import queries
from storage.anchor import Head, read_head_of
from storage.audit import AuditEntry, append_audit
from storage.screenings import Screening

# --- /export and `lysyme-bot export DIR` ----------------------------------------------------

#: The D0 facts as recorded by /d0 (never rewritten), and the dose deviation against
#: 2 × 10⁶/kg of the current (corrected) weight (`dose_deviation`: more than 10 %).
D0_COLUMNS = ("d0_weight_kg", "dose_given_cells", "d0_confirmed_by", "dose_deviation_pct",
              "dose_deviation")  # fmt: skip
BASE_COLUMNS = (
    "number",
    "site",
    "rescreen_of",
    "protocol_version",
    "clinician_id",
    "created_at",
    "closed_at",
    "status",
    "outcome",
    "failed",
    "pending",
    "classification",
    "dose_cells",
    "d0_deadline",
    "injected_at",
    "injected_by",
    "d0_override_reason",
    "withdrawn_reason",
    *D0_COLUMNS,
)
SCORTEN_COLUMNS = (
    *(f"scorten_{m}" for m in MEASURE_IDS),
    "scorten_score",
    "scorten_missing",
    "scorten_predicted_mortality",
)
FOLLOW_UP_COLUMNS = tuple(f"follow_up_{f.id}" for f in FOLLOW_UPS)
#: The CSV header: stable machine names (DESIGN.md question ids in protocol order; the
#: admission date is its question's column, `admission_date`, not repeated).
SCREENING_COLUMNS = (*BASE_COLUMNS, *QUESTION_IDS, *SCORTEN_COLUMNS, *FOLLOW_UP_COLUMNS)
ANSWER_COLUMNS = (
    "number",
    "question_id",
    "question",
    "value",
    "answered_by",
    "answered_at",
    "source",
    "reason",
)
COUNT_COLUMNS = ("group", "item", "label", "count")


#: The formats of /export and `lysyme-bot export --format`, in the order the buttons show them.
FORMATS = ("xlsx", "csv", "redcap", "odm", "odm-snapshot", "delegation")
DEFAULT_FORMATS = ("csv", "xlsx")
#: `/export redcap dag`, `lysyme-bot export --redcap-dag`: the REDCap records carry the
#: `redcap_data_access_group` column (for a project whose site group already exists).
DAG_OPTION = "dag"


@dataclass(frozen=True)
class ExportFile:
    name: str
    content: bytes
    what: str  # text key of the one line saying what the file is for


@dataclass(frozen=True)
class ExportFiles:
    files: list[ExportFile]
    screenings: int


class BadFormat(ValueError):
    """An export format that does not exist (the message names it and the valid ones)."""


def parse_formats(text: str) -> tuple[str, ...]:
    """ "xlsx,csv" / "redcap odm" → the formats, in FORMATS order, each once."""
    asked = [word for word in re.split(r"[,\s]+", text.strip().lower()) if word]
    unknown = [word for word in asked if word not in FORMATS]
    if unknown or not asked:
        raise BadFormat(unknown[0] if unknown else "")
    return tuple(f for f in FORMATS if f in asked)


def severity(values: dict[str, str]) -> Scorten | None:
    """The SCORTEN of one screening, or None when no SCORTEN value was ever asked."""
    if not any(k.startswith(queries.SCORTEN_PREFIX) for k in values):
        return None
    measures: dict[str, float | None] = {}
    for measure in MEASURE_IDS:
        raw = queries.json_value(values.get(queries.SCORTEN_PREFIX + measure))
        measures[measure] = float(raw) if isinstance(raw, int | float) else None
    age = queries.json_value(values.get("age"))
    return scorten(age if isinstance(age, int) else None, bsa_of(values), measures)


def _typed(field: str, stored: str | None) -> object:
    """A stored value as a typed cell: dates as dates, numbers as numbers."""
    if stored is None:
        return None
    if field in BY_ID:
        try:
            return noise_free(from_json(field, stored))
        except (ValueError, TypeError):
            return stored
    raw = queries.json_value(stored)
    measure = field.removeprefix(queries.SCORTEN_PREFIX)
    if field.startswith(queries.SCORTEN_PREFIX) and isinstance(raw, int | float):
        return as_measured(measure, float(raw)) if not isinstance(raw, bool) else raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return raw
    return raw


def _local(moment: dt.datetime | None, ctx_zone: dt.tzinfo) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(ctx_zone)


def _screening_row(
    s: Screening, values: dict[str, str], zone: dt.tzinfo, lang: str | None
) -> list[object]:
    """One row of the log; `lang` None gives the machine words (CSV), else the reader's."""
    cls = classify(bsa_of(values))
    score = severity(values)
    row: list[object] = [
        s.number,
        s.site,
        s.rescreen_of,
        s.protocol_version,
        s.clinician_id,
        _local(s.created_at, zone),
        _local(s.closed_at, zone),
        t(lang, f"status.{s.status}") if lang else s.status,
        (t(lang, f"outcome.{s.outcome}") if lang else s.outcome) if s.outcome else None,
        _reasons(lang, standing(s).failed),  # never a missing answer
        _reasons(lang, standing(s).pending),
        (t(lang, f"class.{cls.value}") if lang else cls.value) if cls else None,
        s.dose_cells,
        _local(s.d0_deadline, zone),
        _local(s.injected_at, zone),
        s.injected_by,
        s.d0_override_reason,
        s.withdrawn_reason,
        *_d0_cells(values, lang),
    ]
    row += [_for_people(lang, _typed(q, values.get(q))) for q in QUESTION_IDS]
    row += [
        _typed(queries.SCORTEN_PREFIX + m, values.get(queries.SCORTEN_PREFIX + m))
        for m in MEASURE_IDS
    ]
    if score is None:
        row += [None, None, None]
    elif lang is None:  # machines: the score from the known values, mortality as a fraction
        mortality = score.predicted_mortality
        row += [
            score.score,
            list(score.missing),
            None if mortality is None else round(mortality, 4),
        ]
    else:  # people: a partial score is a minimum ("≥ 2"), mortality in %
        mortality = score.predicted_mortality
        row += [
            score.score if score.complete else f"≥ {score.score}",
            "; ".join(_scorten_missing(lang, m) for m in score.missing),
            None if mortality is None else round(mortality * 100, 1),
        ]
    row += [
        _for_people(lang, _typed(queries.FOLLOW_UP_PREFIX + f.id,
                                 values.get(queries.FOLLOW_UP_PREFIX + f.id)))
        for f in FOLLOW_UPS
    ]  # fmt: skip
    return row


def _d0_cells(values: dict[str, str], lang: str | None) -> list[object]:
    """Weight used, dose given, who confirmed, deviation in % and whether it is one (> 10 %)."""
    facts = d0.read_facts(values)
    if facts is None:
        return [None, None, None, None, None]
    weight = queries.json_value(values.get("weight_kg"))
    current = float(weight) if isinstance(weight, int | float) else None
    gap = d0.dose_deviation(facts.dose_given_cells, current)
    flagged = d0.is_dose_deviation(facts.dose_given_cells, current)
    return [
        facts.weight_kg,
        facts.dose_given_cells,
        facts.confirmed_by,
        None if gap is None else round(gap * 100, 1),
        _for_people(lang, flagged) if gap is not None else None,
    ]


def _reasons(lang: str | None, ids: Sequence[str]) -> list[str] | str:
    """Criteria ids for machines; their short names, in words, for people."""
    if lang is None:
        return list(ids)
    return "; ".join(criterion_name(lang, i) for i in in_question_order(ids))


def _for_people(lang: str | None, value: object) -> object:
    """A stored answer in the reader's words: yes/no and coded choices translated; dates
    and numbers stay dates and numbers (real cells)."""
    if lang is None:
        return value
    if isinstance(value, bool):
        return t(lang, "c.yes" if value else "c.no")
    if isinstance(value, str):
        return choice_text(lang, value)
    return value


def _source_words(lang: str, source: str) -> str:
    """Where an answer came from (screening, correction, update…), in the reader's words."""
    key = f"exp.src.{source}"
    text = t(lang, key)
    return t(lang, "exp.src.other") if text == key else text


def _scorten_missing(lang: str, measure: str) -> str:
    if measure in MEASURE_BY_ID:
        return short_label(lang, queries.SCORTEN_PREFIX + measure).removeprefix("SCORTEN · ")
    key = f"exp.scorten.{measure}"
    return choice_text(lang, measure) if t(lang, key) == key else t(lang, key)


def _titles(lang: str, columns: Sequence[str]) -> list[str]:
    titles = []
    for column in columns:
        if column == "scorten_predicted_mortality":
            titles.append(short_label(lang, column) + " (%)")
            continue
        if column in BY_ID:
            titles.append(t(lang, f"q.{column}"))
        elif column.startswith("follow_up_"):
            titles.append(short_label(lang, queries.FOLLOW_UP_PREFIX + column[len("follow_up_") :]))
        else:
            titles.append(short_label(lang, column))
    return titles


def _count_rows(lang: str, screenings: list[Screening], target: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, count in consort.summary_counts(screenings).items():
        rows.append([t(lang, "exp.group.summary"), name, t(lang, f"exp.cat.{name}"), count])
    numbers = consort.funnel(screenings)
    for name, count, label in (  # the same count as the summary's: the same words
        ("screened", numbers.screened, t(lang, "exp.cat.screened")),
        ("eligible", numbers.eligible, t(lang, "exp.funnel.eligible")),
        ("injected", numbers.injected, t(lang, "stats.injected")),
    ):
        rows.append([t(lang, "exp.group.funnel"), name, label, count])
    for reason, count in sorted(numbers.reasons.items(), key=lambda i: (-i[1], i[0])):
        rows.append([t(lang, "exp.group.reason"), reason, reason_label(lang, reason), count])
    rows.append([t(lang, "exp.group.target"), "target_enrolment", t(lang, "exp.target"), target])
    return rows


@dataclass(frozen=True)
class ExportData:
    """What the log holds, read in one transaction (a consistent snapshot)."""

    screenings: list[Screening]
    values: dict[int, dict[str, str]]
    history: list[queries.HistoryRow]
    trail: list[queries.TrailRow]
    head: Head | None = None  # the audit trail's head at that snapshot (the "about" sheet)
    # Issue 24: the whole audit trail and everyone's name, for the delegation log.
    acts: list[TrailAct] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)


def read_export(conn: Connection) -> ExportData:
    return ExportData(
        queries.all_screenings(conn),
        queries.latest_values(conn),
        queries.answer_history(conn),
        queries.screenings_trail(conn),
        read_head_of(conn),
        m_store.trail_acts(conn),
        m_store.names(conn),
    )


def consent_answers(data: ExportData) -> dict[str, str | None]:
    """Screening number → its current consent answer (for the CONSORT consent stages)."""
    answers: dict[str, str | None] = {}
    for s in data.screenings:
        raw = queries.json_value(data.values.get(s.id, {}).get("consent"))
        answers[s.number] = raw if isinstance(raw, str) else None
    return answers


def consort_of(data: ExportData) -> consort.Consort:
    return consort.consort(data.screenings, consent_answers(data))


def consort_rows(lang: str, counts: consort.Consort) -> list[list[object]]:
    """The CONSORT sheet: the stages, the final boxes (every patient in one), and the reasons."""
    rows: list[list[object]] = []
    stage_group, box_group = t(lang, "co.group.stage"), t(lang, "co.group.box")
    for stage in consort.STAGES:
        rows.append([stage_group, stage, t(lang, f"co.stage.{stage}"), counts.stages[stage]])
    for box in consort.FINAL_BOXES:
        rows.append([box_group, box, t(lang, f"co.box.{box}"), counts.boxes[box]])
    for criterion, n in sorted(counts.criteria.items(), key=lambda i: (-i[1], i[0])):
        rows.append([t(lang, "co.group.criterion"), criterion, reason_label(lang, criterion), n])
    for kind in consort.IN_PROGRESS_KINDS:
        rows.append([t(lang, "co.group.in_progress"), kind, t(lang, f"co.progress.{kind}"),
                     counts.in_progress[kind]])  # fmt: skip
    for outcome, n in sorted(counts.withdrawn_after.items()):
        rows.append([t(lang, "co.group.withdrawn_after"), outcome,
                     t(lang, f"outcome.{outcome}"), n])  # fmt: skip
    return rows


def extraction_line(lang: str, data: ExportData, settings: Settings, now: dt.datetime) -> str:
    """Protocol version(s), site(s) and the extraction date and time: on every sheet."""
    used = sorted({s.protocol_version for s in data.screenings})
    version = ", ".join(used) or versions.in_force(local_today(now, settings.zone)).name
    sites = ", ".join(sorted({s.site for s in data.screenings})) or settings.site_code
    return t(lang, "co.extraction", version=version, site=sites,
             when=local_time(now, settings.zone))  # fmt: skip


def _people_sheets(
    data: ExportData, settings: Settings, lang: str, now: dt.datetime
) -> list[Table]:
    zone = settings.zone
    screenings, values, history = data.screenings, data.values, data.history
    caption = extraction_line(lang, data, settings, now)
    sheets = [
        Table(
            name=t(lang, "exp.sheet.screenings"),
            columns=SCREENING_COLUMNS,
            titles=_titles(lang, SCREENING_COLUMNS),
            rows=[_screening_row(s, values.get(s.id, {}), zone, lang) for s in screenings],
            caption=caption,
        ),
        Table(
            name=t(lang, "exp.sheet.answers"),
            columns=ANSWER_COLUMNS,
            titles=_titles(lang, ANSWER_COLUMNS),
            rows=[
                [
                    h.number,
                    h.question_id,
                    short_label(lang, h.question_id),
                    _for_people(lang, _typed(h.question_id, h.value)),
                    h.answered_by,
                    h.answered_at.astimezone(zone),
                    _source_words(lang, h.source),
                    h.reason,
                ]
                for h in history
            ],
            caption=caption,
            hidden=("question_id",),
        ),
        Table(
            name=t(lang, "exp.sheet.counts"),
            columns=COUNT_COLUMNS,
            titles=_titles(lang, COUNT_COLUMNS),
            rows=_count_rows(lang, screenings, settings.target_enrolment),
            caption=caption,
            hidden=("item",),
        ),
        Table(
            name="CONSORT",
            columns=COUNT_COLUMNS,
            titles=_titles(lang, COUNT_COLUMNS),
            rows=consort_rows(lang, consort_of(data)),
            caption=caption,
            hidden=("item",),
        ),
    ]
    sheets.append(delegation_table(lang, data.acts, data.names, zone, caption))  # issue 24
    if data.head is not None:  # which database, at which audit row, this log was read from
        sheets.append(
            Table(
                name=t(lang, "exp.sheet.about"),
                columns=("key", "value"),
                titles=(t(lang, "exp.about.key"), t(lang, "exp.about.value")),
                rows=[
                    (t(lang, "exp.about.database_id"), data.head.database_id or ""),
                    (t(lang, "exp.about.audit_rows"), data.head.audit_rows),
                    (t(lang, "exp.about.audit_head"), data.head.audit_head),
                    (t(lang, "exp.about.exported_at"), now),
                ],
                caption=caption,
            )
        )
    return sheets


async def render_export(
    data: ExportData,
    settings: Settings,
    lang: str,
    now: dt.datetime,
    formats: Sequence[str] = DEFAULT_FORMATS,
    *,
    redcap_dag: bool = False,
) -> ExportFiles:
    """The files of the chosen formats, rendered off the event loop and outside any
    transaction (the write lock is not held while openpyxl or lxml work)."""
    from bot.exports import odm, redcap

    zone = settings.zone
    stamp = now.astimezone(zone).strftime("%Y%m%d-%H%M%z")
    stem = f"lysyme-screening-log-{stamp}"

    def render() -> list[ExportFile]:
        files: list[ExportFile] = []
        for kind in formats:
            if kind == "csv":
                table = Table(
                    name="screenings",
                    columns=SCREENING_COLUMNS,
                    titles=SCREENING_COLUMNS,
                    rows=[_screening_row(s, data.values.get(s.id, {}), zone, None)
                          for s in data.screenings],
                )  # fmt: skip
                files.append(ExportFile(f"{stem}.csv", render_csv(table), "exp.what.csv"))
            elif kind == "xlsx":
                workbook = render_xlsx(_people_sheets(data, settings, lang, now),
                                       timezone=settings.timezone, created=now)  # fmt: skip
                files.append(ExportFile(f"{stem}.xlsx", workbook, "exp.what.xlsx"))
            elif kind == "redcap":
                files.append(
                    ExportFile(
                        f"lysyme-redcap-dictionary-{stamp}.csv",
                        redcap.render_dictionary(lang),
                        "exp.what.redcap_dictionary",
                    )
                )
                files.append(ExportFile(f"lysyme-redcap-records-{stamp}.csv",
                                        redcap.render_records(data.screenings, data.values, zone,
                                                              lang, data_access_group=redcap_dag),
                                        "exp.what.redcap_records"))  # fmt: skip
            elif kind == "delegation":  # issue 24: in the reader's language
                table = delegation_table(lang, data.acts, data.names, zone)
                files.append(ExportFile(f"lysyme-delegation-log-{stamp}.csv", render_csv(table),
                                        "exp.what.delegation"))  # fmt: skip
            elif kind == "odm":
                content = odm.render_odm(data.screenings, data.values, data.trail, zone, lang,
                                         now, data.history, data.head)  # fmt: skip
                files.append(ExportFile(f"lysyme-odm-{stamp}.xml", content, "exp.what.odm"))
            elif kind == "odm-snapshot":
                content = odm.render_odm_snapshot(data.screenings, data.values, data.trail, zone,
                                                  lang, now, data.head)  # fmt: skip
                files.append(ExportFile(f"lysyme-odm-snapshot-{stamp}.xml", content,
                                        "exp.what.odm_snapshot"))  # fmt: skip
        return files

    return ExportFiles(await asyncio.to_thread(render), len(data.screenings))


def export_audit(actor: str, now: dt.datetime, files: ExportFiles, how: str) -> AuditEntry:
    names = ", ".join(f.name for f in files.files)
    return AuditEntry(now, actor, "export", None, "screening_log", None,
                      f"{names} ({files.screenings} screenings)", how)  # fmt: skip


def _format_buttons(lang: str) -> list[list[Button]]:
    return [
        [Button(t(lang, "exp.button.xlsx"), _format_data("xlsx")),
         Button(t(lang, "exp.button.csv"), _format_data("csv"))],
        [Button(t(lang, "exp.button.redcap"), _format_data("redcap")),
         Button(t(lang, "exp.button.odm"), _format_data("odm"))],
        [Button(t(lang, "exp.button.delegation"), _format_data("delegation"))],
    ]  # fmt: skip


def _format_data(format_name: str) -> str:
    return cd.encode(cd.ExportFormat(format_name))


async def export(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """/export: the formats as buttons; `/export xlsx,csv` sends those at once."""
    lang = ctx.language(actor)
    if not args:
        return [Out(t(lang, "exp.choose"), buttons=_format_buttons(lang))]
    words = " ".join(args).replace(",", " ").split()
    dag = any(word.lower() == DAG_OPTION for word in words)  # `/export redcap dag`
    words = [word for word in words if word.lower() != DAG_OPTION]
    try:
        asked = " ".join(words) or ("redcap" if dag else "")  # `/export dag`: REDCap
        formats = parse_formats(asked)
    except BadFormat as exc:
        return [Out(t(lang, "exp.bad_format", format=str(exc), formats=", ".join(FORMATS)))]
    return await _send_export(ctx, actor, formats, "/export", redcap_dag=dag)


async def export_choice(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """A format button of /export (callback data `xf:<format>`, checked against FORMATS)."""
    lang = ctx.language(actor)
    button = cd.EXPORT_FORMAT.decode(data)
    chosen = button.format if button is not None else ""
    if chosen not in FORMATS:
        return [Out("", toast=t(lang, "screen.stale"))]
    outs = await _send_export(ctx, actor, (chosen,), "/export")
    return [Out("", toast=t(lang, f"exp.button.{chosen}")), *outs]


async def _send_export(
    ctx: Context, actor: Actor, formats: Sequence[str], how: str, *, redcap_dag: bool = False
) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()
    data = await ctx.db.read(read_export)
    files = await render_export(data, ctx.settings, lang, now, formats, redcap_dag=redcap_dag)

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)  # a re-delivered /export is neither audited nor sent
        append_audit(conn, export_audit(str(actor.user_id), now, files, how))
        return [Out(t(lang, f.what, count=files.screenings), document=(f.name, f.content))
                for f in files.files]  # fmt: skip

    return await ctx.db.write(body)


def write_private(path: Path, content: bytes) -> None:
    """Health data, even pseudonymised: the files are readable by their owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
