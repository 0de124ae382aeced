"""Tests for bot.exports.spreadsheets: CSV, XLSX and PNG renderers of the screening log and /stats chart."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.exports.spreadsheets import (
    Table,
    neutralise_formula,
    render_csv,
    render_xlsx,
)

PARIS = ZoneInfo("Europe/Paris")

COLUMNS = ("number", "status", "outcome", "bsa", "age", "consent", "admitted", "d0", "reasons")
TITLES = ("N° de dépistage", "Statut", "Résultat", "SCD (%)", "Âge", "Consentement", "Admission")
TITLES += ("J0 (injection)", "Motifs")


def screening_table() -> Table:
    return Table(
        name="Dépistages",
        columns=COLUMNS,
        titles=TITLES,
        rows=[
            (
                "HMN-001",
                "injected",
                "eligible",
                35.5,
                47,
                True,
                dt.date(2026, 1, 14),
                dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC),  # winter: Paris = UTC+1
                [],
            ),
            (
                "HMN-002",
                "screened",
                "not_eligible",
                0.1,
                -3,
                False,
                dt.date(2026, 7, 14),
                dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC),  # summer: Paris = UTC+2
                ["age < 18", "sérologie VIH positive"],
            ),
            (
                "HMN-003",
                "withdrawn",
                None,
                None,
                None,
                None,
                None,
                None,
                '=HYPERLINK("http://evil","clic")',
            ),
        ],
    )


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --------------------------------------------------------------------------- CSV


def test_csv_header_rows_and_encodings() -> None:
    data = render_csv(screening_table())
    assert not data.startswith(b"\xef\xbb\xbf")  # no BOM
    assert data.startswith(b"number,status,")
    assert b"\r\n" in data and data.endswith(b"\r\n")  # RFC 4180 line ends
    header, first, second, third = read_csv(data)
    assert header == list(COLUMNS)
    assert first == [
        "HMN-001",
        "injected",
        "eligible",
        "35.5",
        "47",
        "true",
        "2026-01-14",
        "2026-01-15T12:00:00+00:00",
        "",
    ]
    assert second[3:] == [
        "0.1",
        "-3",  # a number: never prefixed
        "false",
        "2026-07-14",
        "2026-07-15T12:00:00+00:00",
        "age < 18;sérologie VIH positive",
    ]
    assert third == [
        "HMN-003",
        "withdrawn",
        "",
        "",
        "",
        "",
        "",
        "",
        "'" + '=HYPERLINK("http://evil","clic")',
    ]


def test_csv_datetime_keeps_its_own_offset() -> None:
    paris_summer = dt.datetime(2026, 3, 29, 3, 30, tzinfo=PARIS)  # just after the DST change
    paris_winter = dt.datetime(2026, 3, 29, 1, 30, tzinfo=PARIS)
    kolkata = dt.datetime(2026, 5, 1, 9, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))
    table = Table("t", ["a", "b", "c"], ["A", "B", "C"], [[paris_summer, paris_winter, kolkata]])
    assert read_csv(render_csv(table))[1] == [
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T01:30:00+01:00",
        "2026-05-01T09:15:30+05:30",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("a=b", "a=b"),
        ("Œdème — été", "Œdème — été"),
        ("", ""),
    ],
)
def test_csv_formula_injection_is_neutralised(text: str, expected: str) -> None:
    assert neutralise_formula(text) == expected
    table = Table("t", ["x", "n", "d"], ["X", "N", "D"], [[text, -1.5, Decimal("-2.50")]])
    assert read_csv(render_csv(table))[1] == [expected, "-1.5", "-2.50"]


def test_csv_refuses_naive_datetime() -> None:
    table = Table("t", ["x"], ["X"], [[dt.datetime(2026, 1, 1, 8, 0)]])
    with pytest.raises(ValueError, match="naive datetime"):
        render_csv(table)


def test_csv_lone_surrogate_becomes_replacement_character() -> None:
    table = Table("t", ["x"], ["X"], [["a\ud800b"]])
    assert read_csv(render_csv(table))[1] == ["a\ufffdb"]


def test_table_rejects_inconsistent_shapes() -> None:
    with pytest.raises(ValueError, match="titles"):
        Table("t", ["a", "b"], ["A"], [])
    with pytest.raises(ValueError, match="row 2"):
        Table("t", ["a"], ["A"], [["x"], ["x", "y"]])


CELLS = st.one_of(
    st.none(),
    st.text(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)


def expected_csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)
    return neutralise_formula(value)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.tuples(
            st.lists(st.text(), min_size=width, max_size=width),
            st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=6),
        )
    )
)
def test_csv_round_trips_arbitrary_cells(
    header_and_rows: tuple[list[str], list[list[object]]],
) -> None:
    columns, rows = header_and_rows
    table = Table("t", columns, columns, rows)
    back = read_csv(render_csv(table))
    assert back[0] == [neutralise_formula(column) for column in columns]
    assert back[1:] == [[expected_csv_text(value) for value in row] for row in rows]
    for row, read_row in zip(rows, back[1:], strict=True):
        for value, text in zip(row, read_row, strict=True):
            if isinstance(value, str) and text != value:  # only the documented prefix differs
                assert text == "'" + value


# --------------------------------------------------------------------------- XLSX


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_sheets_header_and_types() -> None:
    audit = Table("audit", ["action"], ["Action"], [["created"], ["corrected"]])
    book = load(render_xlsx([screening_table(), audit]))
    assert book.sheetnames == ["Dépistages", "audit"]
    sheet = book["Dépistages"]
    assert [cell.value for cell in sheet[1]] == list(TITLES)
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I4"
    assert sheet.max_row == 4  # header + 3 rows
    assert book["audit"].max_row == 3

    first = [cell for cell in sheet[2]]
    assert first[0].value == "HMN-001"
    assert first[3].value == 35.5 and first[3].data_type == "n"
    assert first[4].value == 47 and isinstance(first[4].value, int)
    assert first[5].value is True
    admitted = first[6]
    assert isinstance(admitted.value, dt.datetime)
    assert admitted.value == dt.datetime(2026, 1, 14)
    assert admitted.number_format == "dd/mm/yyyy"
    assert first[8].value is None  # an empty list
    second = [cell.value for cell in sheet[3]]
    assert second[4] == -3
    assert second[5] is False
    assert second[8] == "age < 18;sérologie VIH positive"
    third = sheet[4]
    assert [cell.value for cell in third[2:8]] == [None] * 6
    assert third[8].value == "'" + '=HYPERLINK("http://evil","clic")'
    assert third[8].data_type == "s"
    for letter in "ABCDEFGHI":
        assert 8 <= sheet.column_dimensions[letter].width <= 50


def test_xlsx_datetimes_are_converted_to_the_trial_time_zone() -> None:
    sheet = load(render_xlsx([screening_table()]))["Dépistages"]
    winter, summer = sheet["H2"], sheet["H3"]
    assert winter.value == dt.datetime(2026, 1, 15, 13, 0)  # 12:00 UTC = 13:00 CET
    assert summer.value == dt.datetime(2026, 7, 15, 14, 0)  # 12:00 UTC = 14:00 CEST
    assert winter.number_format == summer.number_format == "dd/mm/yyyy hh:mm"


def test_xlsx_other_time_zone_and_foreign_offset() -> None:
    instant = dt.datetime(
        2026, 1, 15, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    table = Table("t", ["at"], ["At"], [[instant]])
    assert load(render_xlsx([table]))["t"]["A2"].value == dt.datetime(2026, 1, 15, 13, 0)
    new_york = load(render_xlsx([table], timezone="America/New_York"))["t"]["A2"].value
    assert new_york == dt.datetime(2026, 1, 15, 7, 0)


def test_xlsx_awkward_values_never_break_the_file() -> None:
    row: Sequence[object] = (
        "#N/A",
        "bell\x07 and nul\x00",
        float("nan"),
        2**60,
        "x" * 40_000,
        "+33",
    )
    table = Table("t", list("abcdef"), list("ABCDEF"), [row])
    cells = [cell for cell in load(render_xlsx([table]))["t"][2]]
    assert cells[0].value == "#N/A" and cells[0].data_type == "s"
    assert cells[1].value == "bell\ufffd and nul\ufffd"
    assert cells[2].value == "nan"
    assert cells[3].value == str(2**60)
    assert len(cells[4].value) == 32_767
    assert cells[5].value == "'+33"


def test_xlsx_sheet_names_are_valid_and_unique() -> None:
    long = "Dépistages et motifs de non-inclusion détaillés"
    names = [long, long, "a/b:c?", "History", "SCREENINGS", "screenings", ""]
    tables = [Table(name, ["x"], ["X"], []) for name in names]
    sheetnames = load(render_xlsx(tables)).sheetnames
    assert sheetnames == [
        long[:31],
        "Dépistages et motifs de non (2)",
        "a_b_c_",
        "History_",
        "SCREENINGS",
        "screenings (2)",
        "Sheet7",
    ]
    assert all(len(name) <= 31 for name in sheetnames)


def test_xlsx_is_deterministic() -> None:
    created = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    first = render_xlsx([screening_table()], created=created)
    assert render_xlsx([screening_table()], created=created) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    properties = load(first).properties
    assert properties.created == properties.modified == dt.datetime(2026, 2, 3, 4, 5, 6)
    # Without `created`: the latest instant in the data.
    derived = load(render_xlsx([screening_table()])).properties
    assert derived.modified == dt.datetime(2026, 7, 15, 12, 0)


def test_xlsx_needs_a_table() -> None:
    with pytest.raises(ValueError, match="at least one table"):
        render_xlsx([])


def test_import_is_cheap() -> None:
    code = (
        "import sys, bot.exports.spreadsheets; "
        "assert 'matplotlib' not in sys.modules and 'openpyxl' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
