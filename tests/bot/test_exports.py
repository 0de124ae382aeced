"""`lysyme-bot export --format redcap|odm` and the /export buttons, over a database of varied
screenings (tests/bot/varied_trial.py): the REDCap dictionary and records pass an independent
checker of REDCap's rules (tests/redcap_validator.py); the ODM file validates against the
official ODM 1.3.2 schema (shipped by the odmlib package) and ties its audit records to the
hash chain that `verify-audit` checks."""

from __future__ import annotations

import asyncio
import csv
import importlib.resources
import io
import json
from pathlib import Path

import pytest
from lxml import etree

from bot.cli.command_line import main
from bot.common import Context
from bot.settings import load_settings
from bot.views import export as export_view
from storage.audit import verify_chain
from storage.open import open_database
from storage.sql import fetch_all
from tests import redcap_validator
from tests.bot import test_coordinator as base
from tests.bot.test_coordinator import COORDINATOR, actor
from tests.bot.varied_trial import VARIED, varied_trial
from tests.conftest import sqlite_only
from tests.conversations.support import NOW

ctx = base.ctx  # the coordinators' suite's fixtures: a real database, a fixed clock
clock = base.clock
ODM_NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


def odm_schema() -> etree.XMLSchema:
    """The official CDISC ODM 1.3.2 schema, as the odmlib package ships it."""
    root = importlib.resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    return etree.XMLSchema(etree.parse(str(root)))


async def export_files(ctx: Context, formats: str) -> dict[str, bytes]:
    outs = await export_view.export(ctx, await actor(ctx, COORDINATOR), [formats])
    return {o.document[0]: o.document[1] for o in outs if o.document is not None}


@sqlite_only
async def test_redcap_files_pass_the_redcap_rules(ctx: Context) -> None:
    await varied_trial(ctx)
    files = await export_files(ctx, "redcap")
    assert sorted(files) == ["lysyme-redcap-dictionary-20261121-1000+0100.csv",
                             "lysyme-redcap-records-20261121-1000+0100.csv"]  # fmt: skip
    dictionary = files["lysyme-redcap-dictionary-20261121-1000+0100.csv"]
    records = files["lysyme-redcap-records-20261121-1000+0100.csv"]
    assert redcap_validator.check_records(dictionary, records) == []

    rows = list(csv.DictReader(io.StringIO(records.decode("utf-8"))))
    assert [r["record_id"] for r in rows] == sorted(VARIED)
    header = list(rows[0])
    # No data access group unless asked: a fresh project has none, and REDCap refuses a row
    # naming a group the project does not have (a dictionary cannot create one).
    assert header[:2] == ["record_id", "protocol_version"]
    assert "redcap_data_access_group" not in header
    by_id = {r["record_id"]: r for r in rows}
    first = by_id["HMN-001"]
    assert first["protocol_version"] == "LYSYME 1.0"
    assert first["weight_kg"] == "71.5"  # corrected, dot decimal
    assert first["admission_date"] == "2026-11-20"
    assert first["d0_deadline"] == "2026-11-23 23:59"
    assert first["created_at"] == "2026-11-21 10:00"
    assert first["sex"] == "1" and first["ward"] == "1" and first["social_security"] == "1"
    assert first["status"] == "2" and first["outcome"] == "1"  # screened, eligible
    assert first["dose_cells"] == "143000000"
    assert first["scorten_score"] == "4" and first["scorten_partial"] == "0"
    assert first["screening_complete"] == "2" and first["injection_complete"] == "0"
    failed = {c: by_id["HMN-002"][c] for c in header if c.startswith("failed___")}
    assert sorted(c for c, v in failed.items() if v == "1") == [
        "failed___3",
        "failed___4",
    ]  # age, ward
    assert set(failed.values()) == {"0", "1"}
    pending = [c for c in header if c.startswith("pending___") and by_id["HMN-005"][c] == "1"]
    assert len(pending) == 4  # BSA, pregnancy, hepatitis, SARS-CoV-2
    injected = by_id["HMN-006"]
    assert injected["status"] == "3" and injected["scorten_partial"] == "1"
    assert injected["scorten_mortality_pct"] == ""  # partial: no prediction
    assert injected["fu_vital_status_d30"] == "2" and injected["fu_discharge_date"] == "2026-12-20"
    assert injected["follow_up_complete"] == "2"
    assert by_id["HMN-007"]["fu_still_hospitalised"] == "1"
    assert by_id["HMN-007"]["follow_up_complete"] == "1"
    assert by_id["HMN-008"]["withdrawn_reason"] == '=cmd "quoted", comma and a new line'
    assert by_id["HMN-011"]["outcome"] == "" and by_id["HMN-011"]["screening_complete"] == "1"


@sqlite_only
async def test_redcap_dictionary_has_branching_logic_and_required_flags(ctx: Context) -> None:
    await varied_trial(ctx)
    files = await export_files(ctx, "redcap")
    dictionary = next(v for k, v in files.items() if "dictionary" in k)
    rows = {r["Variable / Field Name"]: r for r in csv.DictReader(io.StringIO(dictionary.decode()))}
    logic = {name: r["Branching Logic (Show field only if...)"] for name, r in rows.items()}
    sex = dict(c.split(", ", 1) for c in rows["sex"]["Choices, Calculations, OR Slider Labels"]
               .split(" | "))  # fmt: skip
    female = next(code for code, label in sex.items() if label == "Female")
    assert logic["pregnant_or_breastfeeding"] == f"[sex] = '{female}'"
    assert logic["consent_by"] == "[consent] = '1'"  # obtained
    assert logic["fu_discharge_date"] == "[fu_still_hospitalised] = '0'"
    assert logic["withdrawn_reason"] == "[status] = '4'"  # withdrawn
    assert logic["failed"] == "[outcome] = '3'" and logic["pending"] == "[outcome] = '2'"
    assert logic["d0_override_reason"] == "[injected_at] <> ''"
    assert logic["age"] == "" and logic["record_id"] == ""
    required = {name for name, r in rows.items() if r["Required Field?"] == "y"}
    # DESIGN.md: every protocol question is required, except who signed the consent.
    from bot.exports.fields import SHORT_NAMES
    from conversations.protocol import QUESTIONS

    questions = {SHORT_NAMES.get(q.id, q.id) for q in QUESTIONS}
    assert required == {"record_id", *questions} - {"consent_by"}
    assert "scorten_urea" not in required  # SCORTEN values are skippable


@sqlite_only
async def test_redcap_data_access_group_only_when_asked(ctx: Context) -> None:
    await varied_trial(ctx)
    outs = await export_view.export(ctx, await actor(ctx, COORDINATOR), ["redcap", "dag"])
    files = {o.document[0]: o.document[1] for o in outs if o.document is not None}
    dictionary = next(v for k, v in files.items() if "dictionary" in k)
    records = next(v for k, v in files.items() if "records" in k)
    rows = list(csv.DictReader(io.StringIO(records.decode("utf-8"))))
    assert list(rows[0])[:2] == ["record_id", "redcap_data_access_group"]
    assert {r["redcap_data_access_group"] for r in rows} == {"hmn"}
    # Imports into a project where the group exists, and is refused on a fresh project.
    assert redcap_validator.check_records(dictionary, records, frozenset({"hmn"})) == []
    refused = redcap_validator.check_records(dictionary, records)
    assert refused and all("no data access group 'hmn'" in p for p in refused)


def test_the_validator_catches_what_redcap_refuses() -> None:
    header = ",".join(f'"{h}"' for h in redcap_validator.HEADER)
    good_dictionary = (
        header + "\n"
        "record_id,main,,text,Record,,,,,,,,,,,,,\n"
        "age,main,,text,Age,,,integer,0,120,,,,,,,,\n"
        'sex,main,,radio,Sex,"1, F | 2, M",,,,,,,,,,,,\n'
    ).encode()
    assert redcap_validator.check_dictionary(good_dictionary)[1] == []
    good = b"record_id,age,sex,main_complete\nA-1,54,1,2\n"
    assert redcap_validator.check_records(good_dictionary, good) == []
    bad_records = {
        b"record_id,age,sex,main_complete\nA-1,54,1\n": "has 3 values",
        b"record_id,age,sex,main_complete\nA-1,54,3,2\n": "not a code of sex",
        b"record_id,age,sex,main_complete\nA-1,54.5,1,2\n": "not a valid integer",
        b"record_id,age,sex,main_complete\nA-1,130,1,2\n": "above the maximum",
        b"record_id,age,sex,extra,main_complete\nA-1,54,1,x,2\n": "not in the dictionary",
        b"age,record_id,sex,main_complete\n54,A-1,1,2\n": "first column",
        b"record_id,age,main_complete\nA-1,54,2\n": "sex has no column",
    }
    for records, problem in bad_records.items():
        problems = redcap_validator.check_records(good_dictionary, records)
        assert any(problem in p for p in problems), (records, problems)
    bad_dictionary = good_dictionary.replace(b"age,main", b"Age,main")
    assert any("invalid variable name" in p for p in
               redcap_validator.check_dictionary(bad_dictionary)[1])  # fmt: skip
    wrong_header = good_dictionary.replace(b"Field Annotation", b"Annotation")
    assert redcap_validator.check_dictionary(wrong_header)[1]
    # Branching logic: known fields, existing codes, REDCap's syntax.
    branching = {
        "[sex] = '2'": None,
        "[sex] = '3'": "has no code '3'",
        "[weight] > 40": "unknown field [weight]",
        "[sex] = '1' and [record_id] <> ''": None,
        "[sex] == '1'": "not REDCap syntax",
        "([sex] = '1'": "unbalanced",
    }
    for logic, problem in branching.items():
        dictionary = good_dictionary.replace(
            b"age,main,,text,Age,,,integer,0,120,,,,",
            f'age,main,,text,Age,,,integer,0,120,,"{logic}",,'.encode(),
        )
        found = redcap_validator.check_dictionary(dictionary)[1]
        if problem is None:
            assert found == [], (logic, found)
        else:
            assert any(problem in p for p in found), (logic, found)
    # A data access group must exist in the project: none does in a fresh one.
    with_dag = b"record_id,redcap_data_access_group,age,sex,main_complete\nA-1,hmn,54,1,2\n"
    assert any("no data access group 'hmn'" in p
               for p in redcap_validator.check_records(good_dictionary, with_dag))  # fmt: skip
    assert redcap_validator.check_records(good_dictionary, with_dag, frozenset({"hmn"})) == []


async def test_odm_validates_against_the_official_schema_and_ties_to_the_chain(
    ctx: Context,
) -> None:
    await varied_trial(ctx)
    files = await export_files(ctx, "odm")
    (content,) = files.values()
    document = etree.fromstring(content)
    schema = odm_schema()
    assert schema.validate(document), schema.error_log
    assert document.get("ODMVersion") == "1.3.2"
    (mdv,) = document.findall("odm:Study/odm:MetaDataVersion", ODM_NS)
    assert mdv.get("OID") == "LYSYME_1.0"
    forms = [f.get("OID") for f in mdv.findall("odm:FormDef", ODM_NS)]
    assert forms == ["F.SCREENING", "F.ELIGIBILITY", "F.INJECTION", "F.SEVERITY", "F.FOLLOW_UP"]
    subjects = document.findall("odm:ClinicalData/odm:SubjectData", ODM_NS)
    assert [s.get("SubjectKey") for s in subjects] == sorted(VARIED)
    assert {s.find("odm:SiteRef", ODM_NS).get("LocationOID") for s in subjects} == {"LOC.HMN"}

    assert (await ctx.db.read(verify_chain)).ok  # what `lysyme-bot verify-audit` checks
    (correction,) = await ctx.db.read(
        fetch_all, "SELECT * FROM audit WHERE action='correction' AND field='weight_kg'"
    )
    assert document.get("FileType") == "Transactional"
    # Every value of a corrected item is data: 70 as first entered, then 71.5 (issue 25).
    weights = document.findall(
        "odm:ClinicalData/odm:SubjectData[@SubjectKey='HMN-001']//odm:ItemData"
        "[@ItemOID='IT.WEIGHT_KG']", ODM_NS
    )  # fmt: skip
    assert [(w.get("TransactionType"), w.get("Value")) for w in weights] == [
        ("Insert", "70"),
        ("Update", "71.5"),
    ]
    first, corrected = (w.find("odm:AuditRecord", ODM_NS) for w in weights)
    assert first.findtext("odm:ReasonForChange", namespaces=ODM_NS) == "initial entry"
    audit = corrected
    assert audit.get("ID") == f"AR.{correction['id']}"  # the ItemData holds its audit row
    assert audit.findtext("odm:SourceID", namespaces=ODM_NS) == correction["hash"]
    assert audit.findtext("odm:ReasonForChange", namespaces=ODM_NS) == "scale error"
    assert audit.find("odm:UserRef", ODM_NS).get("UserOID") == f"USR.{COORDINATOR}"
    assert audit.findtext("odm:DateTimeStamp", namespaces=ODM_NS) == "2026-11-21T09:00:00Z"
    # The derived dose follows: no item is written twice with the same value, each item's
    # first ItemData is an Insert with "initial entry", every ItemData has its AuditRecord.
    items = document.findall("odm:ClinicalData/odm:SubjectData//odm:ItemData", ODM_NS)
    firsts: dict[tuple[str, str], str] = {}
    for subject in document.findall("odm:ClinicalData/odm:SubjectData", ODM_NS):
        for item in subject.iter(f"{{{ODM_NS['odm']}}}ItemData"):
            key = (subject.get("SubjectKey"), item.get("ItemOID"))
            record = item.find("odm:AuditRecord", ODM_NS)
            assert record is not None, key
            if key not in firsts:
                firsts[key] = item.get("TransactionType")
                assert record.findtext("odm:ReasonForChange", namespaces=ODM_NS) == "initial entry"
            else:
                assert item.get("TransactionType") in ("Update", "Remove"), key
    assert set(firsts.values()) == {"Insert"} and len(items) > len(firsts)
    # Every audit row of the patients is an AuditRecord, once, AR.<row id> with its hash;
    # the file says how to re-check the chain (its numbers skip the rows about no patient).
    records = document.iter(f"{{{ODM_NS['odm']}}}AuditRecord")
    tied = sorted(((a.get("ID"), a.findtext("odm:SourceID", namespaces=ODM_NS))
                   for a in records if a.get("ID")), key=lambda p: int(p[0][3:]))  # fmt: skip
    rows = await ctx.db.read(fetch_all, "SELECT id, hash FROM audit WHERE screening IS NOT NULL "
                                        "AND action != 'export' ORDER BY id")  # fmt: skip
    assert tied == [(f"AR.{r['id']}", r["hash"]) for r in rows]
    assert b"lysyme-bot verify-audit" in content.split(b"<ODM")[0]
    # Every reference resolves: users, locations, items, groups, forms.
    ns = f"{{{ODM_NS['odm']}}}"
    defined = {e.get("OID") for e in document.iter() if e.get("OID")}
    for tag, attribute in (("UserRef", "UserOID"), ("LocationRef", "LocationOID"),
                           ("ItemData", "ItemOID"), ("ItemGroupData", "ItemGroupOID"),
                           ("FormData", "FormOID"), ("SiteRef", "LocationOID")):  # fmt: skip
        for element in document.iter(ns + tag):
            assert element.get(attribute) in defined, (tag, element.get(attribute))


@sqlite_only
async def test_odm_of_an_empty_trial_is_still_valid(ctx: Context) -> None:
    (content,) = (await export_files(ctx, "odm")).values()
    assert odm_schema().validate(etree.fromstring(content))


@sqlite_only
async def test_export_offers_the_formats_as_buttons_and_sends_the_chosen_one(
    ctx: Context,
) -> None:
    await varied_trial(ctx)
    (menu,) = await export_view.export(ctx, await actor(ctx, COORDINATOR), [])
    taps = [b.data for row in menu.buttons for b in row]
    assert taps == ["xf:xlsx", "xf:csv", "xf:redcap", "xf:odm", "xf:delegation"]
    assert next(b.label for row in menu.buttons for b in row) == "XLSX (for people)"
    outs = await export_view.export_choice(ctx, await actor(ctx, COORDINATOR), "xf:redcap")
    documents = [o for o in outs if o.document is not None]
    assert len(documents) == 2
    assert "data dictionary" in documents[0].text and "to import" in documents[1].text
    stale = await export_view.export_choice(ctx, await actor(ctx, COORDINATOR), "xf:pdf")
    assert stale[0].toast and not any(o.document for o in stale)
    refused = await export_view.export(ctx, await actor(ctx, COORDINATOR), ["pdf"])
    assert refused[0].text == (
        "Unknown format: pdf. Formats: xlsx, csv, redcap, odm, odm-snapshot, delegation."
    )


def test_cli_export_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.sqlite3"

    async def prepare() -> None:
        settings = load_settings(LYSYME_DATABASE=str(database), LYSYME_LANGUAGE="en")
        context = Context(settings=settings, db=await open_database(database), clock=lambda: NOW)
        await varied_trial(context)
        await context.db.close()

    asyncio.run(prepare())
    monkeypatch.setenv("LYSYME_DATABASE", str(database))
    monkeypatch.setenv("LYSYME_LANGUAGE", "en")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(out), "--format", "redcap,odm"]) == 0
    printed = capsys.readouterr()
    assert printed.err == "" and len(printed.out.strip().splitlines()) == 1
    names = sorted(p.name for p in out.iterdir())
    assert [n.split("-2")[0] for n in names] == [
        "lysyme-odm", "lysyme-redcap-dictionary", "lysyme-redcap-records"]  # fmt: skip
    dictionary, records = (out / names[1]).read_bytes(), (out / names[2]).read_bytes()
    assert redcap_validator.check_records(dictionary, records) == []
    assert odm_schema().validate(etree.parse(str(out / names[0])))

    for bad in ("pdf", "csv,pdf", ""):
        assert main(["export", str(out), "--format", bad]) == 2
        printed = capsys.readouterr()
        assert printed.out == "" and len(printed.err.strip().splitlines()) == 1
        assert "unknown format" in printed.err and "Traceback" not in printed.err


@sqlite_only
async def test_xlsx_for_people_has_a_consort_sheet_and_words(ctx: Context) -> None:
    import openpyxl

    await varied_trial(ctx)
    files = await export_files(ctx, "xlsx")
    (content,) = files.values()
    book = openpyxl.load_workbook(io.BytesIO(content))
    consort_sheet = book["CONSORT"]
    assert consort_sheet["A1"].value == "LYSYME 1.0 · site HMN · extracted 21/11/2026 10:00"
    counts = {(r[0].value, r[1].value): r[3].value for r in consort_sheet.iter_rows(min_row=3)}
    boxes = {item: n for (group, item), n in counts.items() if group == "final box"}
    # Hand count of tests/bot/varied_trial.py: 14 screenings, 13 patients (003 re-screens 002).
    assert boxes == {"injected": 2, "criteria_not_met": 1, "consent_refused": 1,
                     "window_missed": 1, "withdrawn": 1, "abandoned": 1, "in_progress": 6}  # fmt: skip
    assert counts[("stage", "screened")] == 13 == sum(boxes.values())
    assert counts[("criterion not met", "d0_window")] == 1
    assert counts[("in progress", "pending")] == 4  # 002→003, 004, 005, 013 (incomplete)
    sheet = book["Screenings"]
    titles = [c.value for c in sheet[2]]
    rows = {r[0].value: dict(zip(titles, (c.value for c in r), strict=True))
            for r in sheet.iter_rows(min_row=3)}  # fmt: skip
    partial = rows["HMN-006"]
    assert partial["SCORTEN score"] == "≥ 3" and partial["SCORTEN predicted mortality (%)"] is None
    assert "urea" in partial["SCORTEN missing values"].lower()
    assert rows["HMN-005"]["Pending criteria"] == (
        "Detached BSA; Pregnant or breastfeeding; Active hepatitis B or C; SARS-CoV-2 RNA detected"
    )
    assert rows["HMN-006"]["D30 vital status"] == "Dead"


def test_cli_stats_writes_the_charts_as_png_and_svg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "stats.sqlite3"

    async def prepare() -> None:
        settings = load_settings(LYSYME_DATABASE=str(database), LYSYME_LANGUAGE="fr")
        context = Context(settings=settings, db=await open_database(database), clock=lambda: NOW)
        await varied_trial(context)
        await context.db.close()

    asyncio.run(prepare())
    monkeypatch.setenv("LYSYME_DATABASE", str(database))
    monkeypatch.setenv("LYSYME_LANGUAGE", "fr")
    out = tmp_path / "charts"
    out.mkdir()
    assert main(["stats", str(out)]) == 0
    assert capsys.readouterr().err == ""
    files = {p.name.split("-2")[0] + p.suffix: p for p in out.iterdir()}
    assert sorted(files) == ["lysyme-consort.png", "lysyme-consort.svg",
                             "lysyme-recruitment.png", "lysyme-recruitment.svg"]  # fmt: skip
    assert files["lysyme-consort.png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = files["lysyme-consort.svg"].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert all(p.stat().st_mode & 0o077 == 0 for p in files.values())
    assert main(["stats", str(tmp_path / "missing")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and len(printed.err.strip().splitlines()) == 1


def test_recruitment_is_cumulative_per_patient() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from conversations import consort
    from tests.storage.test_queries import s as screening

    day1 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    day3 = day1 + dt.timedelta(days=2)
    rows = [
        screening(1, created_at=day1, closed_at=day1, outcome="eligible"),
        screening(2, created_at=day1, closed_at=day1, outcome="not_eligible", reasons=("age",)),
        screening(3, created_at=day3, closed_at=day3, rescreen_of="HMN-002", outcome="eligible",
                       status="injected", injected_at=day3),
    ]  # fmt: skip
    points = consort.recruitment(rows, ZoneInfo("Europe/Paris"), dt.date(2026, 11, 4))
    assert [(p.day.day, p.screened, p.eligible, p.injected) for p in points] == [
        (1, 2, 1, 0), (2, 2, 1, 0), (3, 2, 2, 1), (4, 2, 2, 1)]  # fmt: skip


async def test_odm_keeps_both_values_of_a_corrected_age(ctx: Context) -> None:
    """Issue 25: an age typed 52 then corrected to 53 with /correct is two ItemData of the
    Transactional file — 52 (Insert, "initial entry") and 53 (Update, the correction's reason,
    its audit row's ID and hash) — never only "53" and a free-text note."""
    from bot.flows import correct as correct_flow
    from tests.bot.test_coordinator import screen
    from tests.conversations.support import eligible_answers

    await screen(ctx, eligible_answers(age=52))
    coordinator = await actor(ctx, COORDINATOR)
    await correct_flow.correct(ctx, coordinator, ["HMN-001", "age", "53", "typing", "error"])
    (content,) = (await export_files(ctx, "odm")).values()
    document = etree.fromstring(content)
    assert odm_schema().validate(document)
    ages = document.findall(".//odm:SubjectData[@SubjectKey='HMN-001']//odm:ItemData"
                            "[@ItemOID='IT.AGE']", ODM_NS)  # fmt: skip
    assert [(a.get("TransactionType"), a.get("Value")) for a in ages] == [
        ("Insert", "52"),
        ("Update", "53"),
    ]
    inserted, updated = (a.find("odm:AuditRecord", ODM_NS) for a in ages)
    assert inserted.findtext("odm:ReasonForChange", namespaces=ODM_NS) == "initial entry"
    assert updated.findtext("odm:ReasonForChange", namespaces=ODM_NS) == "typing error"
    (row,) = await ctx.db.read(fetch_all, "SELECT id, hash FROM audit WHERE action='correction'")
    assert updated.get("ID") == f"AR.{row['id']}"
    assert updated.findtext("odm:SourceID", namespaces=ODM_NS) == row["hash"]
    # The snapshot, offered beside it, holds the current value only.
    (snapshot,) = (await export_files(ctx, "odm-snapshot")).values()
    current = etree.fromstring(snapshot)
    assert odm_schema().validate(current) and current.get("FileType") == "Snapshot"
    assert [a.get("Value") for a in current.findall(".//odm:ItemData[@ItemOID='IT.AGE']",
                                                      ODM_NS)] == ["53"]  # fmt: skip


@sqlite_only
async def test_the_french_spreadsheet_opens_right(ctx: Context) -> None:
    """Issue 25: a French coordinator's XLSX — dates jj/mm/aaaa (hh:mm), coded answers in
    words, French keys on every sheet, numbers at the precision they were measured with
    (0,35 g/L of urea is 5.83 mmol/L, not 5.827499999999999), ids hidden from view — and the
    CSV carries the same rounded number."""
    import openpyxl

    from bot.views.wording import stored_text
    from tests.bot.test_coordinator import screen
    from tests.conversations.support import eligible_answers

    urea = 0.35 * 16.65  # typed in g/L, converted: 5.827499999999999
    await screen(ctx, eligible_answers(sex="female", ward="dermatology",
                                       pregnant_or_breastfeeding="no"),
                 scorten={"heart_rate": 125.0, "urea": urea, "bicarbonate": 22.0,
                          "glucose": 0.7 * 16.65})  # fmt: skip
    french = await actor(ctx, COORDINATOR)
    from storage import users as user_store

    await ctx.db.write(user_store.set_language, COORDINATOR, "fr")
    french = await actor(ctx, COORDINATOR)
    outs = await export_view.export(ctx, french, ["xlsx", "csv"])
    files = {o.document[0]: o.document[1] for o in outs if o.document is not None}
    xlsx = next(v for k, v in files.items() if k.endswith(".xlsx"))
    csv_text = next(v for k, v in files.items() if k.endswith(".csv")).decode()
    assert all(name.endswith(("+0100.xlsx", "+0100.csv")) for name in files)  # local, offset
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == [
        "Dépistages",
        "Réponses",
        "Effectifs",
        "CONSORT",
        "Délégation",
        "À propos",
    ]
    answers = book["Réponses"]
    titles = [c.value for c in answers[2]]
    rows = [dict(zip(titles, (c.value for c in r), strict=True))
            for r in answers.iter_rows(min_row=3)]  # fmt: skip
    shown = {str(r["Question"]): r["Valeur"] for r in rows}
    assert shown["Sexe"] == "Femme" and shown["Service"] == "Dermatologie"
    assert shown["Grossesse ou allaitement"] == "Non"
    assert shown["Diagnostic confirmé"] == "Oui"  # a boolean in words, not TRUE
    assert shown["Situation compromettant le suivi"] == "Non"  # the question's direction
    assert {r["Origine"] for r in rows} <= {"dépistage", "SCORTEN"}
    values = [v for r in rows for v in r.values()]
    for code in ("female", "dermatology", "no", "yes", "screening", True, False):
        assert code not in values, code
    urea_cell = next(r["Valeur"] for r in rows if "urée" in str(r["Question"]).lower())
    assert urea_cell == 5.83
    assert "5.827" not in csv_text and "11.654" not in csv_text and ",5.83," in csv_text
    assert stored_text("fr", "scorten:urea", json.dumps(urea)) == "5,83 mmol/L"  # /patient
    # Dates and instants day first; ids kept for machines but hidden from view.
    sheet = book["Dépistages"]
    formats = {c.number_format for row in sheet.iter_rows(min_row=3) for c in row
               if c.is_date}  # fmt: skip
    assert formats == {"dd/mm/yyyy", "dd/mm/yyyy hh:mm"}
    assert answers.column_dimensions["B"].hidden  # question_id
    assert book["Effectifs"].column_dimensions["B"].hidden  # item
    about = {r[0].value: r[1].value for r in book["À propos"].iter_rows(min_row=3)}
    assert set(about) == {"Identifiant de la base", "Lignes de la piste d'audit",
                          "Empreinte de la dernière ligne d'audit", "Exporté le"}  # fmt: skip
    assert book["À propos"]["A2"].value == "Élément"
