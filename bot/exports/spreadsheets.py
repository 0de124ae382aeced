"""File renderers for the coordinators: the screening log as CSV and XLSX.

Pure functions: they take plain Python data (no database, no Telegram, no clock) and return
bytes, ready to be sent as a document or a photo, or written by ``lysyme-bot export DIR``.

* :func:`render_csv` — one :class:`Table` as UTF-8 CSV (no BOM), for machines.
* :func:`render_xlsx` — several tables as an Excel workbook, one sheet each, for people.

Cell values
    ``None``, ``str``, ``int``, ``float``, ``bool``, ``datetime.date``, aware
    ``datetime.datetime``; lists and tuples are joined with ``";"``; enums are written as their
    value; anything else as ``str(value)``. A naive ``datetime`` is refused (``ValueError``):
    the bot stores instants as aware datetimes and a naive one here is a bug, not a local time.

Spreadsheet formula injection
    A text cell whose first character is ``=``, ``+``, ``-``, ``@``, tab or carriage return gets
    a leading apostrophe (``"=1+1"`` → ``"'=1+1"``) in both CSV and XLSX, so that a spreadsheet
    never evaluates text that came from a user (e.g. a withdrawal reason). Numbers, booleans and
    dates are never prefixed (``-3`` stays the number ``-3``); the text ``"-3"`` is prefixed.

Heavy imports are lazy: ``openpyxl`` is imported by :func:`render_xlsx`, so importing this
module costs nothing at bot start-up. The charts are bot/views/charts.py's.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import io
import math
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from _typeshed import SizedBuffer, StrPath
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "Table",
    "neutralise_formula",
    "render_csv",
    "render_xlsx",
]

#: First characters that make a spreadsheet treat a text cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Excel: 31 characters at most, none of these, not blank, not starting/ending with an apostrophe,
# unique without regard to case, and "History" is reserved.
_SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Characters that XML 1.0 (hence XLSX) cannot hold: C0 controls but tab/LF/CR, lone surrogates,
# U+FFFE/U+FFFF. They are replaced by U+FFFD rather than failing the whole export.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_XLSX_MAX_TEXT = 32_767  # characters in one Excel cell
_XLSX_MAX_EXACT_INT = 2**53  # Excel stores numbers as doubles: larger ints are written as text
_XLSX_WIDTH_MIN = 8
_XLSX_WIDTH_MAX = 50
# Day first, as the bot writes dates everywhere (a French Excel shows it as jj/mm/aaaa).
_XLSX_DATE_FORMAT = "dd/mm/yyyy"
_XLSX_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
_XLSX_FALLBACK_CREATED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # earliest date a zip entry can carry


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Table:
    """One sheet of the screening log: machine column names, human titles and rows."""

    name: str  # sheet name, e.g. "screenings" / "Dépistages"
    columns: Sequence[str]  # stable machine column names (CSV header)
    titles: Sequence[str]  # human column titles, same length (XLSX header, user's language)
    rows: Sequence[Sequence[object]]  # None, str, int, float, bool, date, aware datetime
    #: XLSX only: a line above the titles (e.g. protocol version and extraction time).
    caption: str | None = None
    #: XLSX only: machine key columns (ids) kept in the file but hidden from the reader.
    hidden: Sequence[str] = ()

    def __post_init__(self) -> None:
        if len(self.titles) != len(self.columns):
            raise ValueError(
                f"table {self.name!r}: {len(self.columns)} columns but {len(self.titles)} titles"
            )
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.name!r}: row {number} has {len(row)} values, "
                    f"expected {len(self.columns)}"
                )


# --------------------------------------------------------------------------- shared


def neutralise_formula(text: str) -> str:
    """Prefix ``text`` with an apostrophe if a spreadsheet could read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _require_aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value.isoformat()} in a report: pass an aware one")
    return value


def _plain_text(value: object) -> str:
    """The text of a non-scalar cell (lists joined with ";"), before neutralisation."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return _require_aware(value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(_plain_text(item) for item in value)
    return str(value)  # str, int, float (repr: shortest round-trip digits), Decimal, …


# --------------------------------------------------------------------------- CSV


def _csv_cell(value: object) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, int | float | decimal.Decimal | dt.date):  # bool: int
        return _plain_text(value)
    return neutralise_formula(_plain_text(value))


def render_csv(table: Table) -> bytes:
    """``table`` as CSV: UTF-8 without BOM, RFC 4180 (``\\r\\n`` line ends, minimal quoting).

    Header: ``table.columns`` (stable machine names). ``None`` → empty field; ``bool`` →
    ``true``/``false``; date → ``YYYY-MM-DD``; aware datetime → ISO 8601 with its own offset
    (``2026-03-29T03:30:00+02:00``); float → ``repr`` (``0.1``, not ``0.1000000001``);
    list/tuple → ``;``-joined. Text cells are neutralised (see :func:`neutralise_formula`).
    Lone surrogates, which UTF-8 cannot encode, become U+FFFD.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # excel dialect: ",", '"', QUOTE_MINIMAL, "\r\n"
    writer.writerow([_csv_cell(column) for column in table.columns])
    writer.writerows([_csv_cell(value) for value in row] for row in table.rows)
    return _SURROGATE.sub("\ufffd", buffer.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- XLSX


def _xlsx_text(text: str) -> str:
    return neutralise_formula(_XML_ILLEGAL.sub("\ufffd", text))[:_XLSX_MAX_TEXT]


#: What an openpyxl cell stores (naive datetimes: local wall time, see _xlsx_value).
XlsxValue = bool | int | float | decimal.Decimal | str | dt.datetime | dt.date | None


def _xlsx_value(value: object, zone: ZoneInfo) -> tuple[XlsxValue, str | None]:
    """The value openpyxl should store and its number format (``None``: General / text)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        if abs(value) > _XLSX_MAX_EXACT_INT:
            return str(value), None
        return value, None
    if isinstance(value, float):
        if not math.isfinite(value):  # Excel has no NaN/inf: a file holding one is "corrupt"
            return repr(value), None
        return value, None
    if isinstance(value, decimal.Decimal):
        return (value, None) if value.is_finite() else (str(value), None)
    if isinstance(value, dt.datetime):
        local = _require_aware(value).astimezone(zone).replace(tzinfo=None)
        return local, _XLSX_DATETIME_FORMAT
    if isinstance(value, dt.date):
        return value, _XLSX_DATE_FORMAT
    return _xlsx_text(_plain_text(value)), None


def _display_width(value: object, number_format: str | None) -> int:
    if value is None:
        return 0
    if number_format is not None:
        return len(number_format)
    if isinstance(value, bool):
        return 5
    if isinstance(value, float):
        return len(f"{value:.10g}")
    return max((len(line) for line in str(value).splitlines()), default=0)


def _sheet_names(names: Sequence[str]) -> list[str]:
    """Valid, unique (case-insensitively) Excel sheet names, in order."""
    taken: set[str] = set()
    result: list[str] = []
    for index, raw in enumerate(names, start=1):
        base = _XML_ILLEGAL.sub("", _SHEET_NAME_FORBIDDEN.sub("_", raw)).strip().strip("'")
        base = base[:_SHEET_NAME_MAX].strip() or f"Sheet{index}"
        if base.casefold() == "history":
            base += "_"
        name, suffix = base, 1
        while name.casefold() in taken:
            suffix += 1
            tail = f" ({suffix})"
            name = base[: _SHEET_NAME_MAX - len(tail)].rstrip() + tail
        taken.add(name.casefold())
        result.append(name)
    return result


def _latest_instant(tables: Sequence[Table]) -> dt.datetime | None:
    instants = [
        value
        for table in tables
        for row in table.rows
        for value in row
        if isinstance(value, dt.datetime) and value.utcoffset() is not None
    ]
    return max(instants, default=None)


def _fill_sheet(sheet: Worksheet, table: Table, zone: ZoneInfo) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    widths = [_display_width(title, None) for title in table.titles]
    bold = Font(bold=True)
    top = 1
    if table.caption:  # a line above the table, left out of the column widths
        cell = sheet.cell(row=1, column=1, value=_xlsx_text(table.caption))
        cell.data_type = "s"
        cell.font = Font(italic=True)
        top = 2
    for column, title in enumerate(table.titles, start=1):
        cell = sheet.cell(row=top, column=column, value=_xlsx_text(str(title)))
        cell.data_type = "s"
        cell.font = bold
    for row_number, row in enumerate(table.rows, start=top + 1):
        for column, raw in enumerate(row, start=1):
            value, number_format = _xlsx_value(raw, zone)
            cell = sheet.cell(row=row_number, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, nor an error code such as "#N/A"
            if number_format is not None:
                cell.number_format = number_format
            widths[column - 1] = max(widths[column - 1], _display_width(value, number_format))
    if not table.columns:
        return
    last = get_column_letter(len(table.columns))
    sheet.freeze_panes = f"A{top + 1}"
    sheet.auto_filter.ref = f"A{top}:{last}{len(table.rows) + top}"
    for column, width in enumerate(widths, start=1):
        # +2 for the filter button and some air.
        fitted = min(_XLSX_WIDTH_MAX, max(_XLSX_WIDTH_MIN, width + 2))
        sheet.column_dimensions[get_column_letter(column)].width = fitted
    for column, name in enumerate(table.columns, start=1):
        if name in table.hidden:  # an id for machines: there, but not shown to a person
            sheet.column_dimensions[get_column_letter(column)].hidden = True


class _FixedTimeZipFile(zipfile.ZipFile):
    """A ZipFile whose entries carry a fixed date, so the same workbook gives the same bytes."""

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: SizedBuffer | str,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=_ZIP_EPOCH)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(
        self,
        filename: StrPath,
        arcname: StrPath | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        # openpyxl writes each worksheet from a temporary file, whose mtime would leak in.
        name = os.fspath(arcname if arcname is not None else os.path.basename(filename))
        self.writestr(name, Path(filename).read_bytes(), compress_type, compresslevel)


def render_xlsx(
    tables: Sequence[Table],
    *,
    timezone: str = "Europe/Paris",
    created: dt.datetime | None = None,
) -> bytes:
    """``tables`` as an Excel workbook (.xlsx), one sheet per table, in order.

    Sheet names are made valid for Excel (31 characters, no ``[]:*?/\\``) and unique. Row 1
    holds the bold ``titles``, frozen, with an auto filter; column widths fit the content
    (8 to 50 characters). Dates are Excel dates shown ``dd/mm/yyyy`` (jj/mm/aaaa in a French
    Excel); aware datetimes are converted to ``timezone`` (the trial's) and written without
    zone (Excel has none), shown ``dd/mm/yyyy hh:mm``; numbers are numbers, booleans TRUE/FALSE, ``None`` an empty cell.
    Text is neutralised as in CSV and always stored as text (never a formula). Non-finite
    floats and integers beyond 2**53 are written as text rather than corrupted.

    Deterministic: the document's created/modified time is ``created`` (aware), else the
    latest datetime in the data, else 2000-01-01; zip entries carry a fixed date.
    """
    if not tables:
        raise ValueError("render_xlsx needs at least one table")
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    zone = ZoneInfo(timezone)
    stamp = created if created is not None else _latest_instant(tables)
    stamp_utc = _require_aware(stamp or _XLSX_FALLBACK_CREATED).astimezone(dt.UTC)
    stamp_utc = stamp_utc.replace(tzinfo=None, microsecond=0)

    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])  # the default empty sheet
    for table, name in zip(tables, _sheet_names([t.name for t in tables]), strict=True):
        _fill_sheet(workbook.create_sheet(title=name), table, zone)
    workbook.active = 0
    workbook.properties.creator = "lysyme-bot"
    workbook.properties.created = stamp_utc
    workbook.properties.modified = stamp_utc

    buffer = io.BytesIO()
    # ExcelWriter is what openpyxl.save_workbook uses, minus its "modified = now".
    archive = _FixedTimeZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(workbook, archive).save()  # closes the archive
    return buffer.getvalue()
