"""The coordinator's views through the real Application over HTTP (fake Bot API): after a
screening, /patient shows the record with its dose, /correct changes the outcome and back,
/export sends two real files, /stats a real picture; a clinician's /export is refused."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from tests.e2e.conftest import (
    CLINICIAN,
    COORDINATOR,
    ELIGIBLE_MALE,
    TEAM_CHAT,
    Clinician,
    add_user,
    answer_all,
)
from tests.e2e.fake_telegram import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n"


async def test_coordinator_views_after_a_screening(tg: FakeTelegram, start_bot: Any) -> None:
    await start_bot()
    await add_user(tg, CLINICIAN, "clinician")
    await add_user(tg, COORDINATOR, "coordinator")
    doc = Clinician(tg, CLINICIAN)
    await doc.command("/screen", expect="HMN-001")
    await answer_all(doc, ELIGIBLE_MALE)
    await doc.tap("Confirm", expect="all criteria are met")
    for value, following in (("130", "urea"), ("12", "bicarbonate"), ("22", "glucose")):
        await doc.type(value, expect=following)
    await doc.type("7", expect="SCORTEN")

    coord = Clinician(tg, COORDINATOR)
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "HMN-001 · screened · eligible · TEN" in record
    assert "136 × 10⁶ cells (2 × 10⁶/kg × 68 kg)" in record
    assert "D0 deadline: 23/11/2026 23:59" in record
    assert "SCORTEN: 4/7" in record  # age ≥ 40, BSA > 10 %, heart rate ≥ 120, urea > 10
    assert "Weight: 68 kg" in record

    status = (await coord.command("/status", expect="Screened 1"))["text"]
    assert "HMN-001 · screened · eligible · TEN" in status

    mark = tg.mark()
    changed = await coord.command("/correct HMN-001 age 80 transcription error", expect="→")
    assert "Outcome: eligible → not eligible" in changed["text"]
    notice = await tg.wait_for_message(TEAM_CHAT, contains="HMN-001", after_index=mark)
    assert "80" not in notice.result["text"]  # the team never sees answer values
    back = await coord.command("/correct HMN-001 age 54 wrong line", expect="→")
    assert "Outcome: not eligible → eligible" in back["text"]
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "54 years → 80 years (correction" in record and "reason: transcription error" in record

    menu = await coord.command("/export", expect="Which format")
    labels = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["XLSX (for people)", "CSV", "REDCap", "CDISC ODM", "Delegation log"]
    mark = tg.mark()
    await coord.tap("CSV")
    first = await tg.wait_for_call("sendDocument", after_index=mark, timeout=20)
    assert "CSV for machines" in first.params["caption"]
    mark = tg.mark()
    await coord.tap("XLSX (for people)")
    second = await tg.wait_for_call("sendDocument", after_index=mark, timeout=20)
    assert first.ok and second.ok
    csv_name, csv_bytes = first.files["document"]
    xlsx_name, xlsx_bytes = second.files["document"]
    assert csv_name.startswith("lysyme-screening-log-") and csv_name.endswith(".csv")
    assert xlsx_name == csv_name.replace(".csv", ".xlsx")
    (row,) = csv.DictReader(io.StringIO(csv_bytes.decode("utf-8")))
    assert (row["number"], row["outcome"], row["dose_cells"]) == (
        "HMN-001",
        "eligible",
        "136000000",
    )
    assert row["admission_date"] == "2026-11-20" and row["scorten_score"] == "4"
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes))
    assert book.sheetnames == ["Screenings", "Answers", "Counts", "CONSORT", "Delegation", "about"]
    about = {key.value: value.value for key, value in book["about"].iter_rows(min_row=3)}
    assert (
        len(about["Hash of the last audit row"]) == 64 and about["Audit trail rows"] > 0
    )  # the trail it was read at
    reasons = [
        r[7].value for r in book["Answers"].iter_rows(min_row=2) if r[6].value == "correction"
    ]
    assert reasons == ["transcription error", "wrong line"]

    mark = tg.mark()
    tg.send_text(COORDINATOR, "/stats", language_code="en")
    photo = await tg.wait_for_call("sendPhoto", after_index=mark, timeout=20)
    assert photo.ok
    assert photo.files["photo"][1].startswith(PNG)
    assert "Screened 1 · eligible or pending 1 · injected 0 · target 15" in photo.params["caption"]

    mark = tg.mark()
    refused = await doc.command("/export", expect="does not allow")
    assert "/export" in refused["text"]
    assert not [c for c in tg.calls("sendDocument") if c.index >= mark]
